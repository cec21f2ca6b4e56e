/* signals.c — see signals.h. */
#include "signals.h"
#include "errors.h"
#include "gate_ctl.h"
#include <lauxlib.h>
#include <signal.h>
#include <string.h>

static lua_State *main_L;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    rb_error_push(L, "interrupted", "interrupted by SIGINT");
    lua_error(L);
}

static void on_sigint(int sig)
{
    signal(sig, SIG_DFL);              /* a second ^C ends the process */
    rb_gate_interrupt(1);
    if (main_L) lua_sethook(main_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void rb_signals_install(lua_State *L)
{
    struct sigaction sa;
    main_L = L;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
