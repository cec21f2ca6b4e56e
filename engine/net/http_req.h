/* http_req.h — what an HTTP request may be before it is sent: checks and
 * canonical forms shared by the transport (http_client.c) and the bindings
 * (rb.http, rb.prom, rb.net). Plain C over libcurl's URL API (CURLU), no Lua.
 *
 * - Control characters (C0, including TAB, CR, LF and NUL, and DEL) are never
 *   sent: not in a URL, a header name or value, nor a credential. A CR/LF in a
 *   header would otherwise end it and smuggle a second request.
 * - GET and HEAD carry no body, and no request carries a method-override
 *   header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override): the
 *   method the server acts on is the one the gate saw.
 * - A URL is parsed, not pasted: '#' (a fragment is never sent, so whatever
 *   follows it would silently vanish) and a second '?' are errors; the
 *   canonical form is libcurl's, which is what goes on the wire. */
#ifndef RB_HTTP_REQ_H
#define RB_HTTP_REQ_H
#include <stddef.h>
#include "http_client.h"

/* Offset of the first control character (C0 or DEL) in s[0..n), or -1. */
long rb_http_ctl_at(const char *s, size_t n);

/* Non-zero if name[0..n) names a method-override header (any case). */
int rb_http_is_override(const char *name, size_t n);

/* Non-zero if name[0..n) is an HTTP token (RFC 9110 tchar), as header names must be. */
int rb_http_is_token(const char *name, size_t n);

/* 0 if req may be sent; else -1 and err names what is wrong (the field, not its value). */
int rb_http_req_check(const rb_http_req *req, char *err, size_t errsz);

/* A URL as it will be sent: url is libcurl's canonical form without userinfo;
 * user and password (decoded, NULL when absent) are the userinfo it carried.
 * path and query are the URL's parts as sent (query NULL when absent). */
typedef struct {
    char *url, *user, *password, *path, *query;
} rb_http_url;

/* Parses in[0..n) (http or https only). 0, or -1 with err set and *out empty. */
int rb_http_url_parse(const char *in, size_t n, rb_http_url *out, char *err, size_t errsz);

/* A base URL that paths are appended to (rb.prom): as rb_http_url_parse, and
 * also no query, no '?' at all, and a path of plain segments only (letters,
 * digits, '-', '_', '~', '.', no '.' or '..' segment, no percent sign). The
 * canonical url has no trailing '/'. */
int rb_http_base_parse(const char *in, size_t n, rb_http_url *out, char *err, size_t errsz);

/* base (a canonical base URL) + path (starting with '/') + query (already
 * percent-encoded, or NULL/"") built with CURLU; *out is malloc'd. Checks that
 * the result's path is exactly the base path + path. 0, or -1 with err. */
int rb_http_url_join(const char *base, const char *path, const char *query, char **out,
                     char *err, size_t errsz);

void rb_http_url_free(rb_http_url *u);

/* "sha256:" + the first 12 hex digits of SHA-256(s[0..n)): a credential's
 * identity that can be shown and compared, never the credential. out >= 20 bytes. */
void rb_http_fingerprint(const char *s, size_t n, char out[20]);

/* Full hex SHA-256 of s[0..n); out >= 65 bytes. */
void rb_http_sha256_hex(const char *s, size_t n, char out[65]);
#endif
