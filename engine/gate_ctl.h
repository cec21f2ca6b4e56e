/* gate_ctl.h — the runner's side of the gate: set the mode, read the plan,
 * approve it, and say where intent/result events are audited. Used by the
 * engine-private Lua module rb._gate (bind/gate.c) and by unit tests. */
#ifndef RB_GATE_CTL_H
#define RB_GATE_CTL_H
#include "gate.h"

typedef struct {
    char *binding, *op, *target;  /* target redacted */
    char *args;                   /* canonical JSON, redacted */
    char *simulated;              /* what a server-side dry run showed, or NULL */
    char *before;                 /* canonical JSON of the state before, redacted, or NULL */
    int simulable;                /* 0: "cannot be simulated" */
    char digest[65];              /* SHA-256 of the unredacted call, for matching */
} rb_planned;

void rb_gate_set_mode(rb_mode m);
int rb_gate_plan_count(void);
const rb_planned *rb_gate_plan_at(int i);
int rb_gate_approved_left(void);        /* approved actions not yet matched */
void rb_gate_approve(void);             /* the recorded plan becomes the approved one */
void rb_gate_reset(void);
/* Audit file and the JSON members (run, user, host, section, step, dry_run)
 * that intent/result events carry; NULL path: no auditing. Copied. */
void rb_gate_set_audit(const char *path, const char *members);
/* Set from the SIGINT handler's hook: every later gate entry raises. */
void rb_gate_interrupt(int on);
int rb_gate_interrupted(void);
/* Non-zero while a write the gate let through has not reported back: an
 * interrupt then lets it finish (and be audited) rather than cutting it. */
int rb_gate_write_in_flight(void);
const char *rb_gate_mode_name(rb_mode m);
/* Why the last apply pass was stopped (tried vs approved, what differs), or
 * NULL: set only by the gate, so runbook code cannot fake an "unplanned" stop. */
const char *rb_gate_unplanned(void);
#endif
