/* http_req.c — checks and canonical forms of HTTP requests (see http_req.h).
 * Uses libcurl's URL API (CURLU) so that what is checked and shown is what
 * libcurl sends, and OpenSSL's SHA-256 for credential fingerprints. */
#include "http_req.h"
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const overrides[] = {"x-http-method-override", "x-http-method", "x-method-override", NULL};

static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -1;
}

long rb_http_ctl_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) return (long)i;
    return -1;
}

int rb_http_is_override(const char *name, size_t n)
{
    for (const char *const *o = overrides; *o; o++)
        if (strlen(*o) == n && strncasecmp(*o, name, n) == 0) return 1;
    return 0;
}

int rb_http_is_token(const char *name, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c))) return 0;
    }
    return 1;
}

static int has_ctl(const char *s) { return s && rb_http_ctl_at(s, strlen(s)) >= 0; }

/* One "Name: value" line as the transport receives it. */
static int check_header(const char *h, char *err, size_t errsz)
{
    const char *colon = strchr(h, ':');
    if (!colon) return fail(err, errsz, "header without ':'");
    size_t nl = (size_t)(colon - h);
    if (!rb_http_is_token(h, nl)) return fail(err, errsz, "header name is not a token");
    if (has_ctl(colon + 1)) return fail(err, errsz, "control character in header '%.*s'", (int)nl, h);
    if (rb_http_is_override(h, nl))
        return fail(err, errsz, "method-override header '%.*s' refused", (int)nl, h);
    return 0;
}

int rb_http_req_check(const rb_http_req *r, char *err, size_t errsz)
{
    const char *m = r->method ? r->method : "GET";
    if (!rb_http_is_token(m, strlen(m))) return fail(err, errsz, "method is not a token");
    if (!r->url || has_ctl(r->url)) return fail(err, errsz, "control character in URL");
    for (const char *const *h = r->headers; h && *h; h++)
        if (check_header(*h, err, errsz) < 0) return -1;
    if (has_ctl(r->bearer)) return fail(err, errsz, "control character in bearer token");
    if (has_ctl(r->user)) return fail(err, errsz, "control character in basic-auth user");
    if (has_ctl(r->password)) return fail(err, errsz, "control character in basic-auth password");
    if (has_ctl(r->tls_server_name)) return fail(err, errsz, "control character in TLS server name");
    int read = r->head_only || strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (read && r->body) return fail(err, errsz, "%s request with a body", r->head_only ? "HEAD" : m);
    return 0;
}

void rb_http_url_free(rb_http_url *u)
{
    free(u->url); free(u->user); free(u->path); free(u->query);
    if (u->password) { memset(u->password, 0, strlen(u->password)); free(u->password); }
    memset(u, 0, sizeof *u);
}

/* curl_url_get into a malloc'd copy (NULL when the part is absent). */
static char *part(CURLU *u, CURLUPart p, unsigned flags)
{
    char *v = NULL;
    if (curl_url_get(u, p, &v, flags) != CURLUE_OK) return NULL;
    char *copy = strdup(v);
    curl_free(v);
    return copy;
}

static int raw_checks(const char *in, size_t n, char *err, size_t errsz)
{
    long at = rb_http_ctl_at(in, n);
    if (at >= 0) return fail(err, errsz, "control character in URL (byte %ld)", at + 1);
    if (memchr(in, '#', n))
        return fail(err, errsz, "'#' in URL: a fragment is never sent (write %%23 if it belongs to the path)");
    const char *q = memchr(in, '?', n);
    if (q && memchr(q + 1, '?', n - (size_t)(q + 1 - in)))
        return fail(err, errsz, "a second '?' in URL (write %%3F inside a query value)");
    return 0;
}

