/* pg.c — rb.pg: PostgreSQL through libpq (docs/lua/pg.md).
 *
 *   pg.connect(dsn | {host=, port=, dbname=, user=, password=, ...} [, opts])
 *   conn:query(sql, ...)   read: one statement, $n parameters, in a READ ONLY
 *                          transaction: the session's default (checked through
 *                          the parameter the server reports), else BEGIN READ
 *                          ONLY; sql; ROLLBACK pipelined into one round trip;
 *                          refused before sending when it names a side-effecting
 *                          function (core/pg_sql.c) or, the first time the
 *                          connection sees the text, when EXPLAIN (VERBOSE) shows
 *                          it calls a volatile function outside the allow-list
 *   conn:exec(sql, ...)    write, through the gate: EXPLAIN in plan mode, run
 *                          outside a transaction block (VACUUM works) when sent,
 *                          the session made read-write just for it
 *   conn:cancel_backend(pid), conn:terminate_backend(pid)
 *                          writes, through the gate: in plan mode a read asks
 *                          the server whether current_user may signal that
 *                          backend and the verdict is what the plan shows
 *   conn:close(), <close>, conn:escape_literal(s), conn:escape_identifier(s),
 *   conn:target()          "host:port/db" or "unix:///dir?port=N&db=D"
 *
 * All I/O goes through net/pg_conn.c under the call's gate ticket (connect
 * included), nonblocking with deadlines enforced with poll(): connect
 * (PQconnectStartParams + PQconnectPoll, default 5 s) and every call
 * (statement_timeout on the server, default 30 s, plus a client bound a little
 * longer, so a server that stops answering cannot hang a runbook). Uses the
 * gate (gate.h), the redactor (every password seen) and errors.h. */
#include "core/pg_sql.h"
#include "core/pg_value.h"
#include "errors.h"
#include "gate.h"
#include "luaopt.h"
#include "net/pg_conn.h"
#include "redact.h"
#include <lauxlib.h>
#include <libpq-fe.h>
#include <pg_config_manual.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONN_MT "rb.pg.Conn"
#define DEFAULT_CONNECT_TIMEOUT 5.0
#define DEFAULT_STATEMENT_TIMEOUT 30.0
#define CLIENT_GRACE 5.0          /* client bound = statement timeout + this */
#define MAX_PARAMS 4096
#define MAX_NOTICES 8
#define COLSIG_MAX 512            /* column shapes cached up to this size */
#define COLS_MAX 32

static char methods_key;          /* registry: the method table (pg.Conn) */

typedef struct {
    PGconn *pg;                   /* NULL: closed (or lost after a timeout) */
    int closed;                   /* conn:close() was called */
    double stmt_timeout;          /* seconds; the session's statement_timeout */
    char target[512];             /* host:port/db or unix:///dir?port=N&db=D (target_label) */
    char lost[1024];              /* why pg went away, if it did */
    char notices[MAX_NOTICES][200]; /* NOTICE/WARNING lines of the current call */
    int nnotices;
    /* The shape (oids and names) of the last result and its converters: a
     * runbook repeats the same queries, so res.columns and the per-column
     * conversion are made once per shape (the table is in the registry under
     * this struct's address). */
    char colsig[COLSIG_MAX];
    size_t colsig_len;
    rb_pg_class cls[COLS_MAX];
} pgconn;

/* ---- small utilities ---------------------------------------------------- */

static void secret(const char *s)
{
    if (s && *s) rb_redact_add(s, strlen(s));
}

/* Pushes nil and an error table whose message is "what: msg" (redacted). */
static int fail(lua_State *L, const char *kind, const char *what, const char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
    return rb_error_return(L, kind, "%s: %.*s", what, (int)n, msg);
}

static pgconn *check_conn(lua_State *L)
{
    pgconn *pc = luaL_checkudata(L, 1, CONN_MT);
    if (pc->closed) luaL_error(L, "attempt to use a closed connection");
    return pc;
}

/* The label a connection is shown by: "host:port/db" over TCP,
 * "unix:///dir?port=N&db=D" over a unix socket (a host that is a directory,
 * or none: libpq's default socket directory). */
static void target_label(char *out, size_t outsz, const char *host, const char *port, const char *db)
{
    if (!port || !*port) port = "5432";
    if (!db) db = "";
    if (!host || !*host) host = DEFAULT_PGSOCKET_DIR;
    if (host[0] == '/' || host[0] == '@')
        snprintf(out, outsz, "unix://%s?port=%s&db=%s", host, port, db);
    else if (strchr(host, ':'))
        snprintf(out, outsz, "[%s]:%s/%s", host, port, db);
    else
        snprintf(out, outsz, "%s:%s/%s", host, port, db);
}

/* ---- transport (net/pg_conn.c) ------------------------------------------ */

enum { IO_OK = RB_PG_OK, IO_TIMEOUT = RB_PG_ETIMEOUT, IO_CONN = RB_PG_ECONN, IO_INTERRUPTED = RB_PG_EINTR };

/* Gives up on a connection whose state is unknown (client timeout, interrupt,
 * broken socket): a statement may still run, so cancel it first. */
static void drop_conn(pgconn *pc, const char *why)
{
    if (!pc->pg) return;
    rb_pg_conn_drop(pc->pg);
    pc->pg = NULL;
    snprintf(pc->lost, sizeof pc->lost, "%s", why);
}

/* nil, err for a failed wait; the connection is dropped (its state is unknown).
 * libpq's message is kept whole (it names every address it tried). */
static int io_fail(lua_State *L, pgconn *pc, int w, double limit)
{
    char why[64];
    if (w == IO_TIMEOUT) {
        snprintf(why, sizeof why, "no answer within %gs", limit);
        drop_conn(pc, why);
        return fail(L, "timeout", pc->target, why);
    }
    if (w == IO_INTERRUPTED) {
        drop_conn(pc, "interrupted");
        return fail(L, "interrupted", pc->target, "interrupted");
    }
    const char *msg = pc->pg ? PQerrorMessage(pc->pg) : "";
    lua_pushstring(L, *msg ? msg : "connection lost");   /* outlives PQfinish */
    drop_conn(pc, lua_tostring(L, -1));
    fail(L, "conn", pc->target, lua_tostring(L, -1));
    lua_remove(L, -3);
    return 2;
}

