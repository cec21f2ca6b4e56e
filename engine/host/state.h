/* state.h — the Lua host: a state with the standard libraries, cjson, every
 * rb.* binding and the embedded lualib/, run under lua_pcall with a message
 * handler that honours __tostring, redacts and adds a traceback. */
#ifndef RB_STATE_H
#define RB_STATE_H
#include <lua.h>
#include "world_tag.h"

lua_State *rb_state_new(void);
/* The state of a runbook world (world.c): no io, no files, no processes,
 * modules only from the binary and only those the world serves. */
lua_State *rb_world_state_new(rb_world_tag *tag, lua_Alloc alloc, void *ud);
/* Pushes the embedded Lua file of module name as a chunk; returns 0 if none. */
int rb_state_load_embedded(lua_State *L, const char *name);
/* Calls the function below nargs arguments on the stack in protected mode;
 * on error prints the (redacted) message and traceback to stderr and returns
 * non-zero. nresults as lua_pcall. */
int rb_state_pcall(lua_State *L, int nargs, int nresults);
#endif
