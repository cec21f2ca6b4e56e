/* test_gate.c — the choke point: effects per mode, plan recording, and
 * apply-time matching against the approved plan (the same call passes; a
 * different target or argument is stopped; argument tables compare by
 * content, not insertion order). */
#include "gate_ctl.h"
#include "state.h"
#include "tap.h"
#include <lauxlib.h>
#include <string.h>

/* gate_call(op, target, args, is_write) -> "send" | "simulate" (raises like a binding would) */
static int l_gate_call(lua_State *L)
{
    rb_action a = {"test", luaL_checkstring(L, 1), luaL_checkstring(L, 2), lua_isnoneornil(L, 3) ? 0 : 3};
    rb_effect e = lua_toboolean(L, 4) ? RB_WRITE : RB_READ;
    rb_verdict v = rb_gate(L, &a, e);
    if (v == RB_SEND) rb_gate_done(L, &a, e, 1, NULL);
    lua_pushstring(L, v == RB_SEND ? "send" : "simulate");
    return 1;
}

/* Runs code; returns its string result, or "error:<kind>" when it raised. */
static const char *run(lua_State *L, const char *code)
{
    static char out[256];
    if (luaL_loadstring(L, code) != LUA_OK) return "syntax";
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        if (lua_istable(L, -1)) { lua_getfield(L, -1, "kind"); snprintf(out, sizeof out, "error:%s", lua_tostring(L, -1)); lua_pop(L, 1); }
        else snprintf(out, sizeof out, "error:%s", lua_tostring(L, -1));
    } else snprintf(out, sizeof out, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "nil");
    lua_pop(L, 1);
    return out;
}

int main(void)
{
    lua_State *L = rb_state_new();
    lua_register(L, "gate_call", l_gate_call);

    rb_gate_set_mode(RB_MODE_INVESTIGATE);
    TAP_EQ_STR(run(L, "return gate_call('get', 'http://x/', nil, false)"), "send", "investigate: reads are sent");
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/', nil, true)"), "error:refused", "investigate: writes raise");

    rb_gate_set_mode(RB_MODE_LOAD);
    TAP_EQ_STR(run(L, "return gate_call('get', 'http://x/', nil, false)"), "error:refused", "load: even reads raise");

    rb_gate_set_mode(RB_MODE_PLAN);
    rb_gate_reset();
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/a', {b = 1, a = {2, 3}}, true)"), "simulate", "plan: writes are simulated");
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/b', 'body', true)"), "simulate", "plan: second write recorded");
    TAP_EQ_STR(run(L, "return gate_call('get', 'http://x/c', nil, false)"), "send", "plan: reads are real");
    TAP_EQ_INT(rb_gate_plan_count(), 2, "plan holds the two writes, not the read");
    const rb_planned *p = rb_gate_plan_at(0);
    TAP_EQ_STR(p ? p->args : NULL, "{\"a\":[2,3],\"b\":1}", "args shown as canonical JSON");
    rb_gate_simulated(L, NULL);
    TAP_OK(!rb_gate_plan_at(1)->simulable, "cannot-be-simulated is recorded");

    rb_gate_approve();
    rb_gate_set_mode(RB_MODE_APPLY);
    TAP_EQ_STR(run(L, "local t = {}; t.a = {2, 3}; t.b = 1; return gate_call('post', 'http://x/a', t, true)"), "send",
               "apply: the approved write passes (key order does not matter)");
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/OTHER', 'body', true)"), "error:unplanned",
               "apply: a different target is stopped");
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/b', 'body2', true)"), "error:unplanned",
               "apply: different arguments are stopped");
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/b', 'body', true)"), "send", "apply: the next approved write passes");
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/b', 'body', true)"), "error:unplanned",
               "apply: a write beyond the plan is stopped");
    TAP_EQ_INT(rb_gate_approved_left(), 0, "every approved action was used");

    rb_gate_interrupt(1);
    TAP_EQ_STR(run(L, "return gate_call('get', 'http://x/', nil, false)"), "error:interrupted", "after SIGINT every call raises");
    rb_gate_interrupt(0);
    rb_gate_set_mode(RB_MODE_FREE);
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/', nil, true)"), "send", "free mode (runbook lua) sends writes");
    lua_close(L);
    return TAP_DONE();
}