/* nil, err{kind, sqlstate, message, detail, hint, retryable} from a failed
 * result; fields are copied before PQclear. */
static int result_fail(lua_State *L, pgconn *pc, PGresult *r)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (!msg) msg = PQresultErrorMessage(r);
    if (!msg || !*msg) msg = PQerrorMessage(pc->pg);
    int dead = PQstatus(pc->pg) == CONNECTION_BAD;
    const char *kind = dead ? "conn" : rb_pg_sqlstate_kind(st);
    if (!st && !dead) kind = "sql";
    lua_pushnil(L);
    rb_error_push(L, kind, "%s", msg);
    rb_error_setstr(L, -1, "sqlstate", st);
    rb_error_setstr(L, -1, "detail", PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL));
    rb_error_setstr(L, -1, "hint", PQresultErrorField(r, PG_DIAG_MESSAGE_HINT));
    rb_error_setstr(L, -1, "target", pc->target);
    lua_pushboolean(L, dead || rb_pg_sqlstate_retryable(st));
    lua_setfield(L, -2, "retryable");
    PQclear(r);
    if (dead) drop_conn(pc, "the server closed the connection");
    return 2;
}

static int result_ok(const PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* ---- results to Lua ----------------------------------------------------- */

/* Server notices ("skipping", "only table or database owner can vacuum it")
 * are kept for the call's result (res.notices) instead of going to stderr. */
static void on_notice(void *arg, const PGresult *r)
{
    pgconn *pc = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (!msg || pc->nnotices >= MAX_NOTICES) return;
    snprintf(pc->notices[pc->nnotices++], sizeof pc->notices[0], "%s: %s", sev ? sev : "NOTICE", msg);
}

static void push_notices(lua_State *L, pgconn *pc, int res)
{
    if (!pc->nnotices) return;
    lua_createtable(L, pc->nnotices, 0);
    for (int i = 0; i < pc->nnotices; i++) {
        size_t n;
        char *red = rb_redact(pc->notices[i], strlen(pc->notices[i]), &n);
        lua_pushlstring(L, red ? red : RB_REDACTED, red ? n : strlen(RB_REDACTED));
        free(red);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, res, "notices");
    pc->nnotices = 0;
}

static void push_value(lua_State *L, rb_pg_class cls, const char *v, int len)
{
    long long i;
    double d;
    switch (cls) {
    case RB_PG_INT:
        if (rb_pg_parse_int(v, &i) == 0) { lua_pushinteger(L, (lua_Integer)i); return; }
        break;
    case RB_PG_FLOAT:
        if (rb_pg_parse_float(v, &d) == 0) { lua_pushnumber(L, (lua_Number)d); return; }
        break;
    case RB_PG_BOOL:
        lua_pushboolean(L, v[0] == 't');
        return;
    case RB_PG_TEXT:
        break;
    }
    lua_pushlstring(L, v, (size_t)len);
}

static void push_columns(lua_State *L, const PGresult *r)
{
    int nf = PQnfields(r);
    lua_createtable(L, nf, 0);
    for (int j = 0; j < nf; j++) {
        Oid oid = PQftype(r, j);
        const char *tn = rb_pg_type_name(oid);
        lua_createtable(L, 0, 3);
        lua_pushstring(L, PQfname(r, j));
        lua_setfield(L, -2, "name");
        lua_pushstring(L, tn ? tn : "unknown");
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, (lua_Integer)oid);
        lua_setfield(L, -2, "oid");
        lua_rawseti(L, -2, j + 1);
    }
}

/* The result's shape: each column's oid and name. 0 if too large to cache. */
static size_t column_signature(const PGresult *r, char *sig)
{
    size_t n = 0;
    int nf = PQnfields(r);
    if (nf > COLS_MAX) return 0;
    for (int j = 0; j < nf; j++) {
        Oid oid = PQftype(r, j);
        const char *name = PQfname(r, j);
        size_t len = strlen(name) + 1;
        if (n + sizeof oid + len > COLSIG_MAX) return 0;
        memcpy(sig + n, &oid, sizeof oid);
        memcpy(sig + n + sizeof oid, name, len);
        n += sizeof oid + len;
    }
    return n;
}

/* Pushes res.columns and fills cls[] with each column's conversion; reuses
 * the previous result's table when the shape is the same. */
static void push_shape(lua_State *L, pgconn *pc, const PGresult *r, rb_pg_class *cls)
{
    char sig[COLSIG_MAX];
    int nf = PQnfields(r);
    size_t n = column_signature(r, sig);
    if (n && n == pc->colsig_len && memcmp(sig, pc->colsig, n) == 0) {
        memcpy(cls, pc->cls, (size_t)nf * sizeof *cls);
        lua_rawgetp(L, LUA_REGISTRYINDEX, pc);
        return;
    }
    for (int j = 0; j < nf; j++) cls[j] = rb_pg_type_class(PQftype(r, j));
    push_columns(L, r);
    if (n) {
        memcpy(pc->colsig, sig, n);
        pc->colsig_len = n;
        memcpy(pc->cls, cls, (size_t)nf * sizeof *cls);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, pc);
    }
}

/* res = { [i] = row keyed by column name, n = rows, columns = {...},
 *         command = "SELECT", rows_affected = n } */
static void push_result(lua_State *L, pgconn *pc, const PGresult *r)
{
    int n = PQntuples(r), nf = PQnfields(r);
    char cmd[64];
    rb_pg_class small[COLS_MAX], *cls = small;
    luaL_checkstack(L, nf + 8, "too many columns");
    lua_createtable(L, n, 4);
    int res = lua_gettop(L);
    if (nf > COLS_MAX) cls = lua_newuserdatauv(L, (size_t)nf * sizeof *cls, 0);
    push_shape(L, pc, r, cls);
    lua_setfield(L, res, "columns");
    int names = lua_gettop(L) + 1;
    for (int j = 0; j < nf; j++) lua_pushstring(L, PQfname(r, j));
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, nf);
        for (int j = 0; j < nf; j++) {
            lua_pushvalue(L, names + j);
            if (PQgetisnull(r, i, j)) lua_pushlightuserdata(L, NULL);   /* pg.null */
            else push_value(L, cls[j], PQgetvalue(r, i, j), PQgetlength(r, i, j));
            lua_rawset(L, -3);
        }
        lua_rawseti(L, res, i + 1);
    }
    lua_settop(L, res);
    lua_pushinteger(L, n);
    lua_setfield(L, res, "n");
    rb_pg_command_word(PQcmdStatus((PGresult *)r), cmd, sizeof cmd);
    lua_pushstring(L, cmd);
    lua_setfield(L, res, "command");
    lua_pushinteger(L, atoi(PQcmdTuples((PGresult *)r)));
    lua_setfield(L, res, "rows_affected");
}

