/* bind/audit.c — rb._audit: the runner's access to the audit chain (audit.h):
 * append(path, members_json), verify(path), default_path(), timestamp(). */
#include "audit.h"
#include <lauxlib.h>

static int audit_append(lua_State *L)
{
    size_t len;
    const char *path = luaL_checkstring(L, 1);
    const char *m = luaL_checklstring(L, 2, &len);
    char err[512];
    if (rb_audit_append(path, m, len, lua_toboolean(L, 3), err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* verify(path) -> true, nlines | false, bad_line, why | nil, why */
static int audit_verify(lua_State *L)
{
    long n = 0, bad = 0;
    char why[512];
    int rc = rb_audit_verify(luaL_checkstring(L, 1), &n, &bad, why, sizeof why);
    if (rc < 0) { luaL_pushfail(L); lua_pushstring(L, why); return 2; }
    lua_pushboolean(L, rc == 0);
    if (rc == 0) { lua_pushinteger(L, n); return 2; }
    lua_pushinteger(L, bad);
    lua_pushstring(L, why);
    return 3;
}

static int audit_default_path(lua_State *L)
{
    char p[4096];
    rb_audit_default_path(p, sizeof p);
    lua_pushstring(L, p);
    return 1;
}

static int audit_timestamp(lua_State *L)
{
    char ts[32];
    rb_audit_timestamp(ts);
    lua_pushstring(L, ts);
    return 1;
}

static const luaL_Reg auditlib[] = {
    {"append", audit_append}, {"verify", audit_verify},
    {"default_path", audit_default_path}, {"timestamp", audit_timestamp}, {NULL, NULL}
};

int luaopen_rb__audit(lua_State *L)
{
    luaL_newlib(L, auditlib);
    return 1;
}
