/* errors.c — operational error values (see errors.h). The message and string
 * fields pass through the redactor, so an error can be printed or audited
 * wherever it goes. Messages are kept whole: a long server message (libpq's
 * include the connection attempt for every address) is not cut. */
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

static void push_metatable(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &error_mt_key) != LUA_TNIL) return;
    lua_pop(L, 1);
    rb_error_init(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &error_mt_key);
}

static void push_redacted(lua_State *L, const char *s, size_t len)
{
    size_t n;
    char *r = rb_redact(s, len, &n);
    if (r) { lua_pushlstring(L, r, n); free(r); }
    else lua_pushliteral(L, RB_REDACTED);
}

void rb_error_setstr(lua_State *L, int idx, const char *field, const char *value)
{
    idx = lua_absindex(L, idx);
    if (!value) return;
    push_redacted(L, value, strlen(value));
    lua_setfield(L, idx, field);
}

/* Pushes {kind = kind, message = redacted msg} with the metatable. */
static void push_error(lua_State *L, const char *kind, const char *msg, size_t len)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    push_redacted(L, msg, len);
    lua_setfield(L, -2, "message");
    push_metatable(L);
    lua_setmetatable(L, -2);
}

/* Formats into a stack buffer, or into a GC-owned userdata when the text is
 * longer (so a raise while pushing cannot leak it). */
static void vpush(lua_State *L, const char *kind, const char *fmt, va_list ap)
{
    char small[1024];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof small) {
        va_end(again);
        push_error(L, kind, small, (size_t)n);
        return;
    }
    char *big = lua_newuserdatauv(L, (size_t)n + 1, 0);
    vsnprintf(big, (size_t)n + 1, fmt, again);
    va_end(again);
    push_error(L, kind, big, (size_t)n);
    lua_remove(L, -2);
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

static int is_kind(const char *s, size_t len)
{
    if (len == 0 || len > 32) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (i > 0 && s[i] >= '0' && s[i] <= '9'))) return 0;
    return 1;
}

int rb_error_new(lua_State *L)
{
    size_t klen, mlen;
    const char *kind = luaL_checklstring(L, 1, &klen);
    const char *msg = luaL_checklstring(L, 2, &mlen);
    luaL_argcheck(L, is_kind(kind, klen), 1, "kind must be a lower-case word such as \"config\" or \"timeout\"");
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    push_error(L, kind, msg, mlen);
    if (lua_isnoneornil(L, 3)) return 1;
    int err = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 3)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (k && (strcmp(k, "kind") == 0 || strcmp(k, "message") == 0)) { lua_pop(L, 1); continue; }
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t vlen;
            const char *v = lua_tolstring(L, -1, &vlen);
            push_redacted(L, v, vlen);
            lua_replace(L, -2);
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, err);
    }
    return 1;
}
