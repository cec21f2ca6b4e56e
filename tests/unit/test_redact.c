/* test_redact.c — the redactor: raw, JSON-escaped and percent-encoded forms
 * of a secret are replaced; secrets too short for free text are redacted by
 * place only (URL userinfo, DSN password=, credential headers and JSON
 * members, Bearer tokens), so short words stay readable. */
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
    rb_redact_add("token-secret", 12);
    rb_redact_add("token-secret-long", 17);
    check("x token-secret-long y token-secret z", "x [REDACTED] y [REDACTED] z", "the longest secret wins at a position");
    TAP_OK(rb_redact_contains("a token-secret b", 16), "contains finds a secret");
    TAP_OK(!rb_redact_contains("a token-secreT b", 16), "contains is exact");

    /* short secrets: by place only */
    TAP_EQ_INT(rb_redact_add("tmi", 3), 1, "a 3-character secret is too short for free text");
    TAP_EQ_INT(rb_redact_short_pending(), 1, "... and the run is told once");
    TAP_EQ_INT(rb_redact_short_pending(), 0, "... only once");
    check("k8s.delete /api/v1/namespaces/tmi/pods/tmi-api-1", "k8s.delete /api/v1/namespaces/tmi/pods/tmi-api-1",
          "a short secret does not blank out plan targets");
    check("postgresql://tmi:tmi@127.0.0.1:5432/tmi", "postgresql://tmi:[REDACTED]@127.0.0.1:5432/tmi",
          "a URL's password is redacted by place");
    check("host=db user=tmi password=tmi dbname=tmi", "host=db user=tmi password=[REDACTED] dbname=tmi",
          "a DSN's password= is redacted by place");
    check("host=db password='a b' x", "host=db password='[REDACTED]' x", "a quoted DSN password too");
    check("GET / HTTP/1.1\r\nAuthorization: Basic dG1pOnRtaQ==\r\nX: y", "GET / HTTP/1.1\r\nAuthorization: [REDACTED]\r\nX: y",
          "an Authorization header's value is redacted");
    check("{\"api_token\":\"abc\",\"namespace\":\"tmi\"}", "{\"api_token\":\"[REDACTED]\",\"namespace\":\"tmi\"}",
          "a JSON member named like a credential is redacted, others are not");
    check("{\"credential\":\"bearer sha256:0123456789ab\"}", "{\"credential\":\"bearer sha256:0123456789ab\"}",
          "a credential's identity (a fingerprint) stays readable in a plan");
    check("{\"x-api-key\":\"sha256:9ecfb95b77b5\"}", "{\"x-api-key\":\"sha256:9ecfb95b77b5\"}",
          "a secret header shown by its fingerprint stays readable");
    check("sent Bearer eyJhbGciOi.x, ok", "sent Bearer [REDACTED], ok", "a Bearer token is redacted anywhere");
    check("https://example.test/a@b", "https://example.test/a@b", "an @ in a path is not userinfo");
    check("http://user@host/", "http://user@host/", "a user without a password stays");
    rb_redact_reset();
    check("token-secret", "token-secret", "reset forgets secrets");
    return TAP_DONE();
}
