/* http_client.h — the HTTP transport under rb.http, rb.prom, rb.k8s, rb.pprof.
 *
 * Plain C over libcurl, no Lua: a request struct in, a response struct out.
 * rb_http_perform_many() runs independent requests concurrently on one
 * libcurl multi handle (DESIGN §9: reads in one round trip); the engine loop
 * will grow from it. Failures are classified so bindings can map them to
 * err.kind: conn, timeout, tls, http (protocol), interrupted, request (the
 * request breaks a rule of http_req.h: nothing was sent), refused (no gate
 * ticket allows it: nothing was sent).
 *
 * Every request carries the gate ticket its binding got from rb_gate_open()
 * (gate.h); the transport sends nothing unless rb_ticket_sendable() holds
 * for it, so no byte leaves the process without the gate's word. */
#ifndef RB_HTTP_CLIENT_H
#define RB_HTTP_CLIENT_H
#include <stddef.h>

typedef enum {
    RB_HTTP_OK = 0, RB_HTTP_ECONN, RB_HTTP_ETIMEOUT, RB_HTTP_ETLS, RB_HTTP_EHTTP,
    RB_HTTP_EINTR, RB_HTTP_ENOMEM, RB_HTTP_EREQUEST, RB_HTTP_ENOTICKET
} rb_http_errkind;

typedef struct rb_ticket rb_ticket;   /* gate.h */

typedef struct {
    const rb_ticket *ticket;     /* the gate's ticket for this call (required) */
    const char *method;          /* "GET", "POST", ... */
    const char *url;
    const char *body;            /* may be NULL */
    size_t body_len;
    const char *const *headers;  /* NULL-terminated "Name: value" list, or NULL */
    long connect_timeout_ms;     /* 0 = 5000 */
    long timeout_ms;             /* 0 = 30000 */
    const char *bearer;          /* Authorization: Bearer (caller registers it with the redactor) */
    const char *user, *password; /* basic auth */
    int insecure;                /* skip TLS verification (caller audits it) */
    const char *ca_file;         /* CA bundle path */
    const char *ca_pem;          /* CA certificates, PEM in memory */
    const char *cert_file, *key_file; /* client certificate and key, paths */
    const char *cert_pem, *key_pem;   /* ... or PEM in memory */
    const char *tls_server_name; /* name to verify instead of the URL's host */
    int head_only;               /* HEAD: no body */
    int fresh_connect;           /* a new connection, not reused after (probes that time the connect) */
    size_t max_body;             /* 0 = 256 MiB */
    /* called about every 100 ms while the request runs; return non-zero to abort
       (the engine uses it for SIGINT and for progress displays) */
    int (*progress)(void *ud, double dl_now, double elapsed_s);
    void *progress_ud;
} rb_http_req;

typedef struct {
    long status;
    char *body; size_t body_len;        /* NUL-terminated (malloc'd) */
    char *headers; size_t headers_len;  /* raw header block of the final response */
    char *effective_url;
    double t_dns, t_connect, t_tls, t_first_byte, t_total; /* seconds from start */
    rb_http_errkind err_kind;
    char err[256];
} rb_http_resp;

/* Performs one request; returns 0 on a completed exchange (any HTTP status),
 * -1 on failure with resp->err_kind and resp->err set. A request that fails
 * rb_http_req_check() (http_req.h) is not sent. */
int rb_http_perform(const rb_http_req *req, rb_http_resp *resp);

/* Performs n requests concurrently; each resp is filled as by rb_http_perform.
 * Returns the number that failed. */
int rb_http_perform_many(const rb_http_req *reqs, rb_http_resp *resps, int n);

void rb_http_resp_free(rb_http_resp *resp);

/* While label is set, transfers that take longer than a second show
 * "label  N/total s" on stderr when it is a terminal, updated every second and
 * cleared when the transfer ends (a CPU profile blocks for its length).
 * NULL turns it off. The label is copied. */
void rb_http_progress_label(const char *label, double total_seconds);

/* The error kind as the Lua-visible string: "conn", "timeout", "tls", "http", ... */
const char *rb_http_errkind_name(rb_http_errkind k);

/* Next header value named name (case-insensitive) in a raw header block;
 * copies into out (truncating) and returns 1 if found. */
int rb_http_header(const char *headers, const char *name, char *out, size_t outsz);
#endif
