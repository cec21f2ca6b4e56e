/* xfer.c — see xfer.h. Reads the source with raw, non-converting calls only
 * (lua_next, lua_rawget-free iteration, lua_tolstring on strings alone), so a
 * copy out of a runbook world runs none of its code. */
#include "xfer.h"
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    rb_xfer *x;
    lua_State *from, *to;
    const void *path[RB_XFER_MAX_DEPTH];
} walk;

/* Length of the control sequence at s (1 or 2 bytes), or 0. */
static size_t control_at(const unsigned char *s, size_t left)
{
    if ((*s < 0x20 && *s != '\t' && *s != '\n') || *s == 0x7f) return 1;
    if (*s == 0xc2 && left > 1 && s[1] >= 0x80 && s[1] <= 0x9f) return 2;
    return 0;
}

void rb_xfer_push_clean(lua_State *L, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len && !control_at(u + i, len - i)) i++;
    if (i == len) { lua_pushlstring(L, s, len); return; }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, s, i);
    while (i < len) {
        size_t n = control_at(u + i, len - i);
        if (n) { luaL_addchar(&b, '?'); i += n; }
        else luaL_addchar(&b, s[i++]);
    }
    luaL_pushresult(&b);
}

static int fail(walk *w, const char *msg)
{
    snprintf(w->x->err, sizeof w->x->err, "%s", msg);
    return 0;
}

static int copy(walk *w, int idx, int depth, int raw);

static int key_ok(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    return t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN;
}

static int on_path(walk *w, const void *p, int depth)
{
    for (int i = 0; i < depth; i++)
        if (w->path[i] == p) return 1;
    return 0;
}

static int copy_table(walk *w, int idx, int depth)
{
    lua_State *from = w->from, *to = w->to;
    const void *p = lua_topointer(from, idx);
    if (depth >= RB_XFER_MAX_DEPTH) return fail(w, "value nested too deeply");
    if (on_path(w, p, depth)) return fail(w, "value contains a cycle");
    w->path[depth] = p;
    luaL_checkstack(from, 4, "xfer");
    luaL_checkstack(to, 4, "xfer");
    lua_newtable(to);
    lua_pushnil(from);
    while (lua_next(from, idx)) {
        int k = lua_gettop(from) - 1;
        if (!key_ok(from, k)) { lua_pop(from, 2); lua_pop(to, 1); return fail(w, "table key is not a string, number or boolean"); }
        int raw = depth == 0 && w->x->keep && lua_type(from, k) == LUA_TSTRING &&
                  strcmp(lua_tostring(from, k), w->x->keep) == 0;
        if (!copy(w, k, depth + 1, 0)) { lua_pop(from, 2); lua_pop(to, 1); return 0; }
        if (!copy(w, k + 1, depth + 1, raw)) { lua_pop(from, 2); lua_pop(to, 2); return 0; }
        lua_rawset(to, -3);
        lua_pop(from, 1);
    }
    return 1;
}

static int copy(walk *w, int idx, int depth, int raw)
{
    lua_State *from = w->from, *to = w->to;
    if (++w->x->nodes > RB_XFER_MAX_NODES) return fail(w, "value too large");
    switch (lua_type(from, idx)) {
    case LUA_TNIL: lua_pushnil(to); return 1;
    case LUA_TBOOLEAN: lua_pushboolean(to, lua_toboolean(from, idx)); return 1;
    case LUA_TNUMBER:
        if (lua_isinteger(from, idx)) lua_pushinteger(to, lua_tointeger(from, idx));
        else lua_pushnumber(to, lua_tonumber(from, idx));
        return 1;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(from, idx, &len);
        size_t max = w->x->max_bytes ? w->x->max_bytes : RB_XFER_MAX_BYTES;
        if (len > max - w->x->bytes) return fail(w, "value too large (its strings add up to more than the bound)");
        w->x->bytes += len;
        if (w->x->clean && !raw) rb_xfer_push_clean(to, s, len);
        else lua_pushlstring(to, s, len);
        return 1;
    }
    case LUA_TTABLE: return copy_table(w, lua_absindex(from, idx), depth);
    case LUA_TFUNCTION:
        if (w->x->on_function && w->x->on_function(w->x->ud, from, idx, to)) return 1;
        return fail(w, "functions cannot cross between runbook code and the engine");
    default: {
        char msg[96];
        snprintf(msg, sizeof msg, "a %s cannot cross between runbook code and the engine",
                 lua_typename(from, lua_type(from, idx)));
        return fail(w, msg);
    }
    }
}

int rb_xfer_copy(rb_xfer *x, lua_State *from, int idx, lua_State *to)
{
    walk w = {x, from, to, {0}};
    x->err[0] = 0;
    int top = lua_gettop(to);
    if (copy(&w, lua_absindex(from, idx), 0, 0)) return 1;
    lua_settop(to, top);
    return 0;
}
