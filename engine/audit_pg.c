/* audit_pg.c — the audit chain's PostgreSQL sink (audit_pg.h). */
#include "audit_pg.h"
#include "audit.h"
#include "redact.h"
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* A fixed advisory lock key: "runbook_audit" as a 63-bit constant. */
#define CHAIN_LOCK "7212599474513690421"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS runbook_audit ("
    " seq bigint PRIMARY KEY, line text NOT NULL, hash char(64) NOT NULL,"
    " written_at timestamptz NOT NULL DEFAULT now());"
    "CREATE OR REPLACE FUNCTION runbook_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'runbook_audit is append-only: % refused', TG_OP; END$$;"
    "DROP TRIGGER IF EXISTS runbook_audit_no_change ON runbook_audit;"
    "CREATE TRIGGER runbook_audit_no_change BEFORE UPDATE OR DELETE ON runbook_audit"
    " FOR EACH ROW EXECUTE FUNCTION runbook_audit_append_only();"
    "DROP TRIGGER IF EXISTS runbook_audit_no_truncate ON runbook_audit;"
    "CREATE TRIGGER runbook_audit_no_truncate BEFORE TRUNCATE ON runbook_audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION runbook_audit_append_only();";

static PGconn *conn;
static char *conn_url;
static int schema_ok;

int rb_audit_pg_url(const char *path)
{
    return path && (strncmp(path, "postgres://", 11) == 0 || strncmp(path, "postgresql://", 13) == 0);
}

static void fail(char *err, size_t errsz, const char *what, const char *pgmsg)
{
    size_t n;
    char *m = rb_redact(pgmsg ? pgmsg : "", strlen(pgmsg ? pgmsg : ""), &n);
    snprintf(err, errsz, "audit database: %s%s%.*s", what, m && n ? ": " : "", m ? (int)strcspn(m, "\n") : 0,
             m ? m : "");
    free(m);
}

/* The password of the URL goes to the redactor before anything can print it. */
static void register_password(const char *url)
{
    PQconninfoOption *o = PQconninfoParse(url, NULL);
    for (PQconninfoOption *p = o; p && p->keyword; p++)
        if (strcmp(p->keyword, "password") == 0 && p->val && *p->val) rb_redact_add(p->val, strlen(p->val));
    PQconninfoFree(o);
}

static PGconn *connect_to(const char *url, char *err, size_t errsz)
{
    if (conn && conn_url && strcmp(conn_url, url) == 0 && PQstatus(conn) == CONNECTION_OK) return conn;
    if (conn) PQfinish(conn);
    free(conn_url);
    conn_url = NULL;
    schema_ok = 0;
    register_password(url);
    const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
    const char *vals[] = { "10", "runbook-audit", url, NULL };
    conn = PQconnectdbParams(keys, vals, 1);   /* the URL's own settings win */
    if (PQstatus(conn) != CONNECTION_OK) {
        fail(err, errsz, "cannot connect", PQerrorMessage(conn));
        PQfinish(conn);
        conn = NULL;
        return NULL;
    }
    conn_url = strdup(url);
    return conn;
}

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errsz, const char *what)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) fail(err, errsz, what, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* The table exists, or is created with its triggers (when the role may). */
static int ensure_schema(PGconn *c, char *err, size_t errsz)
{
    if (schema_ok) return 0;
    PGresult *r = PQexec(c, "SELECT to_regclass('runbook_audit') IS NOT NULL");
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!exists && exec_ok(c, SCHEMA, err, errsz,
                           "table runbook_audit is missing and cannot be created (see docs/audit.md)") < 0)
        return -1;
    schema_ok = 1;
    return 0;
}

/* Inside the locked transaction: head, line, insert. */
static int append_locked(PGconn *c, const char *members, size_t len, char *err, size_t errsz)
{
    PGresult *r = PQexec(c, "SELECT seq, hash FROM runbook_audit ORDER BY seq DESC LIMIT 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail(err, errsz, "reading the chain head", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    long seq = 0;
    char prev[65] = ZERO_HASH;
    if (PQntuples(r) == 1) {
        seq = atol(PQgetvalue(r, 0, 0));
        snprintf(prev, sizeof prev, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    size_t n;
    char *line = rb_audit_build_line(seq + 1, prev, members, len, &n);
    if (!line) { snprintf(err, errsz, "out of memory"); return -1; }
    line[--n] = 0;                                   /* no newline in the row */
    char seqtext[24];
    snprintf(seqtext, sizeof seqtext, "%ld", seq + 1);
    const char *hash = line + n - 66;                /* ..."hash":"<64 hex>"} */
    char hashtext[65];
    memcpy(hashtext, hash, 64);
    hashtext[64] = 0;
    const char *params[] = { seqtext, line, hashtext };
    r = PQexecParams(c, "INSERT INTO runbook_audit (seq, line, hash) VALUES ($1, $2, $3)", 3, NULL, params,
                     NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fail(err, errsz, "append", PQresultErrorMessage(r));
    PQclear(r);
    free(line);
    return ok ? 0 : -1;
}

int rb_audit_pg_append(const char *url, const char *members, size_t len, char *err, size_t errsz)
{
    PGconn *c = connect_to(url, err, errsz);
    if (!c || ensure_schema(c, err, errsz) < 0) return -1;
    if (exec_ok(c, "BEGIN; SELECT pg_advisory_xact_lock(" CHAIN_LOCK ")", err, errsz, "lock") < 0) {
        exec_ok(c, "ROLLBACK", err, 0, "");
        return -1;
    }
    if (append_locked(c, members, len, err, errsz) < 0) {
        char ignore[8];
        exec_ok(c, "ROLLBACK", ignore, sizeof ignore, "");
        return -1;
    }
    return exec_ok(c, "COMMIT", err, errsz, "commit");
}

/* Streams the rows in seq order (single-row mode: memory stays flat). */
static int each_line(const char *url, int (*fn)(void *, char *, size_t), void *ctx, char *err, size_t errsz)
{
    PGconn *c = connect_to(url, err, errsz);
    if (!c) return -1;
    if (!PQsendQuery(c, "SELECT line FROM runbook_audit ORDER BY seq") || !PQsetSingleRowMode(c)) {
        fail(err, errsz, "reading the chain", PQerrorMessage(c));
        return -1;
    }
    int rc = 0;
    PGresult *r;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && rc == 0) rc = fn(ctx, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
            fail(err, errsz, "reading the chain", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

struct vstate { long no; char prev[65]; char *why; size_t whysz; };

static int verify_one(void *ctx, char *line, size_t len)
{
    struct vstate *v = ctx;
    v->no++;
    return rb_audit_verify_line(line, len, v->no, v->prev, v->why, v->whysz) < 0 ? 1 : 0;
}

int rb_audit_pg_verify(const char *url, long *nlines, long *bad_line, char *why, size_t whysz)
{
    struct vstate v = { 0, ZERO_HASH, why, whysz };
    int rc = each_line(url, verify_one, &v, why, whysz);
    *nlines = v.no;
    *bad_line = rc == 1 ? v.no : 0;
    return rc;
}

struct dstate { int (*out)(void *, const char *, size_t); void *ctx; };

static int dump_one(void *ctx, char *line, size_t len)
{
    struct dstate *d = ctx;
    return d->out(d->ctx, line, len) ? -1 : 0;
}

int rb_audit_pg_dump(const char *url, int (*out)(void *ctx, const char *line, size_t len), void *ctx,
                     char *err, size_t errsz)
{
    struct dstate d = { out, ctx };
    return each_line(url, dump_one, &d, err, errsz);
}
