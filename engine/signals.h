/* signals.h — SIGINT stops a run at a safe point. The handler only sets a
 * flag and arms a Lua hook (as lua.c does); the hook raises an
 * {kind = "interrupted"} error at the next Lua instruction, and the gate
 * refuses every later binding call, so an interrupted run never starts a new
 * write. A second SIGINT restores the default action. */
#ifndef RB_SIGNALS_H
#define RB_SIGNALS_H
#include <lua.h>
/* L: the engine's state; active_world: where the core keeps the runbook world
 * running now (NULL if none), whose hook is armed too. */
void rb_signals_install(lua_State *L, lua_State *volatile *active_world);
#endif
