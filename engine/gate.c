/* gate.c — the choke point (see gate.h): effects, plan recording, plan
 * matching and the intent/result audit of writes. State is process-wide and
 * lives in C, where section scripts cannot reach it. */
#include "gate_ctl.h"
#include "audit.h"
#include "box.h"
#include "canon.h"
#include "errors.h"
#include "redact.h"
#include "world_tag.h"
#include <lauxlib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The engine's own mode: closed (no I/O) until a command opens it; only
 * `runbook lua` (the operator's own script) sets free. */
static rb_mode mode = RB_MODE_LOAD;
static rb_planned *plan;            /* recorded in plan mode */
static int nplan, capplan;
static rb_planned *approved;        /* what the operator confirmed */
static int napproved, next_approved;
static char *audit_path, *audit_members;
static volatile int interrupted;
static int tickets_writing;          /* live tickets of applied writes */
static char *unplanned;              /* why the last apply pass was stopped, for the runner */
static char *pending_before;         /* rb_gate_before: for the next write decided */

#define TICKET_LIVE 0x5449434bu
#define TICKET_DONE 0x444f4e45u
struct rb_ticket {
    unsigned magic;                  /* TICKET_LIVE until done */
    rb_effect effect;
    rb_verdict verdict;
    rb_mode mode;                    /* the mode the call was decided in */
    const rb_planned *approved;      /* an applied write: the action matched */
    double started;
};
static char ticket_mt_key;

static const char *const mode_names[] = {"free", "investigate", "plan", "apply", "load"};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *dup_redacted(const char *s, size_t len)
{
    return rb_redact(s ? s : "", s ? len : 0, NULL);
}

static void free_planned(rb_planned *p)
{
    free(p->binding); free(p->op); free(p->target); free(p->args); free(p->simulated); free(p->before);
    memset(p, 0, sizeof *p);
}

static void free_list(rb_planned **list, int *n)
{
    for (int i = 0; i < *n; i++) free_planned(&(*list)[i]);
    free(*list);
    *list = NULL;
    *n = 0;
}

void rb_gate_set_mode(rb_mode m) { mode = m; }
rb_mode rb_gate_mode(void) { return mode; }

/* The mode that applies to a call made from L: a world's own mode for
 * runbook code, the engine's mode for the engine's own code. */
static rb_mode mode_for(lua_State *L)
{
    rb_world_tag *t = rb_world_tag_of(L);
    return t ? (rb_mode)t->mode : mode;
}
rb_mode rb_gate_mode_of(lua_State *L) { return mode_for(L); }
int rb_gate_plan_count(void) { return nplan; }
const rb_planned *rb_gate_plan_at(int i) { return i >= 0 && i < nplan ? &plan[i] : NULL; }
int rb_gate_approved_left(void) { return napproved - next_approved; }
void rb_gate_interrupt(int on) { interrupted = on; }
int rb_gate_interrupted(void) { return interrupted; }
int rb_gate_write_in_flight(void) { return tickets_writing > 0; }

void rb_gate_reset(void)
{
    free(pending_before);
    pending_before = NULL;
    free(unplanned);
    unplanned = NULL;
    free_list(&plan, &nplan);
    free_list(&approved, &napproved);
    capplan = 0;
    next_approved = 0;
}

void rb_gate_approve(void)
{
    free(unplanned);
    unplanned = NULL;
    free_list(&approved, &napproved);
    approved = plan;
    napproved = nplan;
    plan = NULL;
    nplan = capplan = 0;
    next_approved = 0;
}

void rb_gate_set_audit(const char *path, const char *members)
{
    free(audit_path);
    free(audit_members);
    audit_path = path ? strdup(path) : NULL;
    audit_members = members ? strdup(members) : NULL;
}

/* Pushes the canonical JSON of the call: binding, op, target, args. */
static void push_call(lua_State *L, const rb_action *a)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, a->binding);
    lua_setfield(L, -2, "binding");
    lua_pushstring(L, a->op);
    lua_setfield(L, -2, "op");
    lua_pushstring(L, a->target ? a->target : "");
    lua_setfield(L, -2, "target");
    if (a->args) {
        lua_pushvalue(L, a->args);
        lua_setfield(L, -2, "args");
    }
    rb_canon_push(L, -1);
    lua_remove(L, -2);
}