/* ---- a call: SQL text and parameters ------------------------------------ */

typedef struct {
    const char *sql;
    int nparams;
    const char **values;          /* in a userdata on the stack: freed by the GC */
    double timeout;               /* seconds; 0: the connection's default */
    rb_pg_sql_info info;
} call;

/* Accepts (self, sql, p1, ..., pn) or (self, {sql, p1, ..., n =, timeout =}):
 * the table form carries per-call options. Leaves self, sql, params on the
 * stack (so the argument strings live as long as the call). */
static void normalize_args(lua_State *L, call *c)
{
    c->timeout = 0;
    if (lua_type(L, 2) != LUA_TTABLE) return;
    luaL_argcheck(L, lua_gettop(L) == 2, 3, "no extra arguments after a call table");
    c->timeout = rb_opt_seconds(L, 2, "timeout", 0, "call");
    lua_getfield(L, 2, "n");
    lua_Integer n = lua_isnil(L, -1) ? (lua_Integer)lua_rawlen(L, 2) : luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    luaL_argcheck(L, n >= 1 && n <= MAX_PARAMS, 2, "call table needs the SQL text at [1]");
    luaL_checkstack(L, (int)n, "too many parameters");
    for (lua_Integer i = 1; i <= n; i++) lua_rawgeti(L, 2, i);
    lua_remove(L, 2);
}

static const char *param_text(lua_State *L, int idx)
{
    size_t len;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return NULL;
    case LUA_TLIGHTUSERDATA:
        luaL_argcheck(L, lua_touserdata(L, idx) == NULL, idx, "only pg.null may be a userdata parameter");
        return NULL;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        lua_replace(L, idx);
        return lua_tostring(L, idx);
    case LUA_TNUMBER:
        return lua_tostring(L, idx);   /* converts the slot: the text lives there */
    case LUA_TSTRING: {
        const char *s = lua_tolstring(L, idx, &len);
        luaL_argcheck(L, strlen(s) == len, idx, "text parameters cannot contain NUL bytes");
        return s;
    }
    default:
        luaL_argerror(L, idx, lua_pushfstring(L, "a parameter must be a string, number, boolean, nil "
                                              "or pg.null, not %s", luaL_typename(L, idx)));
        return NULL;
    }
}

/* Reads sql and parameters at 2..top; raises on misuse (several statements,
 * $n without a value). */
static void read_call(lua_State *L, call *c, const char *fname)
{
    size_t len;
    normalize_args(L, c);
    c->sql = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, strlen(c->sql) == len, 2, "SQL text cannot contain NUL bytes");
    rb_pg_sql_scan(c->sql, len, &c->info);
    if (c->info.statements != 1)
        luaL_error(L, "%s: exactly one SQL statement, got %d (run them one call each)", fname,
                   c->info.statements);
    if (c->info.unterminated)
        luaL_error(L, "%s: unterminated string, quoted identifier or comment in the SQL", fname);
    c->nparams = lua_gettop(L) - 2;
    luaL_argcheck(L, c->nparams <= MAX_PARAMS, MAX_PARAMS + 2, "too many parameters");
    if (c->info.max_param > c->nparams)
        luaL_error(L, "%s: the SQL uses $%d but %d parameter(s) were given", fname,
                   c->info.max_param, c->nparams);
}

/* Converts the parameters at 3..top to text in place (after the gate has seen
 * the originals); the pointer array lives in a userdata pushed on top. */
static void bind_params(lua_State *L, call *c)
{
    for (int i = 0; i < c->nparams; i++) param_text(L, i + 3);
    c->values = lua_newuserdatauv(L, (size_t)(c->nparams ? c->nparams : 1) * sizeof *c->values, 0);
    for (int i = 0; i < c->nparams; i++)
        c->values[i] = lua_isstring(L, i + 3) ? lua_tostring(L, i + 3) : NULL;
}

static double call_timeout(const pgconn *pc, const call *c)
{
    return c->timeout > 0 ? c->timeout : pc->stmt_timeout;
}

static int send_params(const rb_ticket *t, PGconn *g, const char *sql, const call *c)
{
    return rb_pg_conn_send(t, g, sql, c ? c->nparams : 0, c ? c->values : NULL);
}

/* ---- query: BEGIN READ ONLY; [SET LOCAL statement_timeout]; sql; ROLLBACK --- */

/* Runs sql (with c's parameters) in a read-only transaction that is rolled
 * back, all pipelined into one round trip. Pushes the result table, or nil, err. */
