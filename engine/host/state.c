/* state.c — creates the Lua state the engine runs in (see state.h).
 *
 * Module lookup: a searcher placed before Lua's own finds "rb.*" modules in
 * the binary. Modules of the engine library (engine.h) are returned as
 * proxies: the engine is loaded, the C module opened and its Lua part (an
 * embedded lualib file of the same name, run with the C module as argument)
 * applied only when a field is first used, so reading runbooks never loads
 * libcurl or libpq. While runbooks are being loaded (rb._core.loading(true))
 * touching a binding raises: loading does no I/O. With RUNBOOK_LUALIB=DIR,
 * Lua files are read from DIR instead of the binary (development). */
#include "state.h"
#include "embedded.h"
#include "engine.h"
#include "corelib.h"
#include "world.h"
#include "world_tag.h"
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int luaopen_cjson(lua_State *L);

static char real_modules_key;
static char engine_init_key;

static const rb_lualib_entry *find_lua(const char *name)
{
    for (const rb_lualib_entry *e = rb_lualib; e->name; e++)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

static int has_c(const char *name)
{
    for (int i = 0; rb_module_names[i]; i++)
        if (strcmp(rb_module_names[i], name) == 0) return 1;
    return 0;
}

/* Loads the Lua part of module name onto the stack; returns 0 if none. */
static int load_lua_part(lua_State *L, const char *name)
{
    const rb_lualib_entry *e = find_lua(name);
    const char *dir = getenv("RUNBOOK_LUALIB");
    if (!e) return 0;
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->chunk + 1 + strlen("lualib/"));
        if (luaL_loadfilex(L, path, "t") != LUA_OK) lua_error(L);
        return 1;
    }
    if (luaL_loadbufferx(L, e->src, (size_t)e->len, e->chunk, "b") != LUA_OK) lua_error(L);
    return 1;
}

static const rb_engine_entry *engine(lua_State *L)
{
    char err[512];
    const rb_engine_entry *en = rb_engine_get(err, sizeof err);
    if (!en) luaL_error(L, "%s", err);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &engine_init_key) == LUA_TNIL) {   /* once per state */
        en->init(L);
        lua_pushboolean(L, 1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &engine_init_key);
    }
    lua_pop(L, 1);
    return en;
}

/* Opens the real module name (C part, then Lua part); pushes it. */
static void open_real(lua_State *L, const char *name)
{
    const rb_engine_entry *en = engine(L);
    lua_CFunction open = NULL;
    for (int i = 0; en->modules[i].name; i++)
        if (strcmp(en->modules[i].name, name) == 0) open = en->modules[i].open;
    if (!open) luaL_error(L, "engine has no module '%s'", name);
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (load_lua_part(L, name)) {
        lua_pushvalue(L, -2);
        lua_call(L, 1, 1);
        lua_remove(L, -2);
    }
}

/* proxy.__index(t, k): resolve the module once, copy its fields into t. */
static int proxy_index(lua_State *L)
{
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__module");
    const char *name = lua_tostring(L, -1);
    if (rb_core_loading() && name[3] != '_') {   /* no position: the sandbox adds the runbook's */
        lua_pushfstring(L, "%s.%s used while loading a runbook: bindings may only be called inside steps",
                        name, luaL_tolstring(L, 2, NULL));
        return lua_error(L);
    }
    open_real(L, name);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 1);
    }
    lua_pushnil(L);
    lua_setmetatable(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &real_modules_key);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    return 1;
}

