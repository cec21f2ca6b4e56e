/* corelib.h — rb._core, the part of the engine-private library that lives in
 * the core (no engine library needed): the load-phase flag and the few file
 * system calls reading runbooks needs. */
#ifndef RB_CORELIB_H
#define RB_CORELIB_H
#include <lua.h>
int rb_open_core(lua_State *L);
int rb_core_loading(void);
#endif
