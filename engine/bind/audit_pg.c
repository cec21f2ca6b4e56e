/* bind/audit_pg.c — rb._audit_pg: `runbook audit show postgres://...` reads
 * the chain's lines from the PostgreSQL sink (audit_pg.h). Engine-private.
 *   lines(url) -> { line, ... } in seq order | nil, err
 * (verify goes through rb._audit.verify, which dispatches on the URL.) */
#include "audit_pg.h"
#include <lauxlib.h>

struct sink { lua_State *L; lua_Integer n; };

static int add_line(void *ctx, const char *line, size_t len)
{
    struct sink *s = ctx;
    lua_pushlstring(s->L, line, len);
    lua_rawseti(s->L, -2, ++s->n);
    return 0;
}

static int pg_lines(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    if (!rb_audit_pg_url(url)) return luaL_argerror(L, 1, "expected a postgres:// or postgresql:// URL");
    char err[512];
    lua_newtable(L);
    struct sink s = { L, 0 };
    if (rb_audit_pg_dump(url, add_line, &s, err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

static const luaL_Reg auditpglib[] = { {"lines", pg_lines}, {NULL, NULL} };

int luaopen_rb__audit_pg(lua_State *L)
{
    luaL_newlib(L, auditpglib);
    return 1;
}
