/* canon.h — canonical JSON text of a Lua value: object keys sorted, integers
 * exact, floats %.17g, non-data values as "<type>". The gate uses it to show a
 * call's arguments and to compare a write at apply time with the one approved
 * at plan time; the audit module uses it for event members. */
#ifndef RB_CANON_H
#define RB_CANON_H
#include <lua.h>

/* Pushes the canonical JSON of the value at idx as a string. */
void rb_canon_push(lua_State *L, int idx);
#endif
