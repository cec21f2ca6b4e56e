/* state.h — the Lua host: a state with the standard libraries, cjson, every
 * rb.* binding and the embedded lualib/, run under lua_pcall with a message
 * handler that honours __tostring, redacts and adds a traceback. */
#ifndef RB_STATE_H
#define RB_STATE_H
#include <lua.h>

lua_State *rb_state_new(void);
/* Calls the function below nargs arguments on the stack in protected mode;
 * on error prints the (redacted) message and traceback to stderr and returns
 * non-zero. nresults as lua_pcall. */
int rb_state_pcall(lua_State *L, int nargs, int nresults);
#endif
