/* k8s_ws.c — exec over WebSocket for rb.k8s (see k8s_ws.h). libcurl makes
 * the TCP+TLS connection (CONNECT_ONLY, with the same CA, client
 * certificate and server-name settings as net/http_client.c); this file
 * writes the HTTP/1.1 Upgrade request, reads the 101 answer and speaks
 * RFC 6455 frames with curl_easy_send/recv, polling the socket so the
 * whole exchange stays within the request's timeout and ^C. */
#include "net/k8s_ws.h"
#include "gate.h"
#include "gate_ctl.h"
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_MSG (64u << 20)
#define PROTOCOLS "v5.channel.k8s.io, v4.channel.k8s.io"

enum { OP_CONT = 0, OP_TEXT = 1, OP_BIN = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

typedef struct {
    CURL *c;
    curl_socket_t fd;
    struct timespec deadline;
    unsigned char *buf;     /* received, not yet consumed */
    size_t len, cap;
    rb_k8s_ws_result *res;
} conn;

size_t rb_ws_encode(unsigned char *out, int op, const unsigned char *payload, size_t len,
                    const unsigned char mask[4])
{
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | op);
    if (len < 126) out[h++] = (unsigned char)(0x80 | len);
    else if (len < 65536) { out[h++] = 0x80 | 126; out[h++] = (unsigned char)(len >> 8); out[h++] = (unsigned char)len; }
    else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (unsigned char)((unsigned long long)len >> (8 * i));
    }
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) out[h + i] = payload[i] ^ mask[i & 3];
    return h + len;
}

long rb_ws_decode(unsigned char *buf, size_t n, int *op, int *fin, unsigned char **payload, size_t *plen)
{
    if (n < 2) return 0;
    *fin = buf[0] >> 7;
    *op = buf[0] & 0x0f;
    if (buf[0] & 0x70) return -1;               /* no extensions were negotiated */
    int masked = buf[1] >> 7;
    unsigned long long len = buf[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = ((unsigned)buf[2] << 8) | buf[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | buf[2 + i];
        h = 10;
    }
    if (len > MAX_MSG) return -1;
    if (*op >= 8 && (len > 125 || !*fin)) return -1;   /* control frames are short and whole */
    size_t mh = masked ? 4 : 0;
    if (n < h + mh + len) return 0;
    if (masked)
        for (size_t i = 0; i < len; i++) buf[h + 4 + i] ^= buf[h + (i & 3)];
    *payload = buf + h + mh;
    *plen = (size_t)len;
    return (long)(h + mh + len);
}

static int fail(conn *k, rb_http_errkind kind, const char *fmt, const char *detail)
{
    k->res->err_kind = kind;
    snprintf(k->res->errmsg, sizeof k->res->errmsg, fmt, detail);
    return -1;
}

static long ms_left(const conn *k)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (k->deadline.tv_sec - now.tv_sec) * 1000 + (k->deadline.tv_nsec - now.tv_nsec) / 1000000;
}

/* Waits until the socket is ready for events; -1 on timeout or ^C. */
static int wait_for(conn *k, short events)
{
    for (;;) {
        if (rb_gate_interrupted()) return fail(k, RB_HTTP_EINTR, "%s", "interrupted");
        long left = ms_left(k);
        if (left <= 0) return fail(k, RB_HTTP_ETIMEOUT, "%s", "exec did not finish within the timeout");
        struct pollfd p = {k->fd, events, 0};
        int r = poll(&p, 1, left < 100 ? (int)left : 100);
        if (r > 0) return 0;
    }
}

static int send_all(conn *k, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(k->c, s, n, &sent);
        if (rc == CURLE_AGAIN) { if (wait_for(k, POLLOUT) < 0) return -1; continue; }
        if (rc != CURLE_OK) return fail(k, RB_HTTP_ECONN, "send: %s", curl_easy_strerror(rc));
        s += sent;
        n -= sent;
    }
    return 0;
}

