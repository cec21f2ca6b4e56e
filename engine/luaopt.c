/* luaopt.c — see luaopt.h. */
#include "luaopt.h"
#include <lauxlib.h>

const char *rb_opt_string(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1);   /* the string stays reachable from t */
    return s;
}

lua_Number rb_opt_number(lua_State *L, int t, const char *field, lua_Number def)
{
    lua_getfield(L, t, field);
    lua_Number n = luaL_optnumber(L, -1, def);
    lua_pop(L, 1);
    return n;
}