static int run_read_only(lua_State *L, const rb_ticket *t, pgconn *pc, const char *sql, const call *c)
{
    PGconn *g = pc->pg;
    double limit = call_timeout(pc, c) + CLIENT_GRACE, deadline = rb_pg_now() + limit;
    char set_timeout[64];
    int ok = PQenterPipelineMode(g) && send_params(t, g, "BEGIN READ ONLY", NULL);
    int ncmd = 3, user = 1;
    if (ok && c->timeout > 0) {
        snprintf(set_timeout, sizeof set_timeout, "SET LOCAL statement_timeout = %.0f", c->timeout * 1000);
        ok = send_params(t, g, set_timeout, NULL);
        ncmd = 4, user = 2;
    }
    ok = ok && send_params(t, g, sql, c) && send_params(t, g, "ROLLBACK", NULL) && rb_pg_conn_sync(t, g);
    if (!ok) return io_fail(L, pc, IO_CONN, limit);
    PGresult *mine = NULL, *bad = NULL;
    for (int i = 0; i <= ncmd; i++) {          /* ncmd commands and the sync */
        PGresult *r;
        int w = rb_pg_conn_next_result(t, g, deadline, &r);
        if (w) { PQclear(mine); PQclear(bad); return io_fail(L, pc, w, limit); }
        if (!r) continue;
        if (i == user) mine = r;
        else if (!bad && !result_ok(r) && PQresultStatus(r) != PGRES_PIPELINE_SYNC
                 && PQresultStatus(r) != PGRES_PIPELINE_ABORTED) bad = r;
        else PQclear(r);
        if (PQstatus(g) == CONNECTION_BAD) break;
    }
    if (PQstatus(g) != CONNECTION_BAD) {
        PQexitPipelineMode(g);
        if (PQtransactionStatus(g) != PQTRANS_IDLE) {   /* an error skipped our ROLLBACK */
            PGresult *r = NULL;
            int w = send_params(t, g, "ROLLBACK", NULL) ? rb_pg_conn_next_result(t, g, deadline, &r) : IO_CONN;
            PQclear(r);
            if (w) { PQclear(mine); PQclear(bad); return io_fail(L, pc, w, limit); }
        }
    }
    if (mine && !result_ok(mine)) { PQclear(bad); return result_fail(L, pc, mine); }
    if (bad || !mine) {
        PQclear(mine);
        if (bad) return result_fail(L, pc, bad);
        return io_fail(L, pc, IO_CONN, limit);
    }
    push_result(L, pc, mine);
    PQclear(mine);
    push_notices(L, pc, lua_gettop(L));
    return 1;
}

/* ---- exec: one statement outside any transaction block ------------------ */

static int run_one(lua_State *L, const rb_ticket *t, pgconn *pc, const char *sql, const call *c, double limit)
{
    PGresult *r = NULL;
    if (!send_params(t, pc->pg, sql, c)) return io_fail(L, pc, IO_CONN, limit);
    int w = rb_pg_conn_next_result(t, pc->pg, rb_pg_now() + limit, &r);
    if (w) return io_fail(L, pc, w, limit);
    if (!r) return io_fail(L, pc, IO_CONN, limit);
    if (!result_ok(r)) return result_fail(L, pc, r);
    push_result(L, pc, r);
    PQclear(r);
    push_notices(L, pc, lua_gettop(L));
    return 1;
}

/* SET name = value (ours, never user text) for the session; 1 on success,
 * else 0 with nil, err pushed. */
static int set_guc(lua_State *L, const rb_ticket *t, pgconn *pc, const char *name, const char *value)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SET %s = %s", name, value);
    if (run_one(L, t, pc, sql, NULL, DEFAULT_CONNECT_TIMEOUT + CLIENT_GRACE) != 1) return 0;
    lua_pop(L, 1);
    return 1;
}

static int set_timeout(lua_State *L, const rb_ticket *t, pgconn *pc, double secs)
{
    char ms[32];
    snprintf(ms, sizeof ms, "%.0f", secs * 1000);
    return set_guc(L, t, pc, "statement_timeout", ms);
}

/* The read session: every statement's own transaction is READ ONLY, as the
 * server itself reports (default_transaction_read_only is a reported
 * parameter since PostgreSQL 14, so libpq always knows its current value). */
static int session_read_only(const pgconn *pc)
{
    const char *v = PQparameterStatus(pc->pg, "default_transaction_read_only");
    return PQtransactionStatus(pc->pg) == PQTRANS_IDLE && v && strcmp(v, "on") == 0;
}

/* Runs the statement read-write, then puts the session back to read-only (and
 * the default timeout). If that fails the connection is dropped: a session
 * whose state is unknown is not used for reads. */
static int run_exec(lua_State *L, const rb_ticket *t, pgconn *pc, const call *c)
{
    if (!set_guc(L, t, pc, "default_transaction_read_only", "off")) return 2;
    int n = (c->timeout > 0 && !set_timeout(L, t, pc, c->timeout))
        ? 2 : run_one(L, t, pc, c->sql, c, call_timeout(pc, c) + CLIENT_GRACE);
    if (!pc->pg) return n;
    if (!set_guc(L, t, pc, "default_transaction_read_only", "on")
        || (c->timeout > 0 && !set_timeout(L, t, pc, pc->stmt_timeout))) {
        lua_pop(L, 2);
        drop_conn(pc, "could not make the session read-only again after exec");
    }
    return n;
}

/* ---- gate plumbing ------------------------------------------------------ */

static int lost_fail(lua_State *L, pgconn *pc)
{
    return fail(L, "conn", pc->target, *pc->lost ? pc->lost : "connection lost");
}

/* Text of the call error for rb_ticket_done: the message of the error at top. */
static const char *top_error(lua_State *L, int nret)
{
    if (nret != 2) return NULL;
    lua_getfield(L, -1, "message");
    const char *m = lua_tostring(L, -1);
    lua_pop(L, 1);   /* the string stays referenced by the error table */
    return m ? m : "error";
}

/* ---- what the server says a query calls --------------------------------- */

/* The connection's user value: a table {checked = {[sql] = true},
 * volatile = {[proname] = true} | nil, allow = {[proname] = true}}. */
static void push_state(lua_State *L, const char *field)
{
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, field);
    lua_remove(L, -2);
}

/* exec may have created or replaced functions: learn them again. */
static void forget_checks(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    lua_newtable(L);
    lua_setfield(L, -2, "checked");
    lua_pushnil(L);
    lua_setfield(L, -2, "volatile");
    lua_pop(L, 1);
}