static void digest_of(const char *s, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
}

static void fill_planned(lua_State *L, const rb_action *a, rb_planned *p)
{
    size_t len;
    memset(p, 0, sizeof *p);
    p->binding = strdup(a->binding);
    p->op = strdup(a->op);
    p->target = dup_redacted(a->target, a->target ? strlen(a->target) : 0);
    if (a->args) {
        rb_canon_push(L, a->args);
        const char *s = lua_tolstring(L, -1, &len);
        p->args = dup_redacted(s, len);
        lua_pop(L, 1);
    } else p->args = strdup("null");
    push_call(L, a);
    const char *c = lua_tolstring(L, -1, &len);
    digest_of(c, len, p->digest);
    lua_pop(L, 1);
    p->simulable = 1;
    p->before = pending_before;   /* the write's own; taken over */
    pending_before = NULL;
}

/* An interrupt stops every send except an applied write already decided:
 * it finishes and its result is audited. */
static int interrupted_blocks(const rb_ticket *t) { return interrupted && !t->approved; }

static void record(lua_State *L, const rb_action *a)
{
    if (nplan == capplan) {
        int ncap = capplan ? capplan * 2 : 8;
        rb_planned *np = realloc(plan, (size_t)ncap * sizeof *np);
        if (!np) luaL_error(L, "out of memory recording the plan");
        plan = np;
        capplan = ncap;
    }
    fill_planned(L, a, &plan[nplan++]);
}

static void gate_simulated(lua_State *L, const char *what)
{
    if (mode_for(L) != RB_MODE_PLAN || nplan == 0) return;
    rb_planned *p = &plan[nplan - 1];
    free(p->simulated);
    p->simulated = what ? dup_redacted(what, strlen(what)) : NULL;
    p->simulable = what != NULL;
}

/* Raises an error table {kind, message, action = "..."} (misuse-level stop). */
static int raise_kind(lua_State *L, const char *kind, const rb_action *a, const char *fmt)
{
    char *t = dup_redacted(a->target, a->target ? strlen(a->target) : 0);
    rb_error_push(L, kind, fmt, a->binding, a->op, t ? t : "");
    free(t);
    return lua_error(L);
}

/* Appends an intent or result event for the approved action p, whose
 * redacted fields were computed when the plan was recorded. */
static void audit_write(lua_State *L, const rb_planned *p, const char *event, const char *tail)
{
    if (!audit_path) return;
    luaL_Buffer b;
    char err[256];
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "\"event\":\"");
    luaL_addstring(&b, event);
    luaL_addstring(&b, "\",");
    luaL_addstring(&b, audit_members ? audit_members : "\"run\":null");
    luaL_addstring(&b, ",\"action\":{\"binding\":\"");
    luaL_addstring(&b, p->binding);
    luaL_addstring(&b, "\",\"op\":");
    lua_pushstring(L, p->op); rb_canon_push(L, -1); lua_remove(L, -2);
    luaL_addvalue(&b);
    luaL_addstring(&b, ",\"target\":");
    lua_pushstring(L, p->target); rb_canon_push(L, -1); lua_remove(L, -2);
    luaL_addvalue(&b);
    luaL_addstring(&b, ",\"args\":");
    luaL_addstring(&b, p->args);
    luaL_addstring(&b, "}");
    if (tail) luaL_addstring(&b, tail);
    luaL_pushresult(&b);
    size_t len;
    const char *m = lua_tolstring(L, -1, &len);
    int rc = rb_audit_append(audit_path, m, len, 1, err, sizeof err);
    lua_pop(L, 1);
    if (rc < 0) luaL_error(L, "audit: %s", err);   /* no audit, no write */
}

