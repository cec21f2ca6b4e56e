/* bind/before.c — rb._before, for the Lua parts of the bindings (rb.k8s,
 * rb.redis, rb.pg helpers): before(value) records the state the next write
 * will change (rb_gate_before), so `runbook undo` can put it back. Served
 * in runbook worlds only to the public modules built on it (world.c),
 * never to runbook code. */
#include "gate.h"
#include <lauxlib.h>

static int before_set(lua_State *L)
{
    luaL_checkany(L, 1);
    rb_gate_before(L, 1);
    return 0;
}

int luaopen_rb__before(lua_State *L)
{
    static const luaL_Reg lib[] = {{"set", before_set}, {NULL, NULL}};
    luaL_newlib(L, lib);
    return 1;
}