/* Reads more bytes into k->buf; 0 on data, 1 at end of stream, -1 on error. */
static int recv_more(conn *k)
{
    if (k->len + 16384 > k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 65536;
        if (nc > MAX_MSG * 2) return fail(k, RB_HTTP_EHTTP, "%s", "message too large");
        unsigned char *nb = realloc(k->buf, nc);
        if (!nb) return fail(k, RB_HTTP_ENOMEM, "%s", "out of memory");
        k->buf = nb;
        k->cap = nc;
    }
    for (;;) {
        size_t got = 0;
        CURLcode rc = curl_easy_recv(k->c, k->buf + k->len, k->cap - k->len - 1, &got);
        if (rc == CURLE_AGAIN) { if (wait_for(k, POLLIN) < 0) return -1; continue; }
        if (rc != CURLE_OK) return fail(k, RB_HTTP_ECONN, "recv: %s", curl_easy_strerror(rc));
        if (got == 0) return 1;
        k->len += got;
        k->buf[k->len] = 0;
        return 0;
    }
}

static void consume(conn *k, size_t n)
{
    memmove(k->buf, k->buf + n, k->len - n);
    k->len -= n;
}

static int send_frame(conn *k, int op, const unsigned char *p, size_t n)
{
    unsigned char mask[4];
    if (RAND_bytes(mask, 4) != 1) return fail(k, RB_HTTP_ENOMEM, "%s", "no random bytes");
    unsigned char *f = malloc(n + 14);
    if (!f) return fail(k, RB_HTTP_ENOMEM, "%s", "out of memory");
    size_t fl = rb_ws_encode(f, op, p, n, mask);
    int rc = send_all(k, f, fl);
    free(f);
    return rc;
}

static int connect_only(conn *k, const rb_http_req *r, struct curl_slist **connect_to)
{
    CURL *c = k->c;
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_SSL_ENABLE_ALPN, 0L);   /* HTTP/1.1: the upgrade needs it */
    if (r->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    struct curl_blob b;
    if (r->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
    if (r->ca_pem) { b = (struct curl_blob){(void *)r->ca_pem, strlen(r->ca_pem), CURL_BLOB_COPY}; curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b); }
    if (r->cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, r->cert_file);
    if (r->key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, r->key_file);
    if (r->cert_pem) { b = (struct curl_blob){(void *)r->cert_pem, strlen(r->cert_pem), CURL_BLOB_COPY}; curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &b); }
    if (r->key_pem) { b = (struct curl_blob){(void *)r->key_pem, strlen(r->key_pem), CURL_BLOB_COPY}; curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &b); }
    if (r->tls_server_name) {
        /* verify NAME: connect to the URL's host:port while TLS checks NAME */
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL, map[512];
        if (u && curl_url_set(u, CURLUPART_URL, r->url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
            snprintf(map, sizeof map, "%s:%s:%s:%s", r->tls_server_name, port, host, port);
            *connect_to = curl_slist_append(NULL, map);
            char *url = NULL;
            curl_url_set(u, CURLUPART_HOST, r->tls_server_name, 0);
            curl_url_get(u, CURLUPART_URL, &url, 0);
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_CONNECT_TO, *connect_to);
            curl_free(url);
        }
        curl_free(host); curl_free(port);
        curl_url_cleanup(u);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        rb_http_errkind kind = RB_HTTP_EHTTP;
        if (rc == CURLE_OPERATION_TIMEDOUT) kind = RB_HTTP_ETIMEOUT;
        else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) kind = RB_HTTP_ECONN;
        else if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
                 rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE)
            kind = RB_HTTP_ETLS;
        return fail(k, kind, "%s", curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &k->fd);
    return 0;
}

