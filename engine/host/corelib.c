/* corelib.c — rb._core (corelib.h):
 *   loading(flag)    marks the load phase (bindings raise when touched)
 *   engine_loaded()  whether the engine library is loaded
 *   listdir(path)    sorted names, or nil, err
 *   kind(path)       "file" | "dir" | "other" | nil
 *   realpath(path)   canonical path or nil
 *   exe()            the running binary's path (/proc/self/exe) or nil
 *   mkdir_private(p) creates directory p (and missing parents) 0700; true | nil, err.
 *                    An existing p must be a real directory (not a link) of this user. */
#include "corelib.h"
#include "engine.h"
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int loading;

int rb_core_loading(void) { return loading; }

static int core_loading(lua_State *L) { loading = lua_toboolean(L, 1); return 0; }
static int core_engine_loaded(lua_State *L) { lua_pushboolean(L, rb_engine_loaded()); return 1; }

static int core_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) { luaL_pushfail(L); lua_pushfstring(L, "%s: %s", path, strerror(errno)); return 2; }
    lua_newtable(L);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            lua_pushstring(L, e->d_name);
            lua_rawseti(L, -2, ++n);
        }
    closedir(d);
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 1;
}

static int core_kind(lua_State *L)
{
    struct stat st;
    if (stat(luaL_checkstring(L, 1), &st) < 0) { luaL_pushfail(L); return 1; }
    lua_pushstring(L, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
    return 1;
}

static int core_realpath(lua_State *L)
{
    char out[PATH_MAX];
    if (!realpath(luaL_checkstring(L, 1), out)) { luaL_pushfail(L); return 1; }
    lua_pushstring(L, out);
    return 1;
}

static int core_exe(lua_State *L)
{
    char out[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", out, sizeof out - 1);
    if (n <= 0) { luaL_pushfail(L); return 1; }
    lua_pushlstring(L, out, (size_t)n);
    return 1;
}

static int fail_errno(lua_State *L, const char *path)
{
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
}

static int core_mkdir_private(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char buf[PATH_MAX];
    struct stat st;
    if (strlen(path) >= sizeof buf) return luaL_error(L, "path too long");
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return fail_errno(L, buf);
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST) return fail_errno(L, buf);
    if (lstat(buf, &st) < 0) return fail_errno(L, buf);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: not a directory of this user (a link or someone else's): refusing", buf);
        return 2;
    }
    return lua_pushboolean(L, 1), 1;
}

int rb_open_core(lua_State *L)
{
    static const luaL_Reg corelib[] = {
        {"loading", core_loading}, {"engine_loaded", core_engine_loaded},
        {"listdir", core_listdir}, {"kind", core_kind}, {"realpath", core_realpath}, {"exe", core_exe},
        {"mkdir_private", core_mkdir_private}, {NULL, NULL}
    };
    luaL_newlib(L, corelib);
    return 1;
}