/* Pushes the "QUERY PLAN" lines of the EXPLAIN result at res as one text. */
static const char *push_plan_text(lua_State *L, int res)
{
    lua_Integer n = luaL_len(L, res);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\n');
        lua_geti(L, res, i);
        lua_getfield(L, -1, "QUERY PLAN");
        lua_remove(L, -2);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

/* Learns the names of every volatile function the server knows (once per
 * connection, again after an exec). Pushes nothing on success, else leaves
 * nil, err on the stack and returns 0. */
static int learn_volatile(lua_State *L, const rb_ticket *t, pgconn *pc)
{
    static const call none;
    if (run_read_only(L, t, pc, "SELECT DISTINCT p.proname::text AS name FROM pg_catalog.pg_proc p "
                                 "WHERE p.provolatile = 'v'", &none) != 1) return 0;
    int res = lua_gettop(L);
    lua_Integer n = luaL_len(L, res);
    lua_getiuservalue(L, 1, 1);
    lua_createtable(L, 0, (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, res, i);
        lua_getfield(L, -1, "name");
        lua_pushboolean(L, 1);
        lua_rawset(L, -4);
        lua_pop(L, 1);
    }
    lua_setfield(L, -2, "volatile");
    lua_settop(L, res - 1);
    return 1;
}

typedef struct { lua_State *L; int vol, allow; char found[64]; } call_scan;

static void on_plan_call(void *ud, const char *name, size_t len)
{
    call_scan *cs = ud;
    if (cs->found[0] || len >= sizeof cs->found) return;
    lua_pushlstring(cs->L, name, len);
    const char *nm = lua_tostring(cs->L, -1);
    int bad = lua_rawget(cs->L, cs->vol) != LUA_TNIL && !rb_pg_sql_volatile_allowed(nm);
    lua_pop(cs->L, 1);
    if (bad) {
        lua_pushlstring(cs->L, name, len);
        bad = lua_rawget(cs->L, cs->allow) == LUA_TNIL;
        lua_pop(cs->L, 1);
    }
    if (bad) { memcpy(cs->found, name, len); cs->found[len] = '\0'; }
}

/* Asks the server which functions the statement calls: EXPLAIN (VERBOSE)
 * shows every call left after planning (views expanded), and pg_proc says
 * which are volatile. A volatile function outside the allow-lists raises;
 * a statement that passed is remembered by its text. Returns 1 to go on, or
 * 0 with nil, err pushed (the EXPLAIN failed: the query would fail too). */
static int server_check(lua_State *L, const rb_ticket *t, pgconn *pc, const call *c)
{
    const char *stmt = c->sql;
    if (strcmp(c->info.verb, "show") == 0) return 1;
    if (strcmp(c->info.verb, "explain") == 0) {
        if (!c->info.explain_analyze) return 1;      /* plain EXPLAIN runs nothing */
        stmt = c->sql + c->info.explain_at;
    }
    int base = lua_gettop(L);
    push_state(L, "checked");
    lua_getfield(L, -1, c->sql);
    int known = lua_toboolean(L, -1);
    lua_settop(L, base);
    if (known) return 1;
    push_state(L, "volatile");
    int have = !lua_isnil(L, -1);
    lua_settop(L, base);
    if (!have && !learn_volatile(L, t, pc)) return 0;
    const char *explain = lua_pushfstring(L, "EXPLAIN (VERBOSE, COSTS OFF) %s", stmt);
    if (run_read_only(L, t, pc, explain, c) != 1) return 0;
    size_t len;
    const char *plan = push_plan_text(L, lua_gettop(L));
    len = lua_rawlen(L, -1);
    call_scan cs = { L, 0, 0, "" };
    push_state(L, "volatile");
    cs.vol = lua_gettop(L);
    push_state(L, "allow");
    cs.allow = lua_gettop(L);
    rb_pg_sql_each_call(plan, len, on_plan_call, &cs);
    if (cs.found[0])
        luaL_error(L, "query: refused: %s() is volatile (it may change something: the server's catalog "
                      "says so) and is not on the allow-list of read-only functions (use conn:exec, or "
                      "connect with allow_functions; docs/lua/pg.md)", cs.found);
    push_state(L, "checked");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, c->sql);
    lua_settop(L, base);
    return 1;
}

/* conn:query(sql, ...) -> res | nil, err */
static int conn_query(lua_State *L)
{
    pgconn *pc = check_conn(L);
    call c;
    read_call(L, &c, "query");
    if (!rb_pg_sql_query_verb(c.info.verb))
        luaL_error(L, "query: refused: '%s' is not a query (query runs SELECT, WITH, VALUES, TABLE, "
                      "SHOW, EXPLAIN; use conn:exec for changes)", c.info.verb[0] ? c.info.verb : "?");
    if (c.info.denied[0])
        luaL_error(L, "query: refused: %s() has side effects even in a read-only transaction "
                      "(use conn:exec)", c.info.denied);
    pc->nnotices = 0;
    rb_action a = {"pg", "query", pc->target, 2};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    bind_params(L, &c);
    int n;
    if (!pc->pg) n = lost_fail(L, pc);
    else if (!server_check(L, t, pc, &c)) n = 2;
    else if (c.timeout == 0 && session_read_only(pc))
        n = run_one(L, t, pc, c.sql, &c, pc->stmt_timeout + CLIENT_GRACE);
    else n = run_read_only(L, t, pc, c.sql, &c);
    rb_ticket_done(L, t, n == 1, top_error(L, n));
    return n;
}

/* Plan mode: EXPLAIN the statement in a rolled-back read-only transaction
 * (a read, with its own ticket) and show the plan; what cannot be explained
 * is labelled "cannot be simulated". */
static int simulate(lua_State *L, rb_ticket *w, pgconn *pc, const call *c)
{
    if (rb_pg_sql_simulable(&c->info) && pc->pg) {
        rb_action a = {"pg", "explain", pc->target, 0};
        rb_ticket *t = rb_gate_open(L, &a, RB_READ);
        const char *explain = lua_pushfstring(L, "EXPLAIN %s", c->sql);
        int n = run_read_only(L, t, pc, explain, c);
        rb_ticket_done(L, t, n == 1, top_error(L, n));
        if (n != 1) return 2;   /* invalid: the plan fails */
        rb_ticket_simulated(L, w, push_plan_text(L, lua_gettop(L)));
    } else {
        rb_ticket_simulated(L, w, NULL);
    }
    char cmd[sizeof c->info.verb];
    for (size_t i = 0; i < sizeof cmd; i++)
        cmd[i] = (char)((c->info.verb[i] >= 'a' && c->info.verb[i] <= 'z') ? c->info.verb[i] - 32
                                                                           : c->info.verb[i]);
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "planned");
    lua_pushstring(L, cmd);
    lua_setfield(L, -2, "command");
    return 1;
}

