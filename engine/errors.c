/* errors.c — operational error values (see errors.h). The message and string
 * fields pass through the redactor, so an error can be printed or audited
 * wherever it goes. */
#include "errors.h"
#include "redact.h"
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char error_mt_key;

static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "kind");
    lua_getfield(L, 1, "message");
    lua_pushfstring(L, "%s error: %s", luaL_optstring(L, -2, "?"), luaL_optstring(L, -1, "?"));
    return 1;
}

void rb_error_init(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "rb.Error");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &error_mt_key);
}

static void push_redacted(lua_State *L, const char *s)
{
    size_t n;
    char *r = rb_redact(s, strlen(s), &n);
    if (r) { lua_pushlstring(L, r, n); free(r); }
    else lua_pushliteral(L, RB_REDACTED);
}

void rb_error_setstr(lua_State *L, int idx, const char *field, const char *value)
{
    idx = lua_absindex(L, idx);
    if (!value) return;
    push_redacted(L, value);
    lua_setfield(L, idx, field);
}

static void vpush(lua_State *L, const char *kind, const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    rb_error_setstr(L, -1, "message", buf);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &error_mt_key);
    lua_setmetatable(L, -2);
}

void rb_error_push(lua_State *L, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vpush(L, kind, fmt, ap);
    va_end(ap);
}

int rb_error_return(lua_State *L, const char *kind, const char *fmt, ...)
{
    va_list ap;
    lua_pushnil(L);
    va_start(ap, fmt);
    vpush(L, kind, fmt, ap);
    va_end(ap);
    return 2;
}
