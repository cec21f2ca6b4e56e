/* k8s_url.c — Kubernetes API URLs built with CURLU (see k8s_url.h). */
#include "net/k8s_url.h"
#include <curl/curl.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out (room for n + 1); returns the length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 && (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else out[o++] = s[i];
    }
    out[o] = 0;
    return o;
}

/* The first byte of s that may not appear in a path or query: a space,
 * a control character or DEL, '#', and (with q) '?'. */
static const char *bad_byte(const char *s, int q)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '#' || (q && c == '?')) return s;
    }
    return NULL;
}

/* A '.' or '..' segment, also percent-encoded (%2e). */
static int has_dot_segment(const char *path)
{
    for (const char *p = path; *p;) {
        const char *end = strchr(p + 1, '/');
        size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
        char seg[16];
        if (n <= 9) {
            size_t m = pct_decode(p + 1, n, seg);
            if ((m == 1 && seg[0] == '.') || (m == 2 && seg[0] == '.' && seg[1] == '.')) return 1;
        }
        if (!end) break;
        p = end;
    }
    return 0;
}

static int check_path(const char *path, const char *query, char *err, size_t errlen)
{
    if (!path || path[0] != '/') return failf(err, errlen, "API path must start with '/' (got \"%.200s\")", path ? path : "");
    const char *b = bad_byte(path, 1);
    if (b && *b == '#') return failf(err, errlen, "API path \"%.200s\" holds a '#' (a fragment is never sent)", path);
    if (b && *b == '?') return failf(err, errlen, "API path \"%.200s\" holds a '?' (give the query separately)", path);
    if (b) return failf(err, errlen, "API path \"%.200s\" holds a space or control character", path);
    if (has_dot_segment(path)) return failf(err, errlen, "API path \"%.200s\" holds a '.' or '..' segment", path);
    if (query && (b = bad_byte(query, 1)))
        return failf(err, errlen, "query \"%.200s\" of API path \"%.200s\" holds %s", query, path,
                     *b == '#' ? "a '#' (a fragment is never sent)" : *b == '?' ? "a second '?'"
                     : "a space or control character");
    return 0;
}

static char *part(CURLU *u, CURLUPart what)
{
    char *s = NULL;
    return curl_url_get(u, what, &s, 0) == CURLUE_OK ? s : NULL;
}

/* The server URL parsed into u; its path prefix (no trailing '/') in *prefix. */
static int parse_server(CURLU *u, const char *server, char **prefix, char *err, size_t errlen)
{
    if (curl_url_set(u, CURLUPART_URL, server, 0) != CURLUE_OK)
        return failf(err, errlen, "server \"%.200s\" is not a URL", server);
    char *scheme = part(u, CURLUPART_SCHEME), *q = part(u, CURLUPART_QUERY), *f = part(u, CURLUPART_FRAGMENT);
    char *user = part(u, CURLUPART_USER), *path = part(u, CURLUPART_PATH);
    int ok = scheme && (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0) && !q && !f && !user && path;
    if (ok) {
        size_t n = strlen(path);
        while (n && path[n - 1] == '/') path[--n] = 0;
        *prefix = strdup(path);
    }
    curl_free(scheme); curl_free(q); curl_free(f); curl_free(user); curl_free(path);
    if (!ok) return failf(err, errlen, "server \"%.200s\" must be an http(s) URL without query, fragment or user", server);
    return *prefix ? 0 : failf(err, errlen, "out of memory");
}

/* a and b are equal but for the case of %XX escapes (libcurl writes them
 * in lower case). */
static int pct_equal(const char *a, const char *b)
{
    for (int esc = 0; *a && *b; a++, b++) {
        if (esc ? tolower((unsigned char)*a) != tolower((unsigned char)*b) : *a != *b) return 0;
        esc = *a == '%' ? 2 : esc ? esc - 1 : 0;
    }
    return *a == *b;
}

/* Re-parses url as the transport will and checks its path and query are
 * ours; *sent_query gets the query as sent (NULL when none). */