/* conn:exec(sql, ...) -> {command, rows_affected, ...} | {planned, command} | nil, err */
static int conn_exec(lua_State *L)
{
    pgconn *pc = check_conn(L);
    call c;
    read_call(L, &c, "exec");
    if (rb_pg_sql_txn_verb(c.info.verb))
        luaL_error(L, "exec: '%s' is not supported: each exec is one statement in its own transaction",
                   c.info.verb);
    int top = lua_gettop(L);
    lua_createtable(L, c.nparams + 1, 0);   /* args = {sql, params...} */
    for (int i = 2; i <= top; i++) {
        lua_pushvalue(L, i);
        lua_rawseti(L, -2, i - 1);
    }
    pc->nnotices = 0;
    rb_action a = {"pg", "exec", pc->target, lua_gettop(L)};
    rb_ticket *t = rb_gate_open(L, &a, RB_WRITE);
    bind_params(L, &c);
    if (rb_ticket_simulate(t)) {
        int n = simulate(L, t, pc, &c);
        rb_ticket_done(L, t, n == 1, NULL);
        return n;
    }
    int n = pc->pg ? run_exec(L, t, pc, &c) : lost_fail(L, pc);
    forget_checks(L);
    rb_ticket_done(L, t, n == 1, top_error(L, n));
    return n;
}

/* ---- signalling a backend: cancel_backend, terminate_backend ------------- */

/* Who may signal the backend, as the server would decide it (PostgreSQL's
 * pg_signal_backend rules): EXECUTE on the function, and current_user a
 * superuser, or the target not a superuser's and current_user having the
 * privileges of its role or of pg_signal_backend. $1 pid, $2 function. */
static const char PRIVILEGE_SQL[] =
    "SELECT coalesce(has_function_privilege(current_user, "
    "  (SELECT min(p.oid) FROM pg_catalog.pg_proc p WHERE p.proname = $2), 'EXECUTE'), false) AS may_execute, "
    "  me.rolsuper AS me_super, current_user::text AS me, "
    "  a.pid IS NOT NULL AS is_backend, a.pid = pg_backend_pid() AS is_self, "
    "  coalesce(a.usename::text, '') AS role, coalesce(r.rolsuper, false) AS role_super, "
    "  a.usesysid IS NOT NULL AND pg_has_role(current_user, a.usesysid, 'USAGE') AS has_role, "
    "  pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal_member, "
    "  coalesce(a.state, '') AS state, coalesce(a.backend_type, '') AS backend_type "
    "FROM pg_catalog.pg_roles me "
    "LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = $1 "
    "LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid "
    "WHERE me.rolname = current_user";

static int field_true(lua_State *L, int row, const char *name)
{
    lua_getfield(L, row, name);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static const char *field_str(lua_State *L, int row, const char *name)
{
    lua_getfield(L, row, name);
    const char *v = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);   /* the string stays referenced by the row */
    return v;
}

/* Pushes the verdict on the privilege row at row: whether the call will
 * work, and why, in one line for the plan. Returns will-work. */
static int privilege_verdict(lua_State *L, int row, const char *fn, lua_Integer pid)
{
    const char *me = field_str(L, row, "me"), *role = field_str(L, row, "role");
    int ok = 0;
    if (!field_true(L, row, "may_execute"))
        lua_pushfstring(L, "%s(%d) will fail: %s may not EXECUTE %s", fn, (int)pid, me, fn);
    else if (!field_true(L, row, "is_backend"))
        lua_pushfstring(L, "%s(%d) will do nothing: pid %d is not a PostgreSQL backend now", fn, (int)pid, (int)pid);
    else if (field_true(L, row, "me_super"))
        ok = 1, lua_pushfstring(L, "%s(%d) will work: %s is a superuser (backend of role '%s', %s)", fn,
                                (int)pid, me, role, field_str(L, row, "state"));
    else if (field_true(L, row, "role_super") || !*role)
        lua_pushfstring(L, "%s(%d) will fail: pid %d is a %s of a superuser or of no role, which only a "
                        "superuser may signal", fn, (int)pid, (int)pid, field_str(L, row, "backend_type"));
    else if (field_true(L, row, "has_role") || field_true(L, row, "signal_member"))
        ok = 1, lua_pushfstring(L, "%s(%d) will work: %s %s (backend of role '%s', %s)", fn, (int)pid, me,
                                field_true(L, row, "has_role") ? "has the privileges of that role"
                                                               : "is a member of pg_signal_backend",
                                role, field_str(L, row, "state"));
    else
        lua_pushfstring(L, "%s(%d) will fail: %s is neither a member of role '%s' nor of pg_signal_backend",
                        fn, (int)pid, me, role);
    return ok;
}

/* Plan mode: the privilege check (a read with its own ticket) goes into the
 * plan as what the write would do. Pushes {planned, command, will_work, why}
 * or nil, err. */
static int simulate_signal(lua_State *L, rb_ticket *w, pgconn *pc, const char *fn, lua_Integer pid)
{
    if (!pc->pg) return lost_fail(L, pc);
    char pidtext[24];
    snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
    const char *vals[2] = {pidtext, fn};
    call c = {.sql = PRIVILEGE_SQL, .nparams = 2, .values = vals};
    rb_action a = {"pg", "privilege_check", pc->target, 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    int n = run_read_only(L, t, pc, PRIVILEGE_SQL, &c);
    rb_ticket_done(L, t, n == 1, top_error(L, n));
    if (n != 1) return 2;
    lua_geti(L, -1, 1);
    if (lua_isnil(L, -1)) return rb_error_return(L, "sql", "%s: current_user has no pg_roles row", fn);
    int row = lua_gettop(L);
    int ok = privilege_verdict(L, row, fn, pid);
    rb_ticket_simulated(L, w, lua_tostring(L, -1));
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "planned");
    lua_pushliteral(L, "SELECT");
    lua_setfield(L, -2, "command");
    lua_pushboolean(L, ok);
    lua_setfield(L, -2, "will_work");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "why");
    return 1;
}

/* Apply: SELECT fn($1) as a write; res.signalled is the function's answer
 * (false: no such backend; the server's WARNING is in res.notices). */
static int send_signal(lua_State *L, rb_ticket *t, pgconn *pc, const char *fn, lua_Integer pid)
{
    char pidtext[24], sql[64];
    snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
    snprintf(sql, sizeof sql, "SELECT %s($1) AS signalled", fn);
    const char *vals[1] = {pidtext};
    call c = {.sql = sql, .nparams = 1, .values = vals};
    int n = pc->pg ? run_exec(L, t, pc, &c) : lost_fail(L, pc);
    if (n != 1) return n;
    lua_geti(L, -1, 1);
    lua_getfield(L, -1, "signalled");
    lua_setfield(L, -3, "signalled");
    lua_pop(L, 1);
    return 1;
}

