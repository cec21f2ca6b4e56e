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

/* Registers a secret (copied). Secrets shorter than 3 bytes are ignored: they
 * would blank out ordinary text. Returns 0, or -1 on allocation failure. */
int rb_redact_add(const char *secret, size_t len);

/* Registers a basic-auth password and the base64 "user:password" token that
 * carries it in an Authorization header. */
void rb_redact_add_basic(const char *user, const char *password);

/* Returns a malloc'd, NUL-terminated copy of s with every registered secret
 * replaced by RB_REDACTED; *outlen (if not NULL) gets its length. NULL on ENOMEM. */
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
