/* bind/audit.c — rb._audit: the runner's access to the audit chain (audit.h):
 * append(path, members_json), verify(path), default_path(), timestamp(),
 * and open_private(path, "w" | "a") for the other files the engine writes
 * (report, run directory): a Lua file handle opened by core/safefile.h. */
#include "audit.h"
#include "core/safefile.h"
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <unistd.h>

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

static int stream_close(lua_State *L)
{
    luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    int ok = fclose(p->f) == 0;
    return luaL_fileresult(L, ok, NULL);
}

/* open_private(path, "w" | "a") -> file | nil, err: a real io file handle
 * (write, close, __gc), born closed so a failure halfway leaves nothing open. */
static int audit_open_private(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    static const char *const modes[] = {"w", "a", NULL};
    int append = luaL_checkoption(L, 2, "w", modes);
    if (luaL_getmetatable(L, LUA_FILEHANDLE) != LUA_TTABLE)
        return luaL_error(L, "open_private: the io library is not loaded");
    lua_pop(L, 1);
    luaL_Stream *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->f = NULL;
    p->closef = NULL;
    luaL_setmetatable(L, LUA_FILEHANDLE);
    char err[512];
    int fd = rb_safefile_open(path, append ? RB_SAFE_APPEND : RB_SAFE_TRUNCATE, 0, "file", err, sizeof err);
    if (fd < 0) { luaL_pushfail(L); lua_pushstring(L, err); return 2; }
    p->f = fdopen(fd, append ? "a" : "w");
    if (!p->f) {
        int e = errno;
        close(fd);
        return luaL_fileresult(L, (errno = e, 0), path);
    }
    p->closef = stream_close;
    return 1;
}

static const luaL_Reg auditlib[] = {
    {"append", audit_append}, {"verify", audit_verify},
    {"default_path", audit_default_path}, {"timestamp", audit_timestamp},
    {"open_private", audit_open_private}, {NULL, NULL}
};

int luaopen_rb__audit(lua_State *L)
{
    luaL_newlib(L, auditlib);
    return 1;
}