/* conn:cancel_backend(pid) / conn:terminate_backend(pid): a write (refused in
 * investigate; in plan mode the privilege check says whether it will work). */
static int signal_backend(lua_State *L, const char *fn)
{
    pgconn *pc = check_conn(L);
    lua_Integer pid = lua_isinteger(L, 2) ? lua_tointeger(L, 2) : 0;
    luaL_argcheck(L, pid > 0 && pid <= INT32_MAX, 2, "backend pid expected (a positive integer)");
    lua_settop(L, 2);
    lua_createtable(L, 1, 0);                  /* args = {pid} */
    lua_pushinteger(L, pid);
    lua_rawseti(L, -2, 1);
    pc->nnotices = 0;
    rb_action a = {"pg", fn + 3, pc->target, 3};   /* op: cancel_backend / terminate_backend */
    rb_ticket *t = rb_gate_open(L, &a, RB_WRITE);
    int n = rb_ticket_simulate(t) ? simulate_signal(L, t, pc, fn, pid) : send_signal(L, t, pc, fn, pid);
    rb_ticket_done(L, t, n == 1, top_error(L, n));
    return n;
}

static int conn_cancel_backend(lua_State *L) { return signal_backend(L, "pg_cancel_backend"); }
static int conn_terminate_backend(lua_State *L) { return signal_backend(L, "pg_terminate_backend"); }

static int escape(lua_State *L, char *(*fn)(PGconn *, const char *, size_t))
{
    pgconn *pc = check_conn(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    if (!pc->pg) return lost_fail(L, pc);
    char *e = fn(pc->pg, s, len);
    if (!e) return luaL_error(L, "escape: %s", PQerrorMessage(pc->pg));
    lua_pushstring(L, e);
    PQfreemem(e);
    return 1;
}

/* conn:escape_literal(s) -> 'quoted' ; conn:escape_identifier(s) -> "quoted" */
static int conn_escape_literal(lua_State *L) { return escape(L, PQescapeLiteral); }
static int conn_escape_identifier(lua_State *L) { return escape(L, PQescapeIdentifier); }

/* conn:target() -> "host:port/db" */
static int conn_target(lua_State *L)
{
    lua_pushstring(L, check_conn(L)->target);
    return 1;
}

/* One idempotent close for conn:close(), __close and __gc. */
static int conn_close(lua_State *L)
{
    pgconn *pc = luaL_checkudata(L, 1, CONN_MT);
    if (pc->pg) PQfinish(pc->pg);
    pc->pg = NULL;
    pc->closed = 1;
    pc->colsig_len = 0;
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, pc);   /* the cached res.columns */
    return 0;
}

static int conn_tostring(lua_State *L)
{
    pgconn *pc = luaL_checkudata(L, 1, CONN_MT);
    lua_pushfstring(L, "rb.pg.Conn (%s)", pc->closed ? "closed" : pc->target);
    return 1;
}

/* ---- connect ------------------------------------------------------------ */

#define MAX_KW 24

typedef struct {
    const char *kw[MAX_KW + 1], *val[MAX_KW + 1];
    int n, expand;
    double connect_timeout, stmt_timeout;
} conn_opts;

static void add_kw(lua_State *L, conn_opts *o, const char *k, const char *v)
{
    if (o->n >= MAX_KW) luaL_error(L, "connect: too many connection parameters");
    o->kw[o->n] = k;
    o->val[o->n++] = v;
    o->kw[o->n] = o->val[o->n] = NULL;
}

/* libpq keywords accepted in the table form (values are strings or numbers). */
static const char *const table_keys[] = {
    "dsn", "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "service",
    "sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "options",
    "target_session_attrs", "keepalives", NULL,
};

/* Table form: each value is left on the stack (as a string) while connecting. */
static void read_table(lua_State *L, conn_opts *o)
{
    luaL_checkstack(L, MAX_KW, "connect");
    for (int i = 0; table_keys[i]; i++) {
        lua_getfield(L, 1, table_keys[i]);
        if (lua_isnil(L, -1)) { lua_pop(L, 1); continue; }
        const char *v = lua_tostring(L, -1);
        if (!v) luaL_error(L, "connect: %s must be a string", table_keys[i]);
        if (i == 0) {                     /* dsn: expanded first, the others override */
            o->expand = 1;
            if (o->n) luaL_error(L, "connect: dsn must come first");
            add_kw(L, o, "dbname", v);
        } else {
            add_kw(L, o, table_keys[i], v);
        }
        if (!strcmp(table_keys[i], "password")) secret(v);
    }
}

/* Registers every password the DSN carries (key/value or URI, percent-encoded
 * or not: the redactor knows both forms) before any text can show it. */
static void redact_dsn(const char *dsn)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &err);
    if (err) PQfreemem(err);
    if (!opts) return;
    for (PQconninfoOption *p = opts; p->keyword; p++)
        if (strcmp(p->keyword, "password") == 0) secret(p->val);
    PQconninfoFree(opts);
}

/* What the gate shows before connecting: host:port/db from the parameters,
 * the PG* environment and libpq's defaults. */
static void describe(const conn_opts *o, char *out, size_t outsz)
{
    const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
    PQconninfoOption *parsed = NULL, *defs = PQconndefaults();
    for (int i = 0; i < o->n; i++) {
        if (o->expand && i == 0) {
            char *err = NULL;
            parsed = PQconninfoParse(o->val[0], &err);
            if (err) PQfreemem(err);
            for (PQconninfoOption *p = parsed; p && p->keyword; p++) {
                if (!p->val) continue;
                if (!strcmp(p->keyword, "host")) host = p->val;
                else if (!strcmp(p->keyword, "port")) port = p->val;
                else if (!strcmp(p->keyword, "dbname")) db = p->val;
                else if (!strcmp(p->keyword, "user")) user = p->val;
            }
        } else if (!strcmp(o->kw[i], "host")) host = o->val[i];
        else if (!strcmp(o->kw[i], "port")) port = o->val[i];
        else if (!strcmp(o->kw[i], "dbname")) db = o->val[i];
        else if (!strcmp(o->kw[i], "user")) user = o->val[i];
    }
    for (PQconninfoOption *p = defs; p && p->keyword; p++) {
        if (!p->val) continue;
        if (!host && !strcmp(p->keyword, "host")) host = p->val;
        else if (!port && !strcmp(p->keyword, "port")) port = p->val;
        else if (!db && !strcmp(p->keyword, "dbname")) db = p->val;
        else if (!user && !strcmp(p->keyword, "user")) user = p->val;
    }
    target_label(out, outsz, host, port, db && *db ? db : (user ? user : ""));
    if (parsed) PQconninfoFree(parsed);
    if (defs) PQconninfoFree(defs);
}

