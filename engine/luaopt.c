/* luaopt.c — see luaopt.h. */
#include "luaopt.h"
#include <lauxlib.h>

const char *rb_opt_string(lua_State *L, int t, const char *field)
{
    if (t == 0) return NULL;
    lua_getfield(L, t, field);
    const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1);   /* the string stays reachable from t */
    return s;
}

lua_Number rb_opt_number(lua_State *L, int t, const char *field, lua_Number def)
{
    if (t == 0) return def;
    lua_getfield(L, t, field);
    lua_Number n = luaL_optnumber(L, -1, def);
    lua_pop(L, 1);
    return n;
}

double rb_opt_seconds(lua_State *L, int t, const char *field, double def, const char *fname)
{
    if (t == 0) return def;
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return def; }
    int isnum = 0;
    double v = (double)lua_tonumberx(L, -1, &isnum);
    if (lua_type(L, -1) != LUA_TNUMBER || !isnum || !(v > 0) || v > RB_OPT_MAX_SECONDS)
        luaL_error(L, "bad option '%s' to '%s' (seconds expected: a number above 0 and at most %d, got %s)",
                   field, fname, (int)RB_OPT_MAX_SECONDS, lua_type(L, -1) == LUA_TNUMBER
                   ? lua_tostring(L, -1) : luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}
