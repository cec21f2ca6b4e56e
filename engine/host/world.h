/* world.h — runbook worlds (world.c): the lua_State runbook code runs in,
 * and rb._base (base.c), the engine facts rb.lua reads in every state. */
#ifndef RB_WORLD_H
#define RB_WORLD_H
#include <lua.h>

/* The modules runbook code may require, in one place (NULL-terminated). */
extern const char *const rb_public_modules[];
/* Non-zero when a world's module searcher may load name: a public module or
 * one the public modules are built on (cjson, rb._base, rb._secret). */
int rb_world_serves(const char *name);
/* The world being run right now (a step, a load), for the signal handler. */
extern lua_State *volatile rb_world_active;

int rb_open_world(lua_State *L);    /* rb._world: engine-only */
int rb_open_base(lua_State *L);     /* rb._base */
#endif