/* The write must be the next approved action (same digest); that action is
 * what the intent and result events describe. */

/* Says what differs between the write tried and the next approved action
 * (both redacted), into a malloc'd text kept for the runner (gate.unplanned). */
static void note_unplanned(const rb_planned *tried)
{
    const rb_planned *want = next_approved < napproved ? &approved[next_approved] : NULL;
    size_t n = 4096;
    free(unplanned);
    if (!(unplanned = malloc(n))) return;
    if (!want) {
        snprintf(unplanned, n, "tried:    %s.%s %s\n          args %s\napproved: nothing more (every approved action was already sent)",
                 tried->binding, tried->op, tried->target, tried->args);
        return;
    }
    snprintf(unplanned, n, "tried:    %s.%s %s\n          args %s\napproved: %s.%s %s\n          args %s\ndiffers in:%s%s%s%s",
             tried->binding, tried->op, tried->target, tried->args, want->binding, want->op, want->target, want->args,
             strcmp(tried->binding, want->binding) ? " binding" : "", strcmp(tried->op, want->op) ? " operation" : "",
             strcmp(tried->target, want->target) ? " target" : "",
             strcmp(tried->args, want->args) ? " arguments" : (strcmp(tried->target, want->target) || strcmp(tried->op, want->op)
                                                            || strcmp(tried->binding, want->binding) ? "" : " unredacted arguments"));
}

const char *rb_gate_unplanned(void) { return unplanned; }

/* The write must be the next approved action (same digest); *matched is
 * that action, which the intent and result events describe. */
static rb_verdict apply_write(lua_State *L, const rb_action *a, const rb_planned **matched)
{
    rb_planned p;
    fill_planned(L, a, &p);
    int match = next_approved < napproved && strcmp(approved[next_approved].digest, p.digest) == 0;
    if (!match) {
        note_unplanned(&p);
        free_planned(&p);
        raise_kind(L, "unplanned", a, "write not in the approved plan: %s.%s %s");
    }
    const rb_planned *sent = &approved[next_approved++];
    /* the state this write changes, as read just now: what `runbook undo` restores */
    if (p.before) lua_pushfstring(L, ",\"before\":%s", p.before); else lua_pushliteral(L, "");
    free_planned(&p);
    audit_write(L, sent, "intent", lua_tostring(L, -1));
    lua_pop(L, 1);
    *matched = sent;
    return RB_SEND;
}

void rb_gate_before(lua_State *L, int idx)
{
    size_t len;
    rb_canon_push(L, idx);
    const char *b = lua_tolstring(L, -1, &len);
    free(pending_before);
    pending_before = dup_redacted(b, len);
    lua_pop(L, 1);
}

static rb_verdict decide(lua_State *L, const rb_action *a, rb_effect e, rb_mode m, const rb_planned **matched)
{
    /* a before-state belongs to the next write decided, whatever the verdict:
       only plan and apply keep it (fill_planned takes it over) */
    if (e == RB_WRITE && m != RB_MODE_PLAN && m != RB_MODE_APPLY) { free(pending_before); pending_before = NULL; }
    if (interrupted) raise_kind(L, "interrupted", a, "interrupted before %s.%s %s");
    if (m == RB_MODE_LOAD)
        raise_kind(L, "refused", a, rb_world_tag_of(L)
                   ? "no I/O outside a step (loading, between steps, finalizers): %s.%s %s"
                   : "no I/O while loading a runbook: %s.%s %s");
    if (e == RB_READ) return RB_SEND;
    switch (m) {
    case RB_MODE_INVESTIGATE:
        raise_kind(L, "refused", a, "write refused in investigate: %s.%s %s");
        return RB_SIMULATE;
    case RB_MODE_PLAN:
        record(L, a);
        return RB_SIMULATE;
    case RB_MODE_APPLY:
        return apply_write(L, a, matched);
    default:
        return RB_SEND;
    }
}


