/* bind/sys.c — rb._sys: the few operating-system facts the Lua side of the
 * engine needs and Lua's standard library lacks: terminal detection and
 * prompts on /dev/tty, user and host names, clocks, directory listing, run
 * ids, signal handling and the redactor (files: rb._core). Engine-private (the sandbox refuses
 * it); runbook scripts use rb.secret() for redaction. */
#include "canon.h"
#include "redact.h"
#include "signals.h"
#include <openssl/evp.h>
#include <lauxlib.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int sys_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* prompt(text) -> line | nil, err: writes text to /dev/tty and reads one line. */
static int sys_prompt(lua_State *L)
{
    const char *q = luaL_checkstring(L, 1);
    FILE *tty = fopen("/dev/tty", "r+e");
    char line[512];
    if (!tty) { luaL_pushfail(L); lua_pushstring(L, "no terminal"); return 2; }
    fputs(q, tty);
    fflush(tty);
    char *got = fgets(line, sizeof line, tty);
    fclose(tty);
    if (!got) { luaL_pushfail(L); lua_pushstring(L, "end of input on terminal"); return 2; }
    line[strcspn(line, "\r\n")] = 0;
    lua_pushstring(L, line);
    return 1;
}

static int sys_hostname(lua_State *L)
{
    char h[256] = "unknown";
    gethostname(h, sizeof h - 1);
    lua_pushstring(L, h);
    return 1;
}

static int sys_user(lua_State *L)
{
    struct passwd *pw = getpwuid(getuid());
    const char *u = getenv("USER");
    lua_pushstring(L, pw ? pw->pw_name : u ? u : "unknown");
    return 1;
}

static int sys_clock_ms(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
    return 1;
}

static int sys_time(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, ts.tv_sec + ts.tv_nsec / 1e9);
    return 1;
}

static int sys_sleep_ms(lua_State *L)
{
    lua_Number ms = luaL_checknumber(L, 1);
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (lua_Number)(time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
    return 0;
}




static int sys_run_id(lua_State *L)
{
    unsigned char b[8];
    char hex[17];
    if (RAND_bytes(b, sizeof b) != 1) return luaL_error(L, "no randomness for a run id");
    for (int i = 0; i < 8; i++) sprintf(hex + 2 * i, "%02x", b[i]);
    lua_pushstring(L, hex);
    return 1;
}

static int sys_install_signals(lua_State *L)
{
    lua_State *main;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    main = lua_tothread(L, -1);
    lua_pop(L, 1);
    rb_signals_install(main, lua_touserdata(L, 1));   /* rb._world.active_slot() or nil */
    return 0;
}

static int sys_add_secret(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_pushboolean(L, rb_redact_add(s, len) == 1);   /* true: too short for free text */
    return 1;
}

/* short_secret_warning() -> true once after a short secret was registered */
static int sys_short_secret_warning(lua_State *L)
{
    lua_pushboolean(L, rb_redact_short_pending());
    return 1;
}

static int sys_redact(lua_State *L)
{
    size_t len, rlen;
    const char *s = luaL_checklstring(L, 1, &len);
    char *r = rb_redact(s, len, &rlen);
    if (!r) return luaL_error(L, "out of memory");
    lua_pushlstring(L, r, rlen);
    free(r);
    return 1;
}

static int sys_getpid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

/* canon(value) -> canonical JSON (keys sorted): what plan digests are over */
static int sys_canon(lua_State *L)
{
    luaL_checkany(L, 1);
    rb_canon_push(L, 1);
    return 1;
}

/* sha256(text) -> lower-case hex */
static int sys_sha256(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char md[32];
    unsigned int n = 0;
    char hex[65];
    if (!EVP_Digest(s, len, md, &n, EVP_sha256(), NULL)) return luaL_error(L, "sha256 failed");
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    lua_pushlstring(L, hex, 64);
    return 1;
}

static const luaL_Reg syslib[] = {
    {"canon", sys_canon}, {"sha256", sys_sha256}, {"short_secret_warning", sys_short_secret_warning},
    {"isatty", sys_isatty}, {"prompt", sys_prompt}, {"hostname", sys_hostname},
    {"user", sys_user}, {"clock_ms", sys_clock_ms}, {"time", sys_time}, {"sleep_ms", sys_sleep_ms},
    {"run_id", sys_run_id}, {"install_signals", sys_install_signals},
    {"add_secret", sys_add_secret}, {"redact", sys_redact}, {"getpid", sys_getpid}, {NULL, NULL}
};

int luaopen_rb__sys(lua_State *L)
{
    luaL_newlib(L, syslib);
    return 1;
}