static int proxy_pairs(lua_State *L)
{
    lua_getfield(L, 1, "__resolve__");     /* any index resolves the proxy */
    lua_pop(L, 1);
    lua_getglobal(L, "next");
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static void push_proxy(lua_State *L, const char *name)
{
    lua_newtable(L);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__module");
    lua_pushcfunction(L, proxy_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, proxy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_setmetatable(L, -2);
}

static int embedded_loader(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (has_c(name)) { push_proxy(L, name); return 1; }
    load_lua_part(L, name);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    return 1;
}

static int embedded_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (rb_world_tag_of(L) && !rb_world_serves(name)) {
        lua_pushfstring(L, "module '%s' is not available in a runbook world", name);
        return 1;
    }
    if (!has_c(name) && !find_lua(name)) {
        lua_pushfstring(L, "no module '%s' in the runbook binary", name);
        return 1;
    }
    lua_pushcfunction(L, embedded_loader);
    lua_pushstring(L, name);
    return 2;
}

/* The embedded searcher goes second, after package.preload. The engine's own
 * state keeps Lua's file searchers after it (`runbook lua` scripts, busted);
 * a runbook world has none: it loads only what the binary embeds and serves. */
static void install_searcher(lua_State *L, int keep_files)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    int n = keep_files ? (int)luaL_len(L, -1) : 1;
    for (int i = (int)luaL_len(L, -1); i > n; i--) {
        lua_pushnil(L);
        lua_rawseti(L, -2, i);
    }
    for (int i = n; i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, embedded_searcher);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 1);
    luaL_getsubtable(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, rb_open_base);
    lua_setfield(L, -2, "rb._base");
    if (keep_files) {
        lua_pushcfunction(L, rb_open_core);
        lua_setfield(L, -2, "rb._core");
        lua_pushcfunction(L, rb_open_world);
        lua_setfield(L, -2, "rb._world");
    }
    lua_pop(L, 2);
}

lua_State *rb_state_new(void)
{
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    memset(lua_getextraspace(L), 0, LUA_EXTRASPACE);   /* not a runbook world */
    luaL_openlibs(L);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &real_modules_key);
    install_searcher(L, 1);
    return L;
}

/* Sets t[name] = nil for each name; t at the top of the stack. */
static void drop_fields(lua_State *L, const char *const *names)
{
    for (; *names; names++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *names);
    }
}

/* A runbook world's state: Lua's libraries minus io and everything that
 * reaches files or processes, and a module searcher restricted to what
 * world.c serves. Its extra space points at tag (world_tag.h). */
lua_State *rb_world_state_new(rb_world_tag *tag, lua_Alloc alloc, void *ud)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base}, {LUA_LOADLIBNAME, luaopen_package}, {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_OSLIBNAME, luaopen_os}, {LUA_DBLIBNAME, luaopen_debug}, {NULL, NULL}
    };
    static const char *const base_drop[] = {"dofile", "loadfile", NULL};
    static const char *const os_drop[] = {"execute", "exit", "remove", "rename", "tmpname", "setlocale", NULL};
    static const char *const pkg_drop[] = {"loadlib", "searchpath", NULL};
    lua_State *L = lua_newstate(alloc, ud);
    if (!L) return NULL;
    *(rb_world_tag **)lua_getextraspace(L) = tag;
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    drop_fields(L, base_drop);
    lua_pop(L, 1);
    lua_getglobal(L, "os");
    drop_fields(L, os_drop);
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    drop_fields(L, pkg_drop);
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &real_modules_key);
    install_searcher(L, 0);
    return L;
}

/* Loads the embedded Lua file of module name as a chunk (not run); 0 if none. */
int rb_state_load_embedded(lua_State *L, const char *name)
{
    return load_lua_part(L, name);
}

/* An operational error: a table with a kind other than "error" (a refused
 * audit file, a configuration problem). Its message is the whole story; a
 * traceback only with RUNBOOK_DEBUG. */
static int operational(lua_State *L, int idx)
{
    int yes = 0;
    if (lua_type(L, idx) == LUA_TTABLE && lua_getfield(L, idx, "kind") == LUA_TSTRING)
        yes = strcmp(lua_tostring(L, -1), "error") != 0 && !getenv("RUNBOOK_DEBUG");
    if (lua_type(L, idx) == LUA_TTABLE) lua_pop(L, 1);
    return yes;
}

/* Message handler: __tostring of error objects, traceback, redaction. */
static int msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    int plain = operational(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
        else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    if (plain) lua_pushstring(L, msg);
    else luaL_traceback(L, L, msg, 1);
    if (rb_engine_loaded()) {
        char err[8];
        size_t len, rlen;
        const char *t = lua_tolstring(L, -1, &len);
        char *r = rb_engine_get(err, sizeof err)->redact(t, len, &rlen);
        if (r) { lua_pushlstring(L, r, rlen); free(r); }
    }
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
