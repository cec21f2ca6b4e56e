/* test_gate.c — the choke point: effects per mode, plan recording, and
 * apply-time matching against the approved plan (the same call passes; a
 * different target or argument is stopped; argument tables compare by
 * content, not insertion order). */
#include "gate_ctl.h"
#include "state.h"
#include "tap.h"
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* gate_call(op, target, args, is_write, report?) -> "send" | "simulate"
 * (raises like a binding would). report false: the binding "raises" after
 * its gate call, so only the ticket's __close can report. */
static int l_gate_call(lua_State *L)
{
    rb_action a = {"test", luaL_checkstring(L, 1), luaL_checkstring(L, 2), lua_isnoneornil(L, 3) ? 0 : 3};
    rb_effect e = lua_toboolean(L, 4) ? RB_WRITE : RB_READ;
    int report = lua_isnoneornil(L, 5) || lua_toboolean(L, 5);
    rb_ticket *t = rb_gate_open(L, &a, e);
    int send = rb_ticket_sendable(t);
    if (!send) rb_ticket_simulated(L, t, NULL);
    if (!report) return luaL_error(L, "binding failed after its gate call");
    rb_ticket_done(L, t, 1, NULL);
    TAP_OK(!rb_ticket_sendable(t), "a ticket is spent once done");
    lua_pushstring(L, send ? "send" : "simulate");
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

    /* an unplanned write says what it differed in */
    rb_gate_reset();
    rb_gate_set_mode(RB_MODE_PLAN);
    run(L, "return gate_call('delete', 'http://x/pod-a', nil, true)");
    rb_gate_approve();
    rb_gate_set_mode(RB_MODE_APPLY);
    TAP_EQ_STR(run(L, "return gate_call('delete', 'http://x/pod-b', nil, true)"), "error:unplanned", "apply: another pod is stopped");
    const char *why = rb_gate_unplanned();
    TAP_OK(why && strstr(why, "tried:    test.delete http://x/pod-b") && strstr(why, "approved: test.delete http://x/pod-a")
           && strstr(why, "differs in: target"), "the gate says what was tried, what was approved, and what differs");

    /* a binding that raises after its gate call: the ticket still audits the result */
    char path[] = "/tmp/rb-test-gate-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    rb_gate_set_audit(path, "\"run\":\"t\"");
    rb_gate_reset();
    rb_gate_set_mode(RB_MODE_PLAN);
    run(L, "return gate_call('post', 'http://x/raise', nil, true)");
    rb_gate_approve();
    rb_gate_set_mode(RB_MODE_APPLY);
    TAP_OK(strncmp(run(L, "return gate_call('post', 'http://x/raise', nil, true, false)"), "error:", 6) == 0,
           "apply: the binding raised after its gate call");
    TAP_EQ_INT(rb_gate_write_in_flight(), 0, "no write is left in flight");
    FILE *f = fopen(path, "r");
    char buf[4096] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    TAP_OK(strstr(buf, "\"event\":\"intent\"") != NULL, "the intent was audited before the call");
    TAP_OK(strstr(buf, "\"event\":\"result\"") && strstr(buf, "\"ok\":false") && strstr(buf, "raised before it completed"),
           "the ticket's close audited a failed result");
    unlink(path);
    rb_gate_set_audit(NULL, NULL);

    rb_gate_interrupt(1);
    TAP_EQ_STR(run(L, "return gate_call('get', 'http://x/', nil, false)"), "error:interrupted", "after SIGINT every call raises");
    rb_gate_interrupt(0);
    rb_gate_set_mode(RB_MODE_FREE);
    TAP_EQ_STR(run(L, "return gate_call('post', 'http://x/', nil, true)"), "send", "free mode (runbook lua) sends writes");
    lua_close(L);
    return TAP_DONE();
}
