/* redact.h — the one redactor (DESIGN §6).
 *
 * Bindings register every secret they touch (passwords, tokens, keys); every
 * sink (terminal, audit, report, error messages) passes text through
 * rb_redact before it leaves the process. Registration also covers the forms
 * a secret takes in transit: JSON-escaped and percent-encoded. Pure C, no Lua. */
#ifndef RB_REDACT_H
#define RB_REDACT_H
#include <stddef.h>

#define RB_REDACTED "[REDACTED]"

/* Secrets shorter than this are redacted by place only (URL userinfo, DSN
 * password=, credential headers and JSON members, Bearer tokens), never as
 * substrings of free text. */
#define RB_REDACT_FREE_TEXT 8

/* Registers a secret (copied). Returns 0; 1 when it is shorter than
 * RB_REDACT_FREE_TEXT (not kept: redacted by place only — the caller warns);
 * -1 on allocation failure. */
int rb_redact_add(const char *secret, size_t len);

/* 1 once after a secret too short for free text was registered (then 0):
 * the run warns the operator once. */
int rb_redact_short_pending(void);

/* Registers a basic-auth password and the base64 "user:password" token that
 * carries it in an Authorization header. */
void rb_redact_add_basic(const char *user, const char *password);

/* Returns a malloc'd, NUL-terminated copy of s with every credential in a
 * known place and every registered secret replaced by RB_REDACTED; *outlen
 * (if not NULL) gets its length. NULL on ENOMEM. */
char *rb_redact(const char *s, size_t len, size_t *outlen);

/* Non-zero if s contains a registered secret. */
int rb_redact_contains(const char *s, size_t len);

/* Forgets every secret (tests), wiping the copies. */
void rb_redact_reset(void);

/* Registering the first secret makes the process non-dumpable
 * (prctl(PR_SET_DUMPABLE, 0): no core dump holds it). Buffers that held a
 * secret are freed with rb_wipe_free: zeroed (explicit_bzero, which the
 * compiler may not drop), then freed. NULL is ignored. */
void rb_wipe_free(void *p, size_t n);
#endif
