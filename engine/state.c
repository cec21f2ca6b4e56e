/* state.c — creates the Lua state the engine runs in (see state.h).
 *
 * Module lookup: a searcher placed before Lua's own finds "rb.*" modules in
 * the binary. A C binding (generated preload table) and an embedded Lua file
 * of the same name combine: the Lua file runs with the C module as its
 * argument and returns the final module (C core, Lua helpers). With
 * RUNBOOK_LUALIB=DIR set, Lua files are read from DIR instead of the binary
 * (development without rebuilding). */
#include "state.h"
#include "errors.h"
#include "embedded.h"
#include "preload.h"
#include "redact.h"
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int luaopen_cjson(lua_State *L);

static const rb_lualib_entry *find_lua(const char *name)
{
    for (const rb_lualib_entry *e = rb_lualib; e->name; e++)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

static lua_CFunction find_c(const char *name)
{
    for (int i = 0; rb_preload[i].name; i++)
        if (strcmp(rb_preload[i].name, name) == 0) return rb_preload[i].open;
    return NULL;
}

/* Loads the Lua part of module name onto the stack (from RUNBOOK_LUALIB or
 * the binary); returns 0 if there is none, raises on a syntax error. */
static int load_lua_part(lua_State *L, const char *name)
{
    const rb_lualib_entry *e = find_lua(name);
    const char *dir = getenv("RUNBOOK_LUALIB");
    if (!e) return 0;
    if (dir && *dir) {
        char path[4096];
        const char *rel = e->chunk + 1 + strlen("lualib/");
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        if (luaL_loadfilex(L, path, "t") != LUA_OK) lua_error(L);
        return 1;
    }
    if (luaL_loadbufferx(L, e->src, (size_t)e->len, e->chunk, "t") != LUA_OK) lua_error(L);
    return 1;
}

/* loader(name): C part first, then the Lua part with the C module as argument. */
static int embedded_loader(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_CFunction open = find_c(name);
    lua_settop(L, 1);
    if (open) {
        lua_pushcfunction(L, open);
        lua_pushstring(L, name);
        lua_call(L, 1, 1);                 /* name, cmod */
    }
    if (load_lua_part(L, name)) {          /* name, [cmod], chunk */
        lua_pushvalue(L, open ? -2 : 1);
        lua_call(L, 1, 1);
    }
    return 1;
}

static int embedded_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!find_c(name) && !find_lua(name)) {
        lua_pushfstring(L, "no module '%s' in the runbook binary", name);
        return 1;
    }
    lua_pushcfunction(L, embedded_loader);
    lua_pushstring(L, name);
    return 2;
}

static void install_searcher(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    int n = (int)luaL_len(L, -1);
    for (int i = n; i >= 2; i--) {          /* shift 2..n up by one */
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, embedded_searcher);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 1);
    luaL_getsubtable(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pop(L, 2);
}

lua_State *rb_state_new(void)
{
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    luaL_openlibs(L);
    rb_error_init(L);
    install_searcher(L);
    return L;
}

/* Message handler: __tostring of error objects, redaction, traceback. */
static int msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
        else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    size_t len, rlen;
    const char *t = lua_tolstring(L, -1, &len);
    char *r = rb_redact(t, len, &rlen);
    if (r) { lua_pushlstring(L, r, rlen); free(r); }
    return 1;
}

int rb_state_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nresults, base);
    if (rc != LUA_OK) {
        fprintf(stderr, "runbook: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_remove(L, base);
    return rc;
}
