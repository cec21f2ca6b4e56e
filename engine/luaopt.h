/* luaopt.h — reading a binding's options table, the same way in every
 * binding. Strings returned point into the table, which keeps them alive for
 * as long as the caller holds it. A present field of the wrong type raises
 * (misuse) with "bad option 'NAME' to 'FUNC' (...)", an absent one gives the
 * default. t == 0 means "no options table": every field takes its default. */
#ifndef RB_LUAOPT_H
#define RB_LUAOPT_H
#include <lua.h>

/* The longest duration any timeout option accepts: one day. */
#define RB_OPT_MAX_SECONDS 86400.0

const char *rb_opt_string(lua_State *L, int t, const char *field);
lua_Number rb_opt_number(lua_State *L, int t, const char *field, lua_Number def);

/* A duration in seconds: a number in (0, RB_OPT_MAX_SECONDS]. Every timeout
 * option of every binding is read with this; fname names the function in
 * the message ("connect", "query", "client"). */
double rb_opt_seconds(lua_State *L, int t, const char *field, double def, const char *fname);
#endif