static void audit_result(lua_State *L, const rb_planned *sent, double started, int ok, const char *err);

void rb_ticket_done(lua_State *L, rb_ticket *t, int ok, const char *err)
{
    if (!t || t->magic != TICKET_LIVE) return;
    t->magic = TICKET_DONE;
    if (!t->approved) return;
    tickets_writing--;
    audit_result(L, t->approved, t->started, ok, err);
}

/* __close and __gc: a ticket never reported (the binding raised) is a failed call. */
static int ticket_close(lua_State *L)
{
    rb_ticket *t = lua_touserdata(L, 1);
    if (t && t->magic == TICKET_LIVE) rb_ticket_done(L, t, 0, "the call raised before it completed");
    return 0;
}

rb_ticket *rb_gate_open(lua_State *L, const rb_action *a, rb_effect e)
{
    rb_mode m = mode_for(L);
    luaL_checkstack(L, 4, "gate");
    rb_ticket *t = rb_tbc_new(L, sizeof *t, &ticket_mt_key, ticket_close, "rb.Ticket");
    t->magic = TICKET_DONE;            /* born closed (nothing to report) until decided */
    const rb_planned *matched = NULL;
    t->verdict = decide(L, a, e, m, &matched);
    t->effect = e;
    t->mode = m;
    t->magic = TICKET_LIVE;
    if (e == RB_WRITE && m == RB_MODE_APPLY) {
        t->approved = matched;          /* apply_write matched it and audited the intent */
        t->started = now_ms();
        tickets_writing++;
    }
    return t;
}

int rb_ticket_simulate(const rb_ticket *t) { return t && t->verdict == RB_SIMULATE; }
int rb_ticket_sendable(const rb_ticket *t)
{
    return t && t->magic == TICKET_LIVE && t->verdict == RB_SEND && !interrupted_blocks(t);
}

void rb_ticket_simulated(lua_State *L, rb_ticket *t, const char *what)
{
    if (t && t->mode == RB_MODE_PLAN) gate_simulated(L, what);
}

static void audit_result(lua_State *L, const rb_planned *sent, double started, int ok, const char *err)
{
    char tail[128];
    snprintf(tail, sizeof tail, ",\"ok\":%s,\"ms\":%.1f", ok ? "true" : "false", now_ms() - started);
    if (!ok && err) {
        lua_pushstring(L, tail);
        lua_pushliteral(L, ",\"error\":");
        lua_pushstring(L, err);
        rb_canon_push(L, -1);
        lua_remove(L, -2);
        lua_concat(L, 3);
        audit_write(L, sent, "result", lua_tostring(L, -1));
        lua_pop(L, 1);
    } else audit_write(L, sent, "result", tail);
}


void rb_gate_finding(lua_State *L, const char *name, const char *level, const char *message)
{
    char err[256];
    if (!audit_path) return;
    lua_pushfstring(L, "\"event\":\"finding\",%s,\"finding\":{\"name\":", audit_members ? audit_members : "\"run\":null");
    lua_pushstring(L, name); rb_canon_push(L, -1); lua_remove(L, -2);
    lua_pushliteral(L, ",\"level\":");
    lua_pushstring(L, level); rb_canon_push(L, -1); lua_remove(L, -2);
    lua_pushliteral(L, ",\"message\":");
    lua_pushstring(L, message); rb_canon_push(L, -1); lua_remove(L, -2);
    lua_pushliteral(L, "}");
    lua_concat(L, 7);
    size_t len;
    const char *m = lua_tolstring(L, -1, &len);
    if (rb_audit_append(audit_path, m, len, 1, err, sizeof err) < 0) luaL_error(L, "audit: %s", err);
    lua_pop(L, 1);
}

const char *rb_gate_mode_name(rb_mode m) { return mode_names[m]; }
