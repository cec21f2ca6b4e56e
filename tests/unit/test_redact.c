/* test_redact.c — the redactor: raw, JSON-escaped and percent-encoded forms
 * of a secret are replaced; short strings are not treated as secrets. */
#include "redact.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

static int check(const char *in, const char *want, const char *name)
{
    char *out = rb_redact(in, strlen(in), NULL);
    TAP_EQ_STR(out, want, name);
    free(out);
    return 0;
}

int main(void)
{
    rb_redact_add("s3cr/et\"pw", 10);
    check("password=s3cr/et\"pw!", "password=[REDACTED]!", "raw secret is replaced");
    check("{\"p\":\"s3cr\\/et\\\"pw\"}", "{\"p\":\"[REDACTED]\"}", "JSON-escaped form is replaced");
    check("u=s3cr%2Fet%22pw&x=1", "u=[REDACTED]&x=1", "percent-encoded form is replaced");
    check("nothing here", "nothing here", "text without secrets is unchanged");
    rb_redact_add("ab", 2);
    check("abc", "abc", "secrets shorter than 3 bytes are ignored");
    rb_redact_add("token", 5);
    rb_redact_add("token-long", 10);
    check("x token-long y token z", "x [REDACTED] y [REDACTED] z", "the longest secret wins at a position");
    TAP_OK(rb_redact_contains("a token b", 9), "contains finds a secret");
    TAP_OK(!rb_redact_contains("a tokeN b", 9), "contains is exact");
    rb_redact_reset();
    check("token", "token", "reset forgets secrets");
    return TAP_DONE();
}