/* Fills out from a parsed CURLU: credentials taken out, the rest canonical. */
static int take_parts(CURLU *u, rb_http_url *out, char *err, size_t errsz)
{
    char *scheme = part(u, CURLUPART_SCHEME, 0);
    int web = scheme && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    free(scheme);
    if (!web) return fail(err, errsz, "only http and https URLs");
    out->user = part(u, CURLUPART_USER, CURLU_URLDECODE);
    out->password = part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
    if (has_ctl(out->user) || has_ctl(out->password))
        return fail(err, errsz, "control character in the URL's credentials");
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
    out->url = part(u, CURLUPART_URL, 0);
    out->path = part(u, CURLUPART_PATH, 0);
    out->query = part(u, CURLUPART_QUERY, 0);
    if (!out->url || !out->path) return fail(err, errsz, "out of memory parsing the URL");
    return 0;
}

int rb_http_url_parse(const char *in, size_t n, rb_http_url *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (raw_checks(in, n, err, errsz) < 0) return -1;
    char *s = strndup(in, n);
    CURLU *u = curl_url();
    CURLUcode rc = s && u ? curl_url_set(u, CURLUPART_URL, s, 0) : CURLUE_OUT_OF_MEMORY;
    int r = rc == CURLUE_OK ? take_parts(u, out, err, errsz)
                            : fail(err, errsz, "bad URL: %s", curl_url_strerror(rc));
    curl_url_cleanup(u);
    free(s);
    if (r < 0) rb_http_url_free(out);
    return r;
}

/* A '.' or '..' segment anywhere in s (libcurl would resolve it away). */
static int dot_segment(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '/' || s[i + 1] != '.') continue;
        size_t j = i + 2;
        if (j < n && s[j] == '.') j++;
        if (j == n || s[j] == '/') return 1;
    }
    return 0;
}

static int plain_path(const char *p)
{
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("/-_~.", c))) return 0;
    }
    return 1;
}

int rb_http_base_parse(const char *in, size_t n, rb_http_url *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (memchr(in, '?', n)) return fail(err, errsz, "base URL with a query ('?')");
    if (rb_http_url_parse(in, n, out, err, errsz) < 0) return -1;
    const char *rest = memmem(in, n, "://", 3);
    if ((rest && dot_segment(rest + 3, n - (size_t)(rest + 3 - in))) || !plain_path(out->path)) {
        rb_http_url_free(out);
        return fail(err, errsz, "base URL path must be plain segments (letters, digits, - _ ~ .; "
                                "no '.' or '..' segment, no %%-escape)");
    }
    size_t ul = strlen(out->url);
    while (ul && out->url[ul - 1] == '/') out->url[--ul] = 0;
    return 0;
}

int rb_http_url_join(const char *base, const char *path, const char *query, char **out,
                     char *err, size_t errsz)
{
    *out = NULL;
    CURLU *u = curl_url();
    char *bpath = NULL, *full = NULL, *got_path = NULL;
    int r = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        !(bpath = part(u, CURLUPART_PATH, 0))) {
        fail(err, errsz, "bad base URL");
        goto done;
    }
    size_t bl = strlen(bpath);
    while (bl && bpath[bl - 1] == '/') bl--;
    if (!(full = malloc(bl + strlen(path) + 1))) { fail(err, errsz, "out of memory"); goto done; }
    memcpy(full, bpath, bl);
    strcpy(full + bl, path);
    if (curl_url_set(u, CURLUPART_PATH, full, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_QUERY, query && *query ? query : NULL, 0) != CURLUE_OK ||
        !(got_path = part(u, CURLUPART_PATH, 0)) || strcmp(got_path, full) != 0 ||
        !(*out = part(u, CURLUPART_URL, 0))) {
        fail(err, errsz, "cannot build the URL for %s", path);
        goto done;
    }
    r = 0;
done:
    free(bpath); free(full); free(got_path);
    curl_url_cleanup(u);
    return r;
}

void rb_http_sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(s, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void rb_http_fingerprint(const char *s, size_t n, char out[20])
{
    char hex[65];
    rb_http_sha256_hex(s, n, hex);
    snprintf(out, 20, "sha256:%.12s", hex);
}
