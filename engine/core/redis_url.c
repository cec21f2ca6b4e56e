/* redis_url.c — parses Redis URLs into rb_redis_url (see redis_url.h).
 * Pure C: string scanning and percent-decoding into fixed buffers. */
#include "core/redis_url.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (cap bytes with room for a NUL); returns
 * the decoded length or -1 when malformed or too long. */
static long decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Decimal in [lo, hi] from s[0..n); -1 if not. */
static long number(const char *s, size_t n, long lo, long hi)
{
    long v = 0;
    if (n == 0 || n > 10) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v < lo || v > hi ? -1 : v;
}

/* userinfo "[user][:password]" */
static int parse_userinfo(const char *s, size_t n, rb_redis_url *u, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t)(colon - s) : n;
    if (decode(s, ulen, u->user, sizeof u->user) < 0)
        return fail(err, errlen, "malformed user name in redis URL");
    if (!colon) return 0;
    long plen = decode(colon + 1, n - ulen - 1, u->password, sizeof u->password);
    if (plen < 0) {
        u->password[0] = '\0';
        return fail(err, errlen, "malformed or too long password in redis URL");
    }
    u->password_len = (size_t)plen;
    return 0;
}

/* query "db=N[&db=N]" */
static int parse_query(const char *s, size_t n, rb_redis_url *u, char *err, size_t errlen)
{
    while (n > 0) {
        const char *amp = memchr(s, '&', n);
        size_t len = amp ? (size_t)(amp - s) : n;
        if (len < 3 || strncmp(s, "db=", 3) != 0)
            return fail(err, errlen, "unknown parameter in redis URL (only db=N is understood)");
        long db = number(s + 3, len - 3, 0, 1L << 30);
        if (db < 0) return fail(err, errlen, "invalid database number in redis URL");
        u->db = (int)db;
        if (!amp) break;
        n -= len + 1;
        s = amp + 1;
    }
    return 0;
}

/* host[:port] or [v6][:port] */
static int parse_hostport(const char *s, size_t n, rb_redis_url *u, char *err, size_t errlen)
{
    const char *host = s, *portp = NULL;
    size_t hlen = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return fail(err, errlen, "unterminated [IPv6] host in redis URL");
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':') return fail(err, errlen, "unexpected text after [IPv6] host in redis URL");
            portp = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) { hlen = (size_t)(colon - s); portp = colon + 1; }
    }
    if (hlen == 0) return fail(err, errlen, "missing host in redis URL");
    if (hlen >= sizeof u->host) return fail(err, errlen, "host name too long in redis URL");
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (portp) {
        long port = number(portp, (size_t)(s + n - portp), 1, 65535);
        if (port < 0) return fail(err, errlen, "invalid port in redis URL");
        u->port = (int)port;
    }
    return 0;
}

/* After "redis://": [userinfo@]hostport[/db][?query] */
static int parse_tcp(const char *s, rb_redis_url *u, char *err, size_t errlen)
{
    const char *at = strrchr(s, '@');
    if (at) {
        if (parse_userinfo(s, (size_t)(at - s), u, err, errlen) < 0) return -1;
        s = at + 1;
    }
    size_t hp = strcspn(s, "/?");
    if (parse_hostport(s, hp, u, err, errlen) < 0) return -1;
    s += hp;
    if (*s == '/') {
        size_t dlen = strcspn(s + 1, "?");
        if (dlen > 0) {
            long db = number(s + 1, dlen, 0, 1L << 30);
            if (db < 0) return fail(err, errlen, "invalid database number in redis URL path");
            u->db = (int)db;
        }
        s += 1 + dlen;
    }
    return *s == '?' ? parse_query(s + 1, strlen(s + 1), u, err, errlen) : 0;
}

/* After "unix://": [userinfo@]/path[?query] */
static int parse_unix(const char *s, rb_redis_url *u, char *err, size_t errlen)
{
    u->unix_socket = 1;
    if (*s != '/') {
        const char *at = strrchr(s, '@');
        if (!at) return fail(err, errlen, "unix socket URL needs an absolute path: unix:///path/to.sock");
        if (parse_userinfo(s, (size_t)(at - s), u, err, errlen) < 0) return -1;
        s = at + 1;
    }
    if (*s != '/') return fail(err, errlen, "unix socket URL needs an absolute path: unix:///path/to.sock");
    size_t plen = strcspn(s, "?");
    if (decode(s, plen, u->path, sizeof u->path) < 0)
        return fail(err, errlen, "malformed or too long socket path in redis URL");
    s += plen;
    return *s == '?' ? parse_query(s + 1, strlen(s + 1), u, err, errlen) : 0;
}

int rb_redis_url_parse(const char *url, rb_redis_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    const char *sep = strstr(url, "://");
    if (!sep) return fail(err, errlen, "not a redis URL (want redis://host:port/db or unix:///path)");
    size_t slen = (size_t)(sep - url);
    const char *rest = sep + 3;
    if (slen == 5 && strncasecmp(url, "redis", 5) == 0)
        return parse_tcp(rest, u, err, errlen);
    if ((slen == 4 && strncasecmp(url, "unix", 4) == 0) ||
        (slen == 10 && strncasecmp(url, "redis+unix", 10) == 0))
        return parse_unix(rest, u, err, errlen);
    if (slen == 6 && strncasecmp(url, "rediss", 6) == 0)
        return fail(err, errlen, "rediss:// (TLS) is not supported: Debian 12's hiredis 0.14 has no TLS; "
                    "use a TLS tunnel (stunnel, kubectl port-forward) and redis://");
    return fail(err, errlen, "unknown scheme in redis URL (want redis://, unix:// or redis+unix://)");
}