static int same_parts(const char *url, const char *path, const char *query, char **sent_query)
{
    CURLU *u = curl_url();
    int ok = 0;
    *sent_query = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        char *p = part(u, CURLUPART_PATH), *q = part(u, CURLUPART_QUERY), *f = part(u, CURLUPART_FRAGMENT);
        ok = p && strcmp(p, path) == 0 && !f && (query ? q && pct_equal(q, query) : !q);
        curl_free(p); curl_free(f);
        *sent_query = q;
    }
    curl_url_cleanup(u);
    return ok;
}

static int build(CURLU *u, const char *server, const char *path, const char *query, rb_k8s_url *out,
                 char *err, size_t errlen)
{
    char *prefix = NULL;
    if (parse_server(u, server, &prefix, err, errlen) < 0) return -1;
    size_t n = strlen(prefix) + strlen(path) + 1;
    char *full = malloc(n);
    if (!full) { free(prefix); return failf(err, errlen, "out of memory"); }
    snprintf(full, n, "%s%s", prefix, path);
    free(prefix);
    int rc = -1;
    char *sent_query = NULL;
    if (curl_url_set(u, CURLUPART_PATH, full, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_QUERY, query, 0) != CURLUE_OK || !(out->url = part(u, CURLUPART_URL)))
        failf(err, errlen, "API path \"%.200s\" does not make a URL", path);
    else if (!same_parts(out->url, full, query, &sent_query))
        failf(err, errlen, "API path \"%.200s\" would not be sent as written", path);
    else if (curl_url_set(u, CURLUPART_QUERY, "dryRun=All", CURLU_APPENDQUERY) != CURLUE_OK ||
             !(out->dry_url = part(u, CURLUPART_URL)))
        failf(err, errlen, "API path \"%.200s\": dryRun=All cannot be added", path);
    else {
        size_t tn = strlen(path) + (sent_query ? strlen(sent_query) + 1 : 0) + 1;
        if ((out->target = malloc(tn))) {
            snprintf(out->target, tn, "%s%s%s", path, sent_query ? "?" : "", sent_query ? sent_query : "");
            rc = 0;
        } else failf(err, errlen, "out of memory");
    }
    curl_free(sent_query);
    free(full);
    return rc;
}

int rb_k8s_url_build(const char *server, const char *path, const char *query, rb_k8s_url *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (query && !*query) query = NULL;
    if (check_path(path, query, err, errlen) < 0) return -1;
    CURLU *u = curl_url();
    if (!u) return failf(err, errlen, "out of memory");
    int rc = build(u, server, path, query, out, err, errlen);
    curl_url_cleanup(u);
    if (rc < 0) rb_k8s_url_free(out);
    return rc;
}

/* Every dryRun parameter of query is "All", and there is one. Split on the
 * raw '&' and '=' first, then decoded, as the server (Go's url.ParseQuery) does. */
static int query_is_dry(const char *query)
{
    int seen = 0, ok = 1;
    char *buf = strdup(query);
    if (!buf) return 0;
    for (char *p = buf, *next; ok && p; p = next) {
        char *amp = strchr(p, '&'), *eq;
        next = amp ? amp + 1 : NULL;
        if (amp) *amp = 0;
        if ((eq = strchr(p, '='))) *eq++ = 0;
        pct_decode(p, strlen(p), p);
        if (strcmp(p, "dryRun") != 0) continue;
        if (eq) pct_decode(eq, strlen(eq), eq);
        ok = eq && strcmp(eq, "All") == 0;
        seen = 1;
    }
    free(buf);
    return ok && seen;
}

int rb_k8s_url_is_dry(const char *url)
{
    CURLU *u = curl_url();
    int ok = 0;
    if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        char *q = part(u, CURLUPART_QUERY), *f = part(u, CURLUPART_FRAGMENT);
        ok = !f && q && query_is_dry(q);
        curl_free(q); curl_free(f);
    }
    curl_url_cleanup(u);
    return ok;
}

void rb_k8s_url_free(rb_k8s_url *u)
{
    curl_free(u->url);
    curl_free(u->dry_url);
    free(u->target);
    memset(u, 0, sizeof *u);
}
