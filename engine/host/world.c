/* world.c — rb._world: the lua_State runbook code runs in.
 *
 * Every book (or the loose section files of one directory) is loaded into a world of its own: a
 * separate lua_State (state.c: no io, no files, no processes, modules only
 * from the binary and only those in rb_public_modules plus what they are
 * built on), whose globals are the sandbox of lualib/rb/sandbox.lua. Nothing
 * but plain data crosses between a world and the engine (xfer.c); functions
 * of a world are known to the engine only as integer handles. The engine
 * (runner, prompt, loader, audit, CLI) lives in another state that runbook
 * code cannot name, so it cannot reach, inspect or change it.
 *
 * The gate reads a world's mode from its tag (world_tag.h). Only w:call sets
 * it, for the length of one step call, from the engine's argument; at every
 * other moment (loading, between steps, finalizers at close) it is
 * RB_MODE_LOAD and every binding call is refused.
 *
 * Engine side (host state):
 *   local w = world.new{root = DIR, lib = true|false}
 *   w:load(path)  -> value, kind | nil, err      kind: "section", "book" or a type name;
 *                    the file's value copied out, functions replaced by handles
 *   w:call(handle, mode, ctx, sink) -> true | false, err
 *                    runs a handle with a ctx built from the table ctx (data) whose
 *                    methods check/expect/note/log/chart/threshold call sink's
 *                    functions in the engine; mode: investigate, plan or apply
 *   w:close() */
#include "world.h"
#include "gate.h"
#include "state.h"
#include "strmatch.h"
#include "world_tag.h"
#include "xfer.h"
#include "engine.h"
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const rb_public_modules[] = {
    "rb", "rb.http", "rb.json", "rb.yaml", "rb.prom", "rb.net", "rb.pg", "rb.redis", "rb.k8s",
    "rb.pprof", "rb.thresholds", "rb.level", NULL
};
static const char *const built_on[] = {
    "cjson", "rb._base", "rb._secret", "rb._before",
    /* rb.k8s's internal modules (lualib/rb/k8s_*.lua) */
    "rb.k8s_util", "rb.k8s_call", "rb.k8s_discovery", "rb.k8s_read", "rb.k8s_describe", "rb.k8s_logs",
    "rb.k8s_fields", "rb.k8s_write", "rb.k8s_edit", "rb.k8s_set", "rb.k8s_rollout", "rb.k8s_history",
    "rb.k8s_diff", "rb.k8s_table", NULL
};
static const char *const ctx_methods[] = {"check", "expect", "note", "log", "chart", "attach", "threshold", NULL};

#define WORLD_MT "rb.World"
#define MAX_FILE (4u << 20)          /* a runbook file or book lib module */
#define MAX_READ (16u << 20)         /* ctx:read_file */
#define LOAD_SECONDS 2.0             /* a file that runs longer while loading is refused */
#define WORLD_MEM_DEFAULT (1024ull << 20)
#define STEP_BUDGET ((size_t)256 << 20)  /* what one step may hand the engine through ctx */
#define NODE_COST 256                    /* engine bytes counted per value a step hands over (a log line costs ~300 there) */
#define HOOK_COUNT 10000                 /* instructions between two looks at the clock and signals */

lua_State *volatile rb_world_active;

typedef struct {
    rb_world_tag tag;        /* first: the world's extra space points here */
    lua_State *W;
    lua_State *H;            /* the engine's state, during a call */
    int sink;                /* index of the sink table in H during a call, else 0 */
    char root[PATH_MAX];     /* real path of the book's (or section's) directory */
    int lib;                 /* root/lib holds the book's modules */
    size_t mem, mem_max;     /* bytes the world holds, and its bound */
    int bounded;             /* runbook code is running: mem_max applies */
    size_t crossed;          /* what the running step has handed the engine (STEP_BUDGET) */
    double deadline;         /* while loading: when to stop the file */
} world;

static char env_key, handles_key, section_mt_key, book_mt_key, sources_key;

static int in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0) return 1;
    return 0;
}