/* Pushes the new connection (born closed, then filled) or nil, err. */
static int open_conn(lua_State *L, const rb_ticket *t, const conn_opts *o, const char *shown, int allow)
{
    pgconn *pc = lua_newuserdatauv(L, sizeof *pc, 1);
    memset(pc, 0, sizeof *pc);
    pc->closed = 1;
    luaL_setmetatable(L, CONN_MT);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, allow);
    lua_setfield(L, -2, "allow");
    lua_newtable(L);
    lua_setfield(L, -2, "checked");
    lua_setiuservalue(L, -2, 1);
    snprintf(pc->target, sizeof pc->target, "%s", shown);
    int w;
    PGconn *g = rb_pg_conn_start(t, o->kw, o->val, o->expand, o->connect_timeout, &w);
    if (!g && w == IO_INTERRUPTED) return fail(L, "interrupted", shown, "interrupted");
    if (!g) return fail(L, "conn", shown, "out of memory");
    pc->pg = g;
    pc->closed = 0;
    secret(PQpass(g));        /* also a password found in ~/.pgpass or a service file */
    if (w) return io_fail(L, pc, w, o->connect_timeout);
    PQsetNoticeReceiver(g, on_notice, pc);
    target_label(pc->target, sizeof pc->target, PQhost(g), PQport(g), PQdb(g));
    pc->stmt_timeout = o->stmt_timeout;
    if (!set_timeout(L, t, pc, o->stmt_timeout)
        || !set_guc(L, t, pc, "default_transaction_read_only", "on")) return 2;
    return 1;
}

/* opts.allow_functions = {"name", ...}: volatile functions a team knows to
 * only read, added to the built-in allow-list for this connection. A name
 * the guard denies (pg_terminate_backend, dblink_exec, ...) is refused.
 * Pushes the set {[name] = true}. */
static int read_allow(lua_State *L, int opts)
{
    lua_newtable(L);
    int set = lua_gettop(L);
    if (opts == 0 || lua_getfield(L, opts, "allow_functions") == LUA_TNIL) {
        if (opts) lua_pop(L, 1);
        return set;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "connect: allow_functions must be a list of function names");
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        size_t len;
        lua_geti(L, -1, i);
        const char *name = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || len == 0 || len > 63)
            luaL_error(L, "connect: allow_functions[%d] must be a function name (1 to 63 bytes)", (int)i);
        if (rb_pg_sql_denied_name(name, len, 1))
            luaL_error(L, "connect: allow_functions[%d]: %s has side effects; it cannot be allowed in "
                          "a read", (int)i, name);
        lua_pushboolean(L, 1);
        lua_rawset(L, set);
    }
    lua_pop(L, 1);
    return set;
}

/* pg.connect(dsn | table [, opts]) -> conn | nil, err
 * opts (or the table form): connect_timeout, statement_timeout, in seconds. */
static int pg_connect(lua_State *L)
{
    conn_opts o;
    char shown[512];
    memset(&o, 0, sizeof o);
    int opts = 0;
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_settop(L, 1);
        opts = 1;
        read_table(L, &o);
    } else {
        const char *dsn = luaL_checkstring(L, 1);
        if (!lua_isnoneornil(L, 2)) { luaL_checktype(L, 2, LUA_TTABLE); opts = 2; }
        redact_dsn(dsn);
        o.expand = 1;
        add_kw(L, &o, "dbname", dsn);
    }
    o.connect_timeout = rb_opt_seconds(L, opts, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, "connect");
    o.stmt_timeout = rb_opt_seconds(L, opts, "statement_timeout", DEFAULT_STATEMENT_TIMEOUT, "connect");
    add_kw(L, &o, "fallback_application_name", "runbook");
    secret(getenv("PGPASSWORD"));
    int allow = read_allow(L, opts);
    describe(&o, shown, sizeof shown);
    rb_action a = {"pg", "connect", shown, 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    int n = open_conn(L, t, &o, shown, allow);
    rb_ticket_done(L, t, n == 1, top_error(L, n));
    return n;
}

/* pg.isnull(v) -> true for pg.null (and nil) */
static int pg_isnull(lua_State *L)
{
    lua_pushboolean(L, lua_isnoneornil(L, 1)
                    || (lua_islightuserdata(L, 1) && lua_touserdata(L, 1) == NULL));
    return 1;
}

static const luaL_Reg conn_methods[] = {
    {"query", conn_query}, {"exec", conn_exec}, {"close", conn_close},
    {"escape_literal", conn_escape_literal}, {"escape_identifier", conn_escape_identifier},
    {"target", conn_target}, {"cancel_backend", conn_cancel_backend},
    {"terminate_backend", conn_terminate_backend}, {NULL, NULL}
};

static const luaL_Reg conn_meta[] = {
    {"__gc", conn_close}, {"__close", conn_close}, {"__tostring", conn_tostring}, {NULL, NULL}
};

static const luaL_Reg pglib[] = {
    {"connect", pg_connect}, {"isnull", pg_isnull}, {NULL, NULL}
};

/* The module: pg.connect, pg.isnull, pg.null (the NULL value, equal to
 * cjson.null), pg.Conn (the method table; lualib/rb/pg.lua adds helpers to it). */
int luaopen_rb_pg(lua_State *L)
{
    luaL_newmetatable(L, CONN_MT);
    luaL_setfuncs(L, conn_meta, 0);
    luaL_newlib(L, conn_methods);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &methods_key);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, pglib);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &methods_key);
    lua_setfield(L, -2, "Conn");
    return 1;
}
