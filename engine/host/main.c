/* main.c — the runbook command. Creates the Lua host (state.c) and hands the
 * arguments to the embedded CLI (lualib/rb/cli.lua), which returns the exit
 * status; everything runs under lua_pcall with a traceback handler. */
#include "state.h"
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    /* a network client: a peer that resets a connection is an error to
       report, not a reason to die (SIGPIPE) */
    signal(SIGPIPE, SIG_IGN);
    lua_State *L = rb_state_new();
    if (!L) { fputs("runbook: cannot create Lua state\n", stderr); return 2; }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "rb.cli");
    int status = 2;
    if (rb_state_pcall(L, 1, 1) == LUA_OK) {
        lua_createtable(L, argc, 0);
        for (int i = 1; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i);
        }
        lua_pushstring(L, argv[0]);
        lua_rawseti(L, -2, 0);
        if (rb_state_pcall(L, 1, 1) == LUA_OK) status = (int)luaL_optinteger(L, -1, 0);
    }
    fflush(stdout);
    lua_close(L);
    return status;
}