int rb_world_serves(const char *name)
{
    return in_list(rb_public_modules, name) || in_list(built_on, name);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A world's memory is bounded while runbook code runs (inside the engine's
 * protected calls, where running out is an error of the file or step): a
 * runaway table cannot take the engine down. The engine's own bookkeeping in
 * the world between those calls (handles, ctx, copies) is not refused: a
 * memory error there would be raised outside any protected call and abort
 * the process, which is what a hostile file that filled its world up to the
 * bound would want. */
static void *world_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    world *w = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        w->mem -= old;
        return NULL;
    }
    if (w->bounded && nsize > old && w->mem + (nsize - old) > w->mem_max) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) w->mem = w->mem - old + nsize;
    return p;
}

/* Redacts text through the engine once it is loaded (secrets are only
 * registered by the engine); pushes the result onto L. */
static void push_redacted(lua_State *L, const char *s, size_t len)
{
    char err[8];
    if (rb_engine_loaded()) {
        size_t rlen;
        char *r = rb_engine_get(err, sizeof err)->redact(s, len, &rlen);
        if (r) { lua_pushlstring(L, r, rlen); free(r); return; }
    }
    lua_pushlstring(L, s, len);
}

/* ------------------------------------------------------------------ files */

/* Reads path whole (at most max bytes); pushes it onto L, or returns 0 with
 * a message pushed. */
static int read_whole(lua_State *L, const char *path, size_t max)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { lua_pushfstring(L, "%s: %s", path, strerror(errno)); return 0; }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {   /* a FIFO or device would block or never end */
        close(fd);
        lua_pushfstring(L, "%s: not a regular file", path);
        return 0;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); lua_pushfstring(L, "%s: %s", path, strerror(errno)); return 0; }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t total = 0, n;
    char chunk[8192];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        total += n;
        if (total > max) {
            fclose(f);
            luaL_pushresult(&b);
            lua_pop(L, 1);
            lua_pushfstring(L, "%s: larger than %d MiB", path, (int)(max >> 20));
            return 0;
        }
        luaL_addlstring(&b, chunk, n);
    }
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

