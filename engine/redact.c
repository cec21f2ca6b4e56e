/* redact.c — the one redactor (see redact.h).
 *
 * A process-wide list of secrets; each registration also stores the
 * JSON-escaped and percent-encoded forms the secret takes inside audit lines,
 * URLs and request bodies. rb_redact scans left to right; at each position it
 * first redacts by place (a URL's userinfo password, a DSN's password=, the
 * value of an Authorization/Cookie/X-Api-Key header or of a JSON member whose
 * name says it is a credential, a Bearer token), then replaces the longest
 * registered secret matching there. Secrets shorter than RB_REDACT_FREE_TEXT
 * are redacted by place only: as substrings they would blank out ordinary
 * words ("tmi" in every namespace and deployment name).
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

#define MIN_SECRET RB_REDACT_FREE_TEXT

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

static int short_pending;   /* a short secret was registered and nobody was told yet */

int rb_redact_short_pending(void)
{
    int was = short_pending;
    short_pending = 0;
    return was;
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
    if (!secret || len == 0) return 0;
    if (len < MIN_SECRET) { short_pending = 1; return 1; }   /* by place only */
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

/* ------------------------------------------------------------ by place */

static int lower_eq(const char *p, size_t left, const char *word)
{
    size_t n = strlen(word);
    if (left < n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != word[i]) return 0;
    return 1;
}

static int stop_char(char c) { return c == 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\''; }

/* At "://": the password of user:password@ ends where? Returns the offset of
 * the password's first byte and *plen, or 0. */
static size_t url_password(const char *p, size_t left, size_t *plen)
{
    if (left < 4 || memcmp(p, "://", 3) != 0) return 0;
    size_t colon = 0;
    for (size_t i = 3; i < left && i < 512; i++) {
        char c = p[i];
        if (c == '@') {
            if (!colon || i == colon + 1) return 0;
            *plen = i - colon - 1;
            return colon + 1;
        }
        if (c == '/' || c == '?' || c == '#' || stop_char(c)) return 0;
        if (c == ':' && !colon) colon = i;
    }
    return 0;
}

/* Header or JSON member names whose value is a credential. Not "credential":
 * plans name the credential used by its identity (user, sha256 fingerprint),
 * which the operator must be able to read. */
static const char *const cred_names[] = {
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey",
    "api_key", "password", "passwd", "secret", "token", "bearer", "private_key", NULL
};

static int cred_name(const char *name, size_t n)
{
    char low[64];
    if (n == 0 || n >= sizeof low) return 0;
    for (size_t i = 0; i < n; i++) low[i] = (char)(name[i] | 0x20);
    low[n] = 0;
    for (int i = 0; cred_names[i]; i++)
        if (strstr(low, cred_names[i])) return 1;
    return strcmp(low, "auth") == 0;
}

/* A value that follows "password=" (DSN), "Name: " (header) or "\"name\":\""
 * (JSON) at p, when the name says it is a credential: offset and *vlen. */
static size_t named_value(const char *s, size_t i, size_t len, size_t *vlen)
{
    const char *p = s + i;
    size_t left = len - i;
    if (lower_eq(p, left, "password=")) {                       /* libpq key=value */
        size_t j = 9, q = j < left && p[j] == '\'';
        size_t k = j + q;
        while (k < left && (q ? p[k] != '\'' : !stop_char(p[k]))) k++;
        *vlen = k - j - q;
        return *vlen ? j + q : 0;
    }
    if (p[0] == '"' && (i == 0 || s[i - 1] != '\\')) {          /* "name":"value" */
        size_t k = 1;
        while (k < left && k < 64 && p[k] != '"') k++;
        if (k >= left || k >= 64 || !cred_name(p + 1, k - 1)) return 0;
        size_t v = k + 1;
        while (v < left && p[v] == ' ') v++;
        if (v >= left || p[v] != ':') return 0;
        v++;
        while (v < left && p[v] == ' ') v++;
        if (v >= left || p[v] != '"') return 0;
        size_t e = v + 1;
        while (e < left && !(p[e] == '"' && p[e - 1] != '\\')) e++;
        *vlen = e - v - 1;
        return *vlen ? v + 1 : 0;
    }
    if (i == 0 || s[i - 1] == '\n') {                          /* Name: value */
        size_t k = 0;
        while (k < left && k < 64 && p[k] != ':' && !stop_char(p[k])) k++;
        if (k >= left || p[k] != ':' || !cred_name(p, k)) return 0;
        size_t v = k + 1;
        while (v < left && p[v] == ' ') v++;
        size_t e = v;
        while (e < left && p[e] != '\r' && p[e] != '\n') e++;
        *vlen = e - v;
        return *vlen ? v : 0;
    }
    return 0;
}

/* "Bearer TOKEN" anywhere: the token's offset and *tlen. */
static size_t bearer_token(const char *p, size_t left, size_t *tlen)
{
    if (!lower_eq(p, left, "bearer ")) return 0;
    if (lower_eq(p + 7, left - 7, "sha256:")) return 0;   /* a fingerprint names it, does not carry it */
    size_t k = 7;
    while (k < left && !stop_char(p[k]) && p[k] != ',' && p[k] != '\\') k++;
    *tlen = k - 7;
    return *tlen >= 8 ? 7 : 0;
}

/* ---------------------------------------------------------------- output */

typedef struct { char *out; size_t n, cap; } obuf;

static int put(obuf *b, const char *s, size_t k)
{
    if (b->n + k + 1 > b->cap) {
        size_t nc = (b->n + k + 1) * 2;
        char *no = realloc(b->out, nc);
        if (!no) return -1;
        b->out = no;
        b->cap = nc;
    }
    memcpy(b->out + b->n, s, k);
    b->n += k;
    return 0;
}

/* Redacts by place at i: copies the prefix kept and RB_REDACTED, returns how
 * many input bytes were consumed (0: nothing to redact here). */
static size_t by_place(obuf *b, const char *s, size_t i, size_t len)
{
    size_t vlen = 0, off = url_password(s + i, len - i, &vlen);
    if (!off) off = bearer_token(s + i, len - i, &vlen);
    if (!off) off = named_value(s, i, len, &vlen);
    if (!off || vlen == 0) return 0;
    if (vlen >= 7 && memmem(s + i + off, vlen < 24 ? vlen : 24, "sha256:", 7)) return 0;   /* a fingerprint */
    size_t m = nsecrets ? match_at(s + i + off, len - i - off) : 0;
    if (m > vlen) vlen = m;                /* a registered secret with a quote in it */
    if (vlen == sizeof RB_REDACTED - 1 && memcmp(s + i + off, RB_REDACTED, vlen) == 0) return 0;
    if (put(b, s + i, off) < 0 || put(b, RB_REDACTED, sizeof RB_REDACTED - 1) < 0) return (size_t)-1;
    return off + vlen;
}

char *rb_redact(const char *s, size_t len, size_t *outlen)
{
    obuf b = {malloc(len + 1), 0, len + 1};
    if (!b.out) return NULL;
    for (size_t i = 0; i < len;) {
        size_t used = by_place(&b, s, i, len);
        if (used == (size_t)-1) { free(b.out); return NULL; }
        if (used) { i += used; continue; }
        size_t m = nsecrets ? match_at(s + i, len - i) : 0;
        if (put(&b, m ? RB_REDACTED : s + i, m ? sizeof RB_REDACTED - 1 : 1) < 0) { free(b.out); return NULL; }
        i += m ? m : 1;
    }
    b.out[b.n] = 0;
    if (outlen) *outlen = b.n;
    return b.out;
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