/* The Upgrade request: path and query from the URL, credentials as headers. */
static int send_upgrade(conn *k, const rb_http_req *r)
{
    const char *p = strstr(r->url, "://");
    p = p ? p + 3 : r->url;
    const char *path = strchr(p, '/');
    if (!path) return fail(k, RB_HTTP_EHTTP, "bad exec URL %s", r->url);
    unsigned char nonce[16], key[32];
    RAND_bytes(nonce, sizeof nonce);
    EVP_EncodeBlock(key, nonce, sizeof nonce);
    char auth[4096] = "";
    if (r->bearer) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", r->bearer);
    else if (r->user) {
        char plain[1024];
        unsigned char enc[1400];
        int n = snprintf(plain, sizeof plain, "%s:%s", r->user, r->password ? r->password : "");
        EVP_EncodeBlock(enc, (unsigned char *)plain, n < (int)sizeof plain ? n : (int)sizeof plain - 1);
        snprintf(auth, sizeof auth, "Authorization: Basic %s\r\n", enc);
    }
    size_t need = strlen(r->url) + strlen(auth) + 512;
    char *req = malloc(need);
    if (!req) return fail(k, RB_HTTP_ENOMEM, "%s", "out of memory");
    int n = snprintf(req, need,
                     "GET %s HTTP/1.1\r\nHost: %.*s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
                     "User-Agent: runbook-k8s/1.0\r\n%s\r\n",
                     path, (int)(path - p), p, key, PROTOCOLS, auth);
    int rc = send_all(k, req, (size_t)n);
    memset(req, 0, need);
    memset(auth, 0, sizeof auth);
    free(req);
    return rc;
}

static void header_value(const char *head, const char *name, char *out, size_t outsz)
{
    rb_http_header(head, name, out, outsz);
}

/* Reads the answer to the upgrade. Returns 1 when upgraded, 0 when refused
 * (status and body recorded), -1 on failure. */
static int read_upgrade(conn *k)
{
    char *end;
    while (!(k->buf && (end = strstr((char *)k->buf, "\r\n\r\n")))) {
        int r = recv_more(k);
        if (r < 0) return -1;
        if (r > 0) return fail(k, RB_HTTP_ECONN, "%s", "connection closed before the upgrade answer");
    }
    size_t hlen = (size_t)(end - (char *)k->buf) + 4;
    char *head = strndup((char *)k->buf, hlen);
    if (!head) return fail(k, RB_HTTP_ENOMEM, "%s", "out of memory");
    long status = 0;
    sscanf(head, "HTTP/%*s %ld", &status);
    k->res->http_status = status;
    consume(k, hlen);
    if (status == 101) {
        header_value(head, "sec-websocket-protocol", k->res->protocol, sizeof k->res->protocol);
        free(head);
        return 1;
    }
    char cl[32] = "";
    header_value(head, "content-length", cl, sizeof cl);
    free(head);
    size_t want = cl[0] ? (size_t)strtoul(cl, NULL, 10) : 0;
    while (k->len < want) {
        int r = recv_more(k);
        if (r != 0) break;
    }
    k->res->http_body = strndup(k->buf ? (char *)k->buf : "", k->len < want ? k->len : want);
    return 0;
}

static int append(char **dst, size_t *len, const unsigned char *p, size_t n)
{
    char *nb = realloc(*dst, *len + n + 1);
    if (!nb) return -1;
    memcpy(nb + *len, p, n);
    *len += n;
    nb[*len] = 0;
    *dst = nb;
    return 0;
}

/* Channel byte first (v4 and v5 binary framing), then data. A continuation
 * frame belongs to the channel of the message it continues. */
static int deliver(conn *k, int channel, const unsigned char *p, size_t n)
{
    rb_k8s_ws_result *r = k->res;
    int rc = 0;
    if (channel == 1) rc = append(&r->out, &r->out_len, p, n);
    else if (channel == 2) rc = append(&r->err, &r->err_len, p, n);
    else if (channel == 3) rc = append(&r->status, &r->status_len, p, n);
    return rc < 0 ? fail(k, RB_HTTP_ENOMEM, "%s", "out of memory") : 0;
}

