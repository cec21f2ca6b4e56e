/* audit.h — the tamper-evident audit log (DESIGN §5). Pure C (OpenSSL for
 * SHA-256), no Lua.
 *
 * One JSON object per line:
 *   {"seq":N,"ts":"2026-11-27T21:47:58.123Z",<fields>,"prev":"<64 hex>","hash":"<64 hex>"}
 * seq counts lines of the file from 1; prev is the previous line's hash (64
 * zeros on the first line); hash = SHA-256 over prev followed by the line
 * up to (not including) `,"hash":`, then `}` — i.e. the line without its hash
 * member. Appends take an exclusive flock, read the last line for seq and prev,
 * write with O_APPEND and fsync, so concurrent runs share one valid chain. */
#ifndef RB_AUDIT_H
#define RB_AUDIT_H
#include <stddef.h>

/* Appends an event whose members (JSON text without braces, e.g.
 * "\"run\":\"x\",\"event\":\"run_start\"") follow seq and ts. The members are
 * redacted, and bytes that are not UTF-8 escaped (\\xHH), before writing.
 * Opens the file with rb_safefile_open (core/safefile.h): creates it (0600)
 * and its directories (0700); refuses symbolic links, files owned by another
 * user or writable by group/others, and planted directory links.
 * Returns 0, or -1 with a message in err. */
int rb_audit_append(const char *path, const char *members, size_t len, int sync,
                    char *err, size_t errsz);

/* Checks the chain. Returns 0 when it holds (*nlines = lines checked), 1 when
 * it does not (*bad_line = first bad line, 1-based; why says what is wrong),
 * -1 when the file cannot be read. */
int rb_audit_verify(const char *path, long *nlines, long *bad_line, char *why, size_t whysz);

/* The default audit path: $RUNBOOK_AUDIT, else $XDG_STATE_HOME/runbook/audit.jsonl,
 * else $HOME/.local/state/runbook/audit.jsonl, else ./runbook-audit.jsonl. */
void rb_audit_default_path(char *out, size_t outsz);

/* One chained line for seq after prev (64 hex), ending in "\n" (malloc'd;
 * *outlen bytes), and the check of one line (without its newline) against
 * want_seq and prev, which it advances: 0, or -1 with why. The file writer
 * and the PostgreSQL sink (audit_pg.h) share them, so both hold one format. */
char *rb_audit_build_line(long seq, const char *prev, const char *members, size_t len, size_t *outlen);
int rb_audit_verify_line(char *line, size_t len, long want_seq, char prev[65], char *why, size_t whysz);

/* Current time as RFC 3339 UTC with milliseconds. */
void rb_audit_timestamp(char out[32]);
#endif
