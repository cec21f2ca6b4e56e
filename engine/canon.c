/* canon.c — canonical JSON of Lua values (see canon.h). Hand-written rather
 * than cjson because cjson neither sorts keys nor tells an array from a map
 * the way the plan matcher needs; two equal argument tables must give the same
 * bytes whatever their insertion order. Output goes to a table of pieces
 * (concatenated at the end) so the Lua stack stays balanced and nothing leaks
 * if a __tostring raises. */
#include "canon.h"
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

typedef struct { lua_State *L; int tbl; lua_Integer n; } sink;

static void add(sink *b, const char *s, size_t len)
{
    lua_pushlstring(b->L, s, len);
    lua_rawseti(b->L, b->tbl, ++b->n);
}
#define addstr(b, s) add((b), (s), strlen(s))

static void canon_string(sink *b, const char *s, size_t len)
{
    luaL_Buffer lb;
    luaL_buffinit(b->L, &lb);
    luaL_addchar(&lb, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') { luaL_addchar(&lb, '\\'); luaL_addchar(&lb, (char)c); }
        else if (c == '/') luaL_addstring(&lb, "\\/");
        else if (c == '\n') luaL_addstring(&lb, "\\n");
        else if (c == '\t') luaL_addstring(&lb, "\\t");
        else if (c == '\r') luaL_addstring(&lb, "\\r");
        else if (c < 0x20 || c == 0x7f) { snprintf(esc, sizeof esc, "\\u%04x", c); luaL_addstring(&lb, esc); }
        else luaL_addchar(&lb, (char)c);
    }
    luaL_addchar(&lb, '"');
    luaL_pushresult(&lb);
    lua_rawseti(b->L, b->tbl, ++b->n);
}

static int is_array(lua_State *L, int idx, lua_Integer *n)
{
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) { lua_pop(L, 1); return 0; }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max) max = k;
        count++;
    }
    *n = max;
    return count == max;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canon(lua_State *L, int idx, sink *b, int depth);

/* Keys are collected as strings (non-string keys via tostring) into map
 * (string -> original key), which anchors them; the pointer array to sort is a
 * userdata so nothing leaks if a __tostring raises. */
static void canon_object(lua_State *L, int idx, sink *b, int depth)
{
    size_t n = 0;
    lua_newtable(L);
    int map = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = luaL_tolstring(L, -1, NULL);
        lua_pushvalue(L, -2);
        lua_setfield(L, map, k);
        lua_pop(L, 1);
        n++;
    }
    const char **keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof *keys, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, map)) {
        lua_pop(L, 1);
        if (i < n) keys[i++] = lua_tostring(L, -1);
    }
    qsort(keys, i, sizeof *keys, cmp_keys);
    addstr(b, "{");
    for (size_t j = 0; j < i; j++) {
        if (j) addstr(b, ",");
        canon_string(b, keys[j], strlen(keys[j]));
        addstr(b, ":");
        lua_getfield(L, map, keys[j]);
        lua_gettable(L, idx);
        canon(L, lua_gettop(L), b, depth + 1);
        lua_pop(L, 1);
    }
    addstr(b, "}");
    lua_pop(L, 2);
}

static void canon_table(lua_State *L, int idx, sink *b, int depth)
{
    lua_Integer n;
    if (depth > MAX_DEPTH) { addstr(b, "\"<too deep>\""); return; }
    if (!is_array(L, idx, &n)) { canon_object(L, idx, b, depth); return; }
    addstr(b, "[");
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1) addstr(b, ",");
        lua_rawgeti(L, idx, i);
        canon(L, lua_gettop(L), b, depth + 1);
        lua_pop(L, 1);
    }
    addstr(b, "]");
}

static void canon(lua_State *L, int idx, sink *b, int depth)
{
    char num[64];
    size_t len;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: addstr(b, "null"); break;
    case LUA_TBOOLEAN: addstr(b, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
        else {
            double d = lua_tonumber(L, idx);
            if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308) snprintf(num, sizeof num, "null");
            else snprintf(num, sizeof num, "%.17g", d);
        }
        addstr(b, num);
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        canon_string(b, s, len);
        break;
    case LUA_TTABLE: canon_table(L, idx, b, depth); break;
    default:
        snprintf(num, sizeof num, "\"<%s>\"", luaL_typename(L, idx));
        addstr(b, num);
    }
}

void rb_canon_push(lua_State *L, int idx)
{
    sink b;
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    b.L = L; b.tbl = lua_gettop(L); b.n = 0;
    canon(L, idx, &b, 0);
    luaL_Buffer lb;
    luaL_buffinit(L, &lb);
    for (lua_Integer i = 1; i <= b.n; i++) {
        lua_rawgeti(L, b.tbl, i);
        luaL_addvalue(&lb);
    }
    luaL_pushresult(&lb);
    lua_remove(L, b.tbl);
}
