/* bind/gate.c — rb._gate, the runner's handle on the gate (gate_ctl.h).
 * Engine-private: the section sandbox refuses to load it, so a runbook cannot
 * change its own mode or approve its own plan. */
#include "gate_ctl.h"
#include "world_tag.h"
#include <lauxlib.h>
#include <string.h>

static int gate_set_mode(lua_State *L)
{
    static const char *const names[] = {"free", "investigate", "plan", "apply", "load", NULL};
    rb_gate_set_mode((rb_mode)luaL_checkoption(L, 1, NULL, names));
    return 0;
}

static int gate_mode(lua_State *L)
{
    lua_pushstring(L, rb_gate_mode_name(rb_gate_mode()));
    return 1;
}

static void push_planned(lua_State *L, const rb_planned *p)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, p->binding); lua_setfield(L, -2, "binding");
    lua_pushstring(L, p->op); lua_setfield(L, -2, "op");
    lua_pushstring(L, p->target); lua_setfield(L, -2, "target");
    lua_pushstring(L, p->args); lua_setfield(L, -2, "args");
    if (p->simulated) { lua_pushstring(L, p->simulated); lua_setfield(L, -2, "simulated"); }
    lua_pushboolean(L, p->simulable); lua_setfield(L, -2, "simulable");
    lua_pushstring(L, p->digest); lua_setfield(L, -2, "digest");
    if (p->before) { lua_pushstring(L, p->before); lua_setfield(L, -2, "before"); }
}

static int gate_plan(lua_State *L)
{
    int n = rb_gate_plan_count();
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        push_planned(L, rb_gate_plan_at(i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int gate_confirm(lua_State *L) { rb_gate_approve(); return 0; }
static int gate_reset(lua_State *L) { rb_gate_reset(); return 0; }

static int gate_approved_left(lua_State *L)
{
    lua_pushinteger(L, rb_gate_approved_left());
    return 1;
}

/* set_audit(path | nil, members_json | nil) */
static int gate_set_audit(lua_State *L)
{
    rb_gate_set_audit(luaL_optstring(L, 1, NULL), luaL_optstring(L, 2, NULL));
    return 0;
}

static int gate_interrupted(lua_State *L)
{
    lua_pushboolean(L, rb_gate_interrupted());
    return 1;
}

/* unplanned() -> text | nil: what the write stopped in apply differed in */
static int gate_unplanned(lua_State *L)
{
    const char *u = rb_gate_unplanned();
    if (u) lua_pushstring(L, u); else lua_pushnil(L);
    return 1;
}

static const luaL_Reg gatelib[] = {
    {"unplanned", gate_unplanned},
    {"set_mode", gate_set_mode}, {"mode", gate_mode}, {"plan", gate_plan},
    {"confirm", gate_confirm}, {"reset", gate_reset}, {"approved_left", gate_approved_left},
    {"set_audit", gate_set_audit}, {"interrupted", gate_interrupted}, {NULL, NULL}
};

int luaopen_rb__gate(lua_State *L)
{
    /* never served to a runbook world (world.c); refuse even if asked */
    if (rb_world_tag_of(L)) return luaL_error(L, "rb._gate is the engine's");
    luaL_newlib(L, gatelib);
    return 1;
}
