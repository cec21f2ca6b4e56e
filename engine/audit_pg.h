/* audit_pg.h — the audit chain in PostgreSQL (`--audit postgres://...`,
 * DESIGN §5, docs/audit.md). The same lines as the file (audit.h), one row
 * each, in the table runbook_audit (seq bigint primary key, line text, hash
 * char(64), written_at timestamptz):
 *   - one chain under concurrent writers on any number of hosts: each append
 *     is one transaction that takes pg_advisory_xact_lock on a fixed key, reads
 *     the head (highest seq), and inserts seq+1 chained to it; the primary key
 *     refuses a fork even without the lock;
 *   - append-only: triggers raise on UPDATE, DELETE and TRUNCATE, and the
 *     role runbook uses is given SELECT and INSERT only (docs/audit.md);
 *   - the table and triggers are created on first use when the role may
 *     (CREATE TABLE IF NOT EXISTS), else the message names the setup SQL.
 * One connection per process, kept open (libpq, connect_timeout 10 s unless
 * the URL says otherwise); its password is registered with the redactor.
 * Plain C over libpq, no Lua. */
#ifndef RB_AUDIT_PG_H
#define RB_AUDIT_PG_H
#include <stddef.h>

/* Does path name a PostgreSQL URL (postgres:// or postgresql://)? */
int rb_audit_pg_url(const char *path);

/* Appends members (already redacted and UTF-8 clean). 0, or -1 with err. */
int rb_audit_pg_append(const char *url, const char *members, size_t len, char *err, size_t errsz);

/* As rb_audit_verify (audit.h): 0 chain holds, 1 broken at *bad_line (the
 * row's position in seq order, 1-based), -1 cannot read. */
int rb_audit_pg_verify(const char *url, long *nlines, long *bad_line, char *why, size_t whysz);

/* Writes every line in seq order to out (for `runbook audit show`). 0 or -1. */
int rb_audit_pg_dump(const char *url, int (*out)(void *ctx, const char *line, size_t len), void *ctx,
                     char *err, size_t errsz);
#endif
