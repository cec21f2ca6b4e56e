/* luaopt.h — reading a binding's options table. Strings returned point into
 * the table, which keeps them alive for as long as the caller holds it. A
 * present field of the wrong type raises (misuse), an absent one gives the
 * default. */
#ifndef RB_LUAOPT_H
#define RB_LUAOPT_H
#include <lua.h>

const char *rb_opt_string(lua_State *L, int t, const char *field);
lua_Number rb_opt_number(lua_State *L, int t, const char *field, lua_Number def);
#endif