/* Resolves rel under w->root; 0 with a message pushed when it leaves it. */
static int under_root(lua_State *L, world *w, const char *rel, char out[PATH_MAX])
{
    char joined[PATH_MAX * 2];
    if (rel[0] == '/') { lua_pushfstring(L, "'%s': give a path inside the book's directory", rel); return 0; }
    snprintf(joined, sizeof joined, "%s/%s", w->root, rel);
    if (!realpath(joined, out)) { lua_pushfstring(L, "%s: %s", rel, strerror(errno)); return 0; }
    size_t n = strlen(w->root);
    if (strncmp(out, w->root, n) != 0 || (out[n] != '/' && out[n] != 0)) {
        lua_pushfstring(L, "'%s' is outside the book's directory", rel);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------- world side */

static world *world_of(lua_State *W)
{
    return (world *)rb_world_tag_of(W);
}

/* Pushes a fresh sandbox environment (sandbox.lua's env()). */
static void push_env(lua_State *W)
{
    lua_rawgetp(W, LUA_REGISTRYINDEX, &env_key);
    lua_call(W, 0, 1);
}

/* Loads text as a chunk named @path in a fresh sandbox environment. */
static int load_sandboxed(lua_State *W, const char *text, size_t len, const char *path)
{
    lua_pushfstring(W, "@%s", path);
    int rc = luaL_loadbufferx(W, text, len, lua_tostring(W, -1), "t");
    lua_rawgetp(W, LUA_REGISTRYINDEX, &sources_key);   /* runbook chunks, for error positions */
    lua_pushvalue(W, -3);
    lua_pushboolean(W, 1);
    lua_rawset(W, -3);
    lua_pop(W, 1);
    lua_remove(W, -2);
    if (rc != LUA_OK) return 0;
    push_env(W);
    lua_setupvalue(W, -2, 1);
    return 1;
}

/* priv.load_lib(name) -> chunk | nil | nil, err: NAME from root/lib/NAME.lua */
static int priv_load_lib(lua_State *W)
{
    world *w = world_of(W);
    const char *name = luaL_checkstring(W, 1);
    char rel[256], path[PATH_MAX + 300];
    if (!w || !w->lib) return 0;
    if (strlen(name) > 200) return luaL_error(W, "module name too long");
    snprintf(rel, sizeof rel, "lib/%s.lua", name);
    for (char *p = rel + 4; *p; p++)
        if (*p == '.' && strcmp(p, ".lua") != 0) *p = '/';
    snprintf(path, sizeof path, "%s/%s", w->root, rel);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    if (!under_root(W, w, rel, path)) { lua_pushnil(W); lua_insert(W, -2); return 2; }   /* path: resolved */
    if (!read_whole(W, path, MAX_FILE)) { lua_pushnil(W); lua_insert(W, -2); return 2; }
    size_t len;
    const char *text = lua_tolstring(W, -1, &len);
    if (!load_sandboxed(W, text, len, path)) { lua_pushnil(W); lua_insert(W, -2); return 2; }
    return 1;
}

/* Concatenates the arguments as print does (tab-separated, tostring). */
static void push_joined(lua_State *W, int first)
{
    luaL_Buffer b;
    int n = lua_gettop(W);
    luaL_buffinit(W, &b);
    for (int i = first; i <= n; i++) {
        if (i > first) luaL_addchar(&b, '\t');
        luaL_tolstring(W, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
}

static void write_err(lua_State *W, int idx, int newline)
{
    size_t len;
    const char *s = lua_tolstring(W, idx, &len);
    push_redacted(W, s, len);
    s = lua_tolstring(W, -1, &len);
    rb_xfer_push_clean(W, s, len);   /* no control sequences to the terminal */
    s = lua_tolstring(W, -1, &len);
    fwrite(s, 1, len, stderr);
    if (newline) fputc('\n', stderr);
    lua_pop(W, 2);
}

static int call_sink(lua_State *W, world *w, const char *name, int first, int n);

/* print(...): during a step, a log line of the step; otherwise stderr. Redacted. */
static int priv_print(lua_State *W)
{
    world *w = world_of(W);
    push_joined(W, 1);
    if (w && w->sink) {
        lua_replace(W, 1);
        lua_settop(W, 1);
        return call_sink(W, w, "log", 1, 1) >= 0 ? 0 : lua_error(W);
    }
    write_err(W, -1, 1);
    return 0;
}

/* io.stderr:write(...) for module code inside the world; redacted. */
static int priv_stderr(lua_State *W)
{
    for (int i = 1; i <= lua_gettop(W); i++) {
        luaL_checkstring(W, i);
        write_err(W, i, 0);
    }
    return 0;
}

/* Calls sink[name] in the engine with W's values first..first+n-1 copied; on
 * success pushes its results copied back and returns their number; on failure
 * pushes an error message onto W and returns -1. */
static int call_sink(lua_State *W, world *w, const char *name, int first, int n)
{
    lua_State *H = w->H;
    int top = lua_gettop(H);
    rb_xfer x = {.clean = 1, .keep = strcmp(name, "attach") == 0 ? "data" : NULL}, back = {0};
    if (w->crossed >= STEP_BUDGET) {
        luaL_where(W, 1);
        lua_pushfstring(W, "ctx:%s: this step has already handed the engine %d MiB (the bound)", name,
                        (int)(STEP_BUDGET >> 20));
        lua_concat(W, 2);
        return -1;
    }
    x.max_bytes = STEP_BUDGET - w->crossed < RB_XFER_MAX_BYTES ? STEP_BUDGET - w->crossed : RB_XFER_MAX_BYTES;
    luaL_checkstack(H, n + 8, "ctx");
    lua_getfield(H, w->sink, name);
    for (int i = 0; i < n; i++) {
        if (!rb_xfer_copy(&x, W, first + i, H)) {
            w->crossed += x.bytes + (size_t)x.nodes * NODE_COST;   /* it cost the engine all the same */
            lua_settop(H, top);
            luaL_where(W, 1);
            lua_pushfstring(W, "ctx:%s: argument #%d: %s", name, i + 1, x.err);
            lua_concat(W, 2);
            return -1;
        }
    }
    w->crossed += x.bytes + (size_t)x.nodes * NODE_COST;
    if (lua_pcall(H, n, LUA_MULTRET, 0) != LUA_OK) {
        luaL_where(W, 1);
        size_t len;
        const char *m = luaL_tolstring(H, -1, &len);
        lua_pushlstring(W, m, len);
        lua_concat(W, 2);
        lua_settop(H, top);
        return -1;
    }
    int nres = lua_gettop(H) - top;
    luaL_checkstack(W, nres + 2, "ctx");
    for (int i = 1; i <= nres; i++)
        if (!rb_xfer_copy(&back, H, top + i, W)) lua_pushnil(W);
    lua_settop(H, top);
    return nres;
}

/* ctx:METHOD(...): forwards to the engine's sink (upvalue 1: method name). */
static int ctx_forward(lua_State *W)
{
    world *w = world_of(W);
    const char *name = lua_tostring(W, lua_upvalueindex(1));
    if (!w || !w->sink) return luaL_error(W, "ctx:%s used outside its step", name);
    int n = lua_gettop(W) - 1;            /* without self */
    int nres = call_sink(W, w, name, 2, n < 0 ? 0 : n);
    if (nres < 0) return lua_error(W);
    return nres;
}

/* ctx:read_file(path) -> text | nil, err: a file shipped in the book's directory. */
static int ctx_read_file(lua_State *W)
{
    world *w = world_of(W);
    size_t len;
    const char *rel = luaL_checklstring(W, 2, &len);
    char path[PATH_MAX];
    if (!w) return luaL_error(W, "ctx:read_file outside a world");
    if (strlen(rel) != len) return luaL_error(W, "ctx:read_file: the path contains a NUL byte");
    if (!under_root(W, w, rel, path) || !read_whole(W, path, MAX_READ)) {
        luaL_pushfail(W);
        lua_insert(W, -2);
        return 2;
    }
    return 1;
}

/* Registry table of the shared ctx metatable: methods and __metatable. */
static void push_ctx_mt(lua_State *W)
{
    static char ctx_mt_key;
    if (lua_rawgetp(W, LUA_REGISTRYINDEX, &ctx_mt_key) == LUA_TTABLE) return;
    lua_pop(W, 1);
    lua_createtable(W, 0, 3);
    lua_createtable(W, 0, 8);
    for (int i = 0; ctx_methods[i]; i++) {
        lua_pushstring(W, ctx_methods[i]);
        lua_pushcclosure(W, ctx_forward, 1);
        lua_setfield(W, -2, ctx_methods[i]);
    }
    lua_pushcfunction(W, ctx_read_file);
    lua_setfield(W, -2, "read_file");
    lua_setfield(W, -2, "__index");
    lua_pushliteral(W, "rb.Ctx");
    lua_setfield(W, -2, "__metatable");
    lua_pushvalue(W, -1);
    lua_rawsetp(W, LUA_REGISTRYINDEX, &ctx_mt_key);
}

/* Pushes "file:line" of the innermost frame running runbook code (a file
 * loaded by this world, not a module of the engine), or nil. */
static void push_runbook_line(lua_State *W)
{
    lua_Debug ar;
    lua_rawgetp(W, LUA_REGISTRYINDEX, &sources_key);
    for (int level = 0; lua_getstack(W, level, &ar); level++) {
        if (!lua_getinfo(W, "Sl", &ar) || ar.currentline <= 0) continue;
        lua_pushstring(W, ar.source);
        int mine = lua_rawget(W, -2) == LUA_TBOOLEAN;
        lua_pop(W, 1);
        if (mine) {
            lua_pop(W, 1);
            lua_pushfstring(W, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pop(W, 1);
    lua_pushnil(W);
}

/* Message handler of a step: a plain error table {kind, message, traceback}
 * plus the string/number/boolean fields of an error table. Runs inside the
 * step's window, so __tostring of the step's own error objects runs there. */
static int step_msgh(lua_State *W)
{
    lua_createtable(W, 0, 4);
    if (lua_type(W, 1) == LUA_TTABLE) {
        lua_pushnil(W);
        while (lua_next(W, 1)) {
            int vt = lua_type(W, -1);
            if (lua_type(W, -2) == LUA_TSTRING && (vt == LUA_TSTRING || vt == LUA_TNUMBER || vt == LUA_TBOOLEAN)) {
                lua_pushvalue(W, -2);
                lua_insert(W, -2);
                lua_rawset(W, 2);
            } else lua_pop(W, 1);
        }
    }
    if (lua_getfield(W, 2, "message") != LUA_TSTRING) {
        lua_pop(W, 1);
        luaL_tolstring(W, 1, NULL);
        lua_setfield(W, 2, "message");
    } else lua_pop(W, 1);
    if (lua_getfield(W, 2, "kind") != LUA_TSTRING) {
        lua_pushliteral(W, "error");
        lua_setfield(W, 2, "kind");
    }
    lua_pop(W, 1);
    push_runbook_line(W);
    lua_setfield(W, 2, "at");
    lua_getfield(W, 2, "message");
    luaL_traceback(W, W, lua_tostring(W, -1), 1);
    lua_setfield(W, 2, "traceback");
    lua_pop(W, 1);
    return 1;
}

/* The world's hook, set on its main thread when it is made and so inherited
 * by every coroutine runbook code creates (Lua copies a thread's hook into
 * the threads it creates). While a file loads it ends one that runs too
 * long. The engine's signal handler (signals.c) replaces the main thread's
 * hook with its stop hook; a coroutine that was already made still has this
 * one, which then arms the stop hook on its own thread too, so a loop inside
 * a coroutine is stopped like one on the main thread. It runs on calls too,
 * not only every HOOK_COUNT instructions: a loop of few instructions, each a
 * long call into C (table.concat of a big table), is stopped as soon. */
static void world_hook(lua_State *L, lua_Debug *ar)
{
    world *w = world_of(L);
    if (!w) return;
    lua_Hook main = lua_gethook(w->W);
    if (main && main != world_hook) {
        if (L != w->W) lua_sethook(L, main, lua_gethookmask(w->W), lua_gethookcount(w->W));
        main(L, ar);
        return;
    }
    if (w->deadline > 0 && now_s() > w->deadline) {
        if (ar && ar->event == LUA_HOOKCALL && lua_getinfo(L, "S", ar) && ar->what[0] == 'C') {
            /* not inside a C function (it may be a buffer's __close while an
               error unwinds): at the next instruction of runbook code */
            lua_sethook(L, world_hook, LUA_MASKCOUNT | LUA_MASKCALL, 1);
            return;
        }
        push_runbook_line(L);   /* the hook may fire inside a C function: name the runbook's line */
        lua_pushfstring(L, "%s%stook longer than %d s to load (runbook files only declare sections and steps)",
                        lua_isstring(L, -1) ? lua_tostring(L, -1) : "", lua_isstring(L, -1) ? ": " : "",
                        (int)LOAD_SECONDS);
        lua_error(L);
    }
}

/* priv.stopping() -> boolean: an interrupt or the load deadline is being
 * acted on. An error the hook raises runs message handlers with hooks off
 * (Lua does not hook inside a hook), so the sandbox's xpcall does not call
 * runbook code as a handler then: it could loop unstoppably. */
static int priv_stopping(lua_State *L)
{
    world *w = world_of(L);
    lua_Hook main = w ? lua_gethook(w->W) : NULL;
    lua_pushboolean(L, w && ((main && main != world_hook) || (w->deadline > 0 && now_s() > w->deadline)));
    return 1;
}

static void arm_hook(lua_State *W)
{
    lua_sethook(W, world_hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_COUNT);
}

/* Long computations in C that never reach a hook (pattern matching,
 * strmatch.c) poll here: an interrupt or a load deadline raises. */
static void world_poll(lua_State *L)
{
    world_hook(L, NULL);
}

/* Runs the function below nargs arguments on W's stack (message handler at
 * msgh) with the world's memory bound applied: runbook code running. */
static int run_bounded(world *w, int nargs, int nres, int msgh)
{
    w->bounded = 1;
    rb_world_active = w->W;
    int rc = lua_pcall(w->W, nargs, nres, msgh);
    rb_world_active = NULL;
    w->bounded = 0;
    if (lua_gethook(w->W) == world_hook) arm_hook(w->W);   /* the deadline may have made it count 1 */
    return rc;
}

/* ------------------------------------------------------------ engine side */

static world *check_world(lua_State *H)
{
    world **pw = luaL_checkudata(H, 1, WORLD_MT);
    if (!*pw) luaL_error(H, "world is closed");
    return *pw;
}

/* on_function hook for copying a file's value out: register the function in
 * the world's handle table and push its handle (an integer) to the engine. */
static int fn_to_handle(void *ud, lua_State *W, int idx, lua_State *H)
{
    (void)ud;
    lua_rawgetp(W, LUA_REGISTRYINDEX, &handles_key);
    lua_Integer n = (lua_Integer)lua_rawlen(W, -1) + 1;
    lua_pushvalue(W, idx);
    lua_rawseti(W, -2, n);
    lua_pop(W, 1);
    lua_pushinteger(H, n);
    return 1;
}

static const char *kind_of(lua_State *W, int idx)
{
    if (lua_type(W, idx) == LUA_TTABLE && lua_getmetatable(W, idx)) {
        const char *k = NULL;
        lua_rawgetp(W, LUA_REGISTRYINDEX, &section_mt_key);
        if (lua_rawequal(W, -1, -2)) k = "section";
        lua_pop(W, 1);
        lua_rawgetp(W, LUA_REGISTRYINDEX, &book_mt_key);
        if (lua_rawequal(W, -1, -2)) k = "book";
        lua_pop(W, 2);
        if (k) return k;
    }
    return luaL_typename(W, idx);
}

/* Message handler while loading: "file:line: message" (no traceback). An
 * error raised inside a C function or the world's hook ("C stack overflow",
 * "took longer than 2 s") carries no position of its own: it gets the line
 * of the runbook file that was running. */
static int load_msgh(lua_State *W)
{
    if (lua_type(W, 1) == LUA_TTABLE) {
        if (lua_getfield(W, 1, "message") == LUA_TSTRING) return 1;
        lua_pop(W, 1);
    }
    const char *msg = luaL_tolstring(W, 1, NULL);
    push_runbook_line(W);
    const char *at = lua_tostring(W, -1), *colon = at ? strrchr(at, ':') : NULL;
    if (!colon || strncmp(msg, at, (size_t)(colon - at)) == 0) { lua_pop(W, 1); return 1; }
    lua_pushliteral(W, ": ");
    lua_pushvalue(W, -3);
    lua_concat(W, 3);
    return 1;
}

/* Pushes onto H the message at idx of W, without control characters. */
static void push_text(lua_State *H, lua_State *W, int idx)
{
    size_t len;
    const char *s = lua_tolstring(W, idx, &len);
    if (!s) lua_pushliteral(H, "error while loading");
    else rb_xfer_push_clean(H, s, len);
}

/* w:load(path) -> value, kind | nil, err */
static int w_load(lua_State *H)
{
    world *w = check_world(H);
    const char *path = luaL_checkstring(H, 2);
    lua_State *W = w->W;
    int top = lua_gettop(W);
    if (!read_whole(W, path, MAX_FILE) ||
        !load_sandboxed(W, lua_tostring(W, -1), lua_rawlen(W, -1), path)) {
        lua_pushnil(H);
        push_text(H, W, -1);
        lua_settop(W, top);
        return 2;
    }
    lua_pushcfunction(W, load_msgh);
    lua_insert(W, -2);
    lua_pushstring(W, path);   /* rb.lua names it when a file's frame is gone (a tail call) */
    lua_setfield(W, LUA_REGISTRYINDEX, "rb.loading");
    w->deadline = now_s() + LOAD_SECONDS;
    int rc = run_bounded(w, 0, 1, -2);
    w->deadline = 0;
    if (rc != LUA_OK) {
        lua_pushnil(H);
        push_text(H, W, -1);
        lua_settop(W, top);
        return 2;
    }
    rb_xfer x = {.on_function = fn_to_handle, .ud = w, .clean = 1};
    const char *kind = kind_of(W, -1);
    if (!rb_xfer_copy(&x, W, -1, H)) {
        lua_settop(W, top);
        lua_pushnil(H);
        lua_pushfstring(H, "%s: its value cannot be read by the engine: %s", path, x.err);
        return 2;
    }
    lua_pushstring(H, kind);
    lua_settop(W, top);
    return 2;
}

static int mode_arg(lua_State *H, int idx)
{
    static const char *const names[] = {"investigate", "plan", "apply", NULL};
    static const int modes[] = {RB_MODE_INVESTIGATE, RB_MODE_PLAN, RB_MODE_APPLY};
    return modes[luaL_checkoption(H, idx, NULL, names)];
}

/* Builds the step's ctx in W from the engine's table at index idx of H. */
static int push_ctx(lua_State *H, int idx, lua_State *W)
{
    rb_xfer x = {0};
    if (!rb_xfer_copy(&x, H, idx, W)) return luaL_error(H, "ctx: %s", x.err);
    push_ctx_mt(W);
    lua_setmetatable(W, -2);
    return 1;
}

/* w:call(handle, mode, ctx, sink) -> true | false, err */
static int w_call(lua_State *H)
{
    world *w = check_world(H);
    lua_Integer h = luaL_checkinteger(H, 2);
    int mode = mode_arg(H, 3);
    luaL_checktype(H, 4, LUA_TTABLE);
    luaL_checktype(H, 5, LUA_TTABLE);
    lua_State *W = w->W;
    if (w->sink) return luaL_error(H, "world is already running a step");
    int top = lua_gettop(W);
    luaL_checkstack(W, 8, "call");
    lua_pushcfunction(W, step_msgh);
    lua_rawgetp(W, LUA_REGISTRYINDEX, &handles_key);
    if (lua_rawgeti(W, -1, h) != LUA_TFUNCTION) { lua_settop(W, top); return luaL_error(H, "no function #%d in this world", (int)h); }
    lua_remove(W, -2);
    push_ctx(H, 4, W);
    w->H = H;
    w->sink = 5;
    w->tag.mode = mode;
    w->crossed = 0;
    int rc = run_bounded(w, 1, 0, top + 1);
    w->tag.mode = RB_MODE_LOAD;
    w->sink = 0;
    w->H = NULL;
    if (rc == LUA_OK) { lua_settop(W, top); lua_pushboolean(H, 1); return 1; }
    lua_pushboolean(H, 0);
    rb_xfer x = {.clean = 1};
    if (!rb_xfer_copy(&x, W, -1, H)) lua_pushstring(H, "error (its value could not be read)");
    lua_settop(W, top);
    return 2;
}

static int w_close(lua_State *H)
{
    world **pw = luaL_checkudata(H, 1, WORLD_MT);
    world *w = *pw;
    if (!w) return 0;
    *pw = NULL;
    w->tag.mode = RB_MODE_LOAD;
    lua_close(w->W);
    free(w);
    return 0;
}

/* Runs sandbox.lua inside W with its private table, keeps env(), and loads
 * rb so that its Section and Book metatables are known before any runbook
 * code runs. */
static void setup(lua_State *H, world *w)
{
    lua_State *W = w->W;
    if (!rb_state_load_embedded(W, "rb.sandbox")) luaL_error(H, "no rb.sandbox in the binary");
    lua_createtable(W, 0, 4);
    lua_pushcfunction(W, priv_load_lib); lua_setfield(W, -2, "load_lib");
    lua_pushcfunction(W, priv_print); lua_setfield(W, -2, "print");
    lua_pushcfunction(W, priv_stderr); lua_setfield(W, -2, "stderr");
    rb_strmatch_push(W, world_poll); lua_setfield(W, -2, "strmatch");
    lua_pushcfunction(W, priv_stopping); lua_setfield(W, -2, "stopping");
    lua_createtable(W, 16, 0);
    for (int i = 0; rb_public_modules[i]; i++) {
        lua_pushstring(W, rb_public_modules[i]);
        lua_rawseti(W, -2, i + 1);
    }
    lua_setfield(W, -2, "public");
    if (lua_pcall(W, 1, 1, 0) != LUA_OK) luaL_error(H, "sandbox: %s", lua_tostring(W, -1));
    lua_getfield(W, -1, "env");
    lua_rawsetp(W, LUA_REGISTRYINDEX, &env_key);
    lua_pop(W, 1);
    lua_newtable(W);
    lua_rawsetp(W, LUA_REGISTRYINDEX, &handles_key);
    lua_newtable(W);
    lua_rawsetp(W, LUA_REGISTRYINDEX, &sources_key);
    lua_getglobal(W, "require");
    lua_pushliteral(W, "rb");
    if (lua_pcall(W, 1, 1, 0) != LUA_OK) luaL_error(H, "rb: %s", lua_tostring(W, -1));
    lua_getfield(W, -1, "Section");
    lua_rawsetp(W, LUA_REGISTRYINDEX, &section_mt_key);
    lua_getfield(W, -1, "Book");
    lua_rawsetp(W, LUA_REGISTRYINDEX, &book_mt_key);
    lua_pop(W, 1);
}

static size_t mem_bound(void)
{
    const char *e = getenv("RUNBOOK_WORLD_MEMORY_MB");
    long mb = e ? strtol(e, NULL, 10) : 0;
    return mb > 0 ? (size_t)mb << 20 : (size_t)WORLD_MEM_DEFAULT;
}

/* world.new{root = DIR, lib = bool} -> world */
static int world_new(lua_State *H)
{
    luaL_checktype(H, 1, LUA_TTABLE);
    lua_getfield(H, 1, "root");
    const char *root = luaL_checkstring(H, -1);
    lua_getfield(H, 1, "lib");
    int lib = lua_toboolean(H, -1);
    world **pw = lua_newuserdatauv(H, sizeof *pw, 0);
    *pw = NULL;
    luaL_setmetatable(H, WORLD_MT);
    world *w = calloc(1, sizeof *w);
    if (!w) return luaL_error(H, "out of memory");
    if (!realpath(root, w->root)) { free(w); return luaL_error(H, "%s: %s", root, strerror(errno)); }
    w->tag.magic = RB_WORLD_MAGIC;
    w->tag.mode = RB_MODE_LOAD;
    w->lib = lib;
    w->mem_max = mem_bound();
    w->W = rb_world_state_new(&w->tag, world_alloc, w);
    if (!w->W) { free(w); return luaL_error(H, "cannot create a runbook world"); }
    *pw = w;
    setup(H, w);
    arm_hook(w->W);
    return 1;
}

/* active_slot() -> lightuserdata: where the running world is kept, for the
 * engine's signal handler (rb._sys.install_signals), which arms its hook. */
static int world_active_slot(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&rb_world_active);
    return 1;
}

int rb_open_world(lua_State *L)
{
    static const luaL_Reg methods[] = {{"load", w_load}, {"call", w_call}, {"close", w_close}, {NULL, NULL}};
    static const luaL_Reg lib[] = {{"new", world_new}, {"active_slot", world_active_slot}, {NULL, NULL}};
    if (luaL_newmetatable(L, WORLD_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, w_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, w_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, lib);
    return 1;
}