static int read_frames(conn *k)
{
    int channel = -1;
    for (;;) {
        int op, fin;
        unsigned char *pl;
        size_t n;
        long fl = k->len ? rb_ws_decode(k->buf, k->len, &op, &fin, &pl, &n) : 0;
        if (fl < 0) return fail(k, RB_HTTP_EHTTP, "%s", "invalid WebSocket frame from the server");
        if (fl == 0) {
            int r = recv_more(k);
            if (r < 0) return -1;
            if (r > 0) return 0;    /* the server closed the connection: done */
            continue;
        }
        int rc = 0;
        if (op == OP_CLOSE) { send_frame(k, OP_CLOSE, pl, n >= 2 ? 2 : 0); return 0; }
        if (op == OP_PING) rc = send_frame(k, OP_PONG, pl, n);
        else if (op == OP_TEXT || op == OP_BIN) {
            channel = n ? pl[0] : -1;
            if (n > 1) rc = deliver(k, channel, pl + 1, n - 1);
        } else if (op == OP_CONT && channel >= 0) rc = deliver(k, channel, pl, n);
        if (fin && op != OP_PING && op != OP_PONG) channel = -1;
        consume(k, (size_t)fl);
        if (rc < 0) return -1;
    }
}

static int send_stdin(conn *k, const char *in, size_t in_len)
{
    unsigned char *m = malloc(in_len + 1);
    if (!m) return fail(k, RB_HTTP_ENOMEM, "%s", "out of memory");
    m[0] = 0;
    memcpy(m + 1, in, in_len);
    int rc = send_frame(k, OP_BIN, m, in_len + 1);
    free(m);
    if (rc < 0) return -1;
    if (strcmp(k->res->protocol, "v5.channel.k8s.io") == 0) {
        static const unsigned char close_stdin[2] = {255, 0};
        return send_frame(k, OP_BIN, close_stdin, 2);
    }
    return 0;
}

int rb_k8s_ws_exec(const rb_http_req *req, const char *in, size_t in_len, rb_k8s_ws_result *res)
{
    memset(res, 0, sizeof *res);
    conn k = {.res = res};
    clock_gettime(CLOCK_MONOTONIC, &k.deadline);
    long t = req->timeout_ms > 0 ? req->timeout_ms : 60000;
    k.deadline.tv_sec += t / 1000;
    k.deadline.tv_nsec += (t % 1000) * 1000000;
    if (k.deadline.tv_nsec >= 1000000000) { k.deadline.tv_sec++; k.deadline.tv_nsec -= 1000000000; }
    struct curl_slist *connect_to = NULL;
    if (!rb_ticket_sendable(req->ticket)) {   /* the gate's word first: nothing connects without it */
        fail(&k, RB_HTTP_ENOTICKET, "%s", "refused: no gate ticket allows this exec");
        return -1;
    }
    k.c = curl_easy_init();
    int rc = -1;
    if (!k.c) { fail(&k, RB_HTTP_ENOMEM, "%s", "curl init failed"); goto out; }
    if (connect_only(&k, req, &connect_to) < 0 || send_upgrade(&k, req) < 0) goto out;
    int up = read_upgrade(&k);
    if (up < 0) goto out;
    rc = 0;
    if (up == 0) goto out;
    if (in && send_stdin(&k, in, in_len) < 0) { rc = -1; goto out; }
    if (read_frames(&k) < 0) rc = -1;
out:
    if (k.c) curl_easy_cleanup(k.c);
    curl_slist_free_all(connect_to);
    free(k.buf);
    return rc;
}

void rb_k8s_ws_result_free(rb_k8s_ws_result *res)
{
    free(res->out); free(res->err); free(res->status); free(res->http_body);
    res->out = res->err = res->status = res->http_body = NULL;
}
