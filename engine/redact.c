/* redact.c — the one redactor (see redact.h).
 *
 * A process-wide list of secrets; each registration also stores the
 * JSON-escaped and percent-encoded forms the secret takes inside audit lines,
 * URLs and request bodies. rb_redact scans left to right and replaces the
 * longest secret matching at each position.
 *
 * Memory holding secrets: once the first secret is registered the process
 * is made non-dumpable (prctl PR_SET_DUMPABLE 0: no core file, no ptrace or
 * /proc/PID/mem by other processes of the user), and every buffer that held
 * a secret is wiped (explicit_bzero) before it is freed. Sanitizer builds
 * keep the process dumpable: LeakSanitizer stops the world with ptrace.
 * Pure C. */
#include "redact.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#define MIN_SECRET 3

#if defined(__SANITIZE_ADDRESS__)
#define RB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define RB_SANITIZED 1
#endif
#endif

void rb_wipe_free(void *p, size_t n)
{
    if (!p) return;
    explicit_bzero(p, n);
    free(p);
}

/* No core dumps while secrets are in memory. */
static void undumpable(void)
{
#ifndef RB_SANITIZED
    static int done;
    if (!done && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0) done = 1;
#endif
}

static char **secrets;
static size_t *lens;
static size_t nsecrets, cap;

static int has_secret(const char *s, size_t len)
{
    for (size_t i = 0; i < nsecrets; i++)
        if (lens[i] == len && memcmp(secrets[i], s, len) == 0) return 1;
    return 0;
}

static int push_secret(const char *s, size_t len)
{
    if (len < MIN_SECRET || has_secret(s, len)) return 0;
    if (nsecrets == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        char **ns = realloc(secrets, ncap * sizeof *ns);
        if (!ns) return -1;
        secrets = ns;
        size_t *nl = realloc(lens, ncap * sizeof *nl);
        if (!nl) return -1;
        lens = nl;
        cap = ncap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    undumpable();
    memcpy(copy, s, len);
    copy[len] = 0;
    secrets[nsecrets] = copy;
    lens[nsecrets++] = len;
    return 0;
}

/* The secret as it appears inside a JSON string. */
static int push_json_form(const char *s, size_t len)
{
    char *buf = malloc(len * 6 + 1), *o = buf;
    if (!buf) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = (char)c; }
        else if (c == '/') { *o++ = '\\'; *o++ = '/'; }
        else if (c < 0x20) o += sprintf(o, "\\u%04x", c);
        else *o++ = (char)c;
    }
    int rc = push_secret(buf, (size_t)(o - buf));
    rb_wipe_free(buf, len * 6 + 1);
    return rc;
}

/* The secret as it appears percent-encoded in a URL or form body. */
static int push_url_form(const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *buf = malloc(len * 3 + 1), *o = buf;
    if (!buf) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') *o++ = (char)c;
        else { *o++ = '%'; *o++ = hex[c >> 4]; *o++ = hex[c & 15]; }
    }
    int rc = push_secret(buf, (size_t)(o - buf));
    rb_wipe_free(buf, len * 3 + 1);
    return rc;
}

int rb_redact_add(const char *secret, size_t len)
{
    if (!secret || len < MIN_SECRET) return 0;
    if (push_secret(secret, len) < 0) return -1;
    if (push_json_form(secret, len) < 0) return -1;
    return push_url_form(secret, len);
}

void rb_redact_add_basic(const char *user, const char *password)
{
    if (!password) return;
    rb_redact_add(password, strlen(password));
    char plain[1024];
    int n = snprintf(plain, sizeof plain, "%s:%s", user ? user : "", password);
    unsigned char enc[4 * sizeof plain / 3 + 4];
    if (n >= 0 && (size_t)n < sizeof plain) {
        int len = EVP_EncodeBlock(enc, (const unsigned char *)plain, n);
        rb_redact_add((const char *)enc, (size_t)len);
    }
    explicit_bzero(plain, sizeof plain);
    explicit_bzero(enc, sizeof enc);
}

/* Length of the longest secret starting at p, or 0. */
static size_t match_at(const char *p, size_t left)
{
    size_t best = 0;
    for (size_t i = 0; i < nsecrets; i++)
        if (lens[i] <= left && lens[i] > best && p[0] == secrets[i][0] &&
            memcmp(p, secrets[i], lens[i]) == 0)
            best = lens[i];
    return best;
}

char *rb_redact(const char *s, size_t len, size_t *outlen)
{
    size_t cap_out = len + 1, n = 0;
    char *out = malloc(cap_out);
    if (!out) return NULL;
    for (size_t i = 0; i < len;) {
        size_t m = nsecrets ? match_at(s + i, len - i) : 0;
        const char *src = m ? RB_REDACTED : s + i;
        size_t k = m ? sizeof RB_REDACTED - 1 : 1;
        if (n + k + 1 > cap_out) {
            cap_out = (n + k + 1) * 2;
            char *no = realloc(out, cap_out);
            if (!no) { free(out); return NULL; }
            out = no;
        }
        memcpy(out + n, src, k);
        n += k;
        i += m ? m : 1;
    }
    out[n] = 0;
    if (outlen) *outlen = n;
    return out;
}

int rb_redact_contains(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (match_at(s + i, len - i)) return 1;
    return 0;
}

void rb_redact_reset(void)
{
    for (size_t i = 0; i < nsecrets; i++) rb_wipe_free(secrets[i], lens[i] + 1);
    free(secrets);
    free(lens);
    secrets = NULL;
    lens = NULL;
    nsecrets = cap = 0;
}
