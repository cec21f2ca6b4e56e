/* gate.h — the choke point every binding call passes through (DESIGN §4, §9).
 *
 * A binding declares each function read or write and asks the gate for a
 * ticket (rb_gate_open) before any byte leaves the process; the transports
 * (engine/net/) send nothing without a sendable ticket. The mode that applies
 * is the calling lua_State's: a runbook world's own mode (world_tag.h), set
 * only by the engine for one step call, or the engine's mode for its own code:
 *
 *   mode         read          write
 *   investigate  send          raises "write refused in investigate: ..."
 *   plan         send          records a planned action; the ticket says simulate
 *   apply        send          matches the next approved action (digest of the
 *                              canonical call); a mismatch raises "unplanned" and
 *                              rb_gate_unplanned() says what differed; audits
 *                              `intent` (fsync) before the ticket is returned
 *   free         send          send (`runbook lua`: the operator's own script)
 *   load         raises        raises (loading, between steps, finalizers)
 *
 * On a simulate ticket the binding must not change anything. It may ask the
 * server to validate under a read ticket of its own (Kubernetes dryRun=All,
 * SQL EXPLAIN) and report what that showed with rb_ticket_simulated(); if it
 * cannot simulate it passes NULL and the plan labels the action "cannot be
 * simulated". It then returns a planned result (planned = true).
 *
 * rb_ticket_done() reports every call's outcome: for an applied write it
 * audits `result` (ok / error, elapsed ms). Error text is redacted. */
#ifndef RB_GATE_H
#define RB_GATE_H
#include <lua.h>

typedef enum { RB_READ = 0, RB_WRITE = 1 } rb_effect;
typedef enum { RB_SEND = 0, RB_SIMULATE = 1 } rb_verdict;
typedef enum { RB_MODE_FREE = 0, RB_MODE_INVESTIGATE, RB_MODE_PLAN, RB_MODE_APPLY, RB_MODE_LOAD } rb_mode;

typedef struct {
    const char *binding;  /* "http", "pg", "redis", "k8s" */
    const char *op;       /* "post", "exec", "CONFIG SET", "scale" */
    const char *target;   /* URL, "host:port/db", API path; redacted before it is shown */
    int args;             /* stack index of a Lua value (string or table) that
                             identifies the call's arguments, or 0 for none */
} rb_action;

/* The state the next write will change, as the binding just read it (the
 * value at idx, usually a table): kept with the planned action and written
 * into the write's intent event, so `runbook undo` can put it back. Call it
 * right before rb_gate_open of the write; the next decision consumes it. Not
 * part of the action's digest. */
void rb_gate_before(lua_State *L, int idx);

/* Tickets. rb_gate_open() decides the call (raising when it is refused) and
 * pushes a ticket: a to-be-closed userdata (lua_toclose) that must stay on
 * the stack until the binding returns. Transports (engine/net/) take the
 * ticket as an argument and send nothing unless rb_ticket_sendable() holds,
 * so no byte leaves the process without the gate's word. rb_ticket_done()
 * reports the outcome (audits `result` for an applied write); a ticket that
 * is closed without it (the binding raised) reports failure itself, so the
 * result event is never lost and the in-flight state is always cleared. */
typedef struct rb_ticket rb_ticket;
rb_ticket *rb_gate_open(lua_State *L, const rb_action *a, rb_effect e);
int rb_ticket_simulate(const rb_ticket *t);   /* plan-mode write: simulate, send nothing */
int rb_ticket_sendable(const rb_ticket *t);   /* issued, verdict send, not yet done */
void rb_ticket_simulated(lua_State *L, rb_ticket *t, const char *what);
void rb_ticket_done(lua_State *L, rb_ticket *t, int ok, const char *err);


rb_mode rb_gate_mode(void);
/* The mode for a call made from L (a runbook world's mode, or the engine's). */
rb_mode rb_gate_mode_of(lua_State *L);

/* Records a finding (level "warning" or "critical") in the audit log of the
 * current run, e.g. "TLS verification disabled"; no-op outside a run. */
void rb_gate_finding(lua_State *L, const char *name, const char *level, const char *message);
#endif

/* Lua side (engine-private module "rb._gate"; sections cannot require it,
 * `runbook lua` scripts and busted specs can, to exercise modes):
 *   gate.set_mode("investigate" | "plan" | "apply" | "free")
 *   gate.plan()      -> { {binding, op, target, args, simulated, simulable}, ... }
 *                       actions recorded since the last reset (args redacted text)
 *   gate.confirm(p)  -> approves plan p for the next apply pass
 *   gate.reset()     -> forgets plan and approval
 */
