/* signals.c — see signals.h. */
#include "signals.h"
#include "errors.h"
#include "gate_ctl.h"
#include <lauxlib.h>
#include <signal.h>
#include <string.h>

#include "world_tag.h"

static lua_State *main_L;
/* Where the core (engine/host/world.c) keeps the runbook world running now. */
static lua_State *volatile *world_slot;

/* In the engine's own state the hook fires once: the runner catches the
 * error, audits "interrupted" and ends the run. In a runbook world it stays
 * armed, so a pcall in runbook code cannot swallow the stop. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (!rb_world_tag_of(L)) lua_sethook(L, NULL, 0, 0);
    rb_error_push(L, "interrupted", "interrupted by a signal");
    lua_error(L);
}

static void on_signal(int sig)
{
    signal(sig, SIG_DFL);              /* a second signal ends the process */
    rb_gate_interrupt(1);
    if (main_L) lua_sethook(main_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    lua_State *w = world_slot ? *world_slot : NULL;
    if (w) lua_sethook(w, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void rb_signals_install(lua_State *L, lua_State *volatile *active_world)
{
    struct sigaction sa;
    main_L = L;
    world_slot = active_world;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
