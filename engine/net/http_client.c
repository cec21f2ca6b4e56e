/* http_client.c — libcurl under every HTTP-speaking binding (see
 * http_client.h). One easy handle is kept for single requests and one multi
 * handle for concurrent ones, so connections are reused across calls. The
 * transfer's progress callback also checks the engine's interrupt flag, so
 * ^C aborts a long read (a CPU profile, a hung server) at once; a write the
 * gate let through runs to its end (bounded by its timeout) and is audited. */
#include "http_client.h"
#include "http_req.h"
#include "gate_ctl.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (256u << 20)

typedef struct {
    const rb_http_req *req;
    rb_http_resp *resp;
    struct curl_slist *hdrs, *connect_to;
    size_t body_cap, hdr_cap;
    double last_progress;
    int too_big;
    char *url_copy;
    double t0;            /* monotonic start, seconds */
    int ticked;           /* a progress line is on the terminal */
} transfer;

static int global_ready;
static char progress_text[160];
static double progress_total;
static CURL *shared_easy;
static CURLM *shared_multi;

static void global_init(void)
{
    if (!global_ready) { curl_global_init(CURL_GLOBAL_DEFAULT); global_ready = 1; }
}

/* Appends to a growable NUL-terminated buffer. */
static int grow_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap : 1024);
        while (nc < *len + n + 1) nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    transfer *t = ud;
    size_t max = t->req->max_body ? t->req->max_body : DEFAULT_MAX_BODY;
    if (t->resp->body_len + sz * n > max) { t->too_big = 1; return 0; }
    if (grow_append(&t->resp->body, &t->resp->body_len, &t->body_cap, p, sz * n) < 0) return 0;
    return sz * n;
}

/* Keeps only the last response's headers (after 100-continue or redirects). */
static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    transfer *t = ud;
    if (n * sz >= 5 && strncmp(p, "HTTP/", 5) == 0) t->resp->headers_len = 0;
    if (grow_append(&t->resp->headers, &t->resp->headers_len, &t->hdr_cap, p, sz * n) < 0) return 0;
    return sz * n;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void rb_http_progress_label(const char *label, double total_seconds)
{
    snprintf(progress_text, sizeof progress_text, "%s", label ? label : "");
    progress_total = total_seconds;
}

/* The terminal progress line: once a second after the first second. */
static void tick(transfer *t, double elapsed)
{
    if (!progress_text[0] || elapsed < 1 || (int)elapsed == t->ticked || !isatty(2)) return;
    t->ticked = (int)elapsed;
    fprintf(stderr, "\r%s  %d/%.0f s ", progress_text, t->ticked, progress_total);
    fflush(stderr);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    transfer *t = ud;
    (void)dltotal; (void)ultotal; (void)ulnow;
    /* ^C aborts a read at once; an approved write on the wire is let finish
       so its result is known and audited */
    if (rb_gate_interrupted() && !rb_gate_write_in_flight()) return 1;
    double elapsed = mono() - t->t0;
    tick(t, elapsed);
    if (!t->req->progress) return 0;
    return t->req->progress(t->req->progress_ud, (double)dlnow, elapsed);
}

/* tls_server_name: ask for https://NAME:port/... and connect to the real host. */
static void set_server_name(CURL *c, transfer *t)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *rewritten = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, t->req->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_HOST, t->req->tls_server_name, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &rewritten, 0) == CURLUE_OK) {
        char map[512];
        snprintf(map, sizeof map, "%s:%s:%s:%s", t->req->tls_server_name, port, host, port);
        t->connect_to = curl_slist_append(NULL, map);
        t->url_copy = strdup(rewritten);
        curl_easy_setopt(c, CURLOPT_URL, t->url_copy);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, t->connect_to);
    }
    curl_free(host); curl_free(port); curl_free(rewritten);
    curl_url_cleanup(u);
}

static void set_blob(CURL *c, CURLoption opt, const char *pem)
{
    struct curl_blob b = {(void *)pem, strlen(pem), CURL_BLOB_COPY};
    curl_easy_setopt(c, opt, &b);
}

static void set_tls(CURL *c, const rb_http_req *r)
{
    if (r->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
    if (r->ca_pem) set_blob(c, CURLOPT_CAINFO_BLOB, r->ca_pem);
    if (r->cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, r->cert_file);
    if (r->key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, r->key_file);
    if (r->cert_pem) { curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM"); set_blob(c, CURLOPT_SSLCERT_BLOB, r->cert_pem); }
    if (r->key_pem) { curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM"); set_blob(c, CURLOPT_SSLKEY_BLOB, r->key_pem); }
}

static void set_method(CURL *c, const rb_http_req *r)
{
    const char *m = r->method ? r->method : "GET";
    if (r->head_only || strcmp(m, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    if (r->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, r->body);
        if (strcmp(m, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    }
}

static void setup(CURL *c, transfer *t)
{
    const rb_http_req *r = t->req;
    t->t0 = mono();
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "runbook/0.1");
    for (const char *const *h = r->headers; h && *h; h++) t->hdrs = curl_slist_append(t->hdrs, *h);
    if (r->bearer) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, r->bearer);
    } else if (r->user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, r->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, r->password ? r->password : "");
    }
    if (t->hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->hdrs);
    if (r->fresh_connect) {
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    }
    set_method(c, r);
    set_tls(c, r);
    if (r->tls_server_name) set_server_name(c, t);
}

static rb_http_errkind classify(CURLcode rc, int too_big)
{
    if (too_big) return RB_HTTP_EHTTP;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return RB_HTTP_ETIMEOUT;
    case CURLE_ABORTED_BY_CALLBACK: return RB_HTTP_EINTR;
    case CURLE_OUT_OF_MEMORY: return RB_HTTP_ENOMEM;
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE: case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED:
        return RB_HTTP_ETLS;
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING: case CURLE_SEND_ERROR: case CURLE_RECV_ERROR:
        return RB_HTTP_ECONN;
    default: return RB_HTTP_EHTTP;
    }
}

static int finish(CURL *c, transfer *t, CURLcode rc)
{
    rb_http_resp *r = t->resp;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME, &r->t_dns);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &r->t_connect);
    curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME, &r->t_tls);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME, &r->t_first_byte);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->t_total);
    char *eff = NULL;
    curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
    r->effective_url = strdup(eff ? eff : t->req->url);
    if (!r->body) grow_append(&r->body, &r->body_len, &t->body_cap, "", 0);
    if (!r->headers) grow_append(&r->headers, &r->headers_len, &t->hdr_cap, "", 0);
    curl_slist_free_all(t->hdrs);
    curl_slist_free_all(t->connect_to);
    free(t->url_copy);
    if (t->ticked) { fputs("\r\033[K", stderr); fflush(stderr); }
    if (rc == CURLE_OK && !t->too_big) return 0;
    r->err_kind = classify(rc, t->too_big);
    if (t->too_big) snprintf(r->err, sizeof r->err, "response body larger than the limit");
    else if (rc == CURLE_ABORTED_BY_CALLBACK) snprintf(r->err, sizeof r->err, "interrupted");
    else snprintf(r->err, sizeof r->err, "%s", curl_easy_strerror(rc));
    return -1;
}

/* 0 if req may go out: the gate's ticket allows it and it breaks no rule of
 * http_req.h; else fills resp as a failure that sent nothing. */
static int admit(const rb_http_req *req, rb_http_resp *resp)
{
    if (!rb_ticket_sendable(req->ticket)) {
        resp->err_kind = RB_HTTP_ENOTICKET;
        snprintf(resp->err, sizeof resp->err, "no gate ticket: nothing sent");
        return -1;
    }
    if (rb_http_req_check(req, resp->err, sizeof resp->err) == 0) return 0;
    resp->err_kind = RB_HTTP_EREQUEST;
    return -1;
}

/* A refused request still gets empty body/headers/url, like a completed one. */
static int refuse(const rb_http_req *req, rb_http_resp *resp)
{
    resp->body = calloc(1, 1);
    resp->headers = calloc(1, 1);
    resp->effective_url = strdup(req->url ? req->url : "");
    return -1;
}

int rb_http_perform(const rb_http_req *req, rb_http_resp *resp)
{
    transfer t = {.req = req, .resp = resp};
    memset(resp, 0, sizeof *resp);
    if (admit(req, resp) < 0) return refuse(req, resp);
    global_init();
    if (!shared_easy) shared_easy = curl_easy_init();
    else curl_easy_reset(shared_easy);
    if (!shared_easy) { resp->err_kind = RB_HTTP_ENOMEM; snprintf(resp->err, sizeof resp->err, "curl init failed"); return -1; }
    setup(shared_easy, &t);
    CURLcode rc = curl_easy_perform(shared_easy);
    return finish(shared_easy, &t, rc);
}

int rb_http_perform_many(const rb_http_req *reqs, rb_http_resp *resps, int n)
{
    global_init();
    if (!shared_multi) shared_multi = curl_multi_init();
    transfer *ts = calloc((size_t)n, sizeof *ts);
    CURL **cs = calloc((size_t)n, sizeof *cs);
    int failed = 0, running = 0;
    if (!ts || !cs || !shared_multi) { free(ts); free(cs); return n; }
    for (int i = 0; i < n; i++) {
        memset(&resps[i], 0, sizeof resps[i]);
        if (admit(&reqs[i], &resps[i]) < 0) { failed += refuse(&reqs[i], &resps[i]) < 0; continue; }
        ts[i].req = &reqs[i];
        ts[i].resp = &resps[i];
        cs[i] = curl_easy_init();
        setup(cs[i], &ts[i]);
        curl_easy_setopt(cs[i], CURLOPT_PRIVATE, &ts[i]);
        curl_multi_add_handle(shared_multi, cs[i]);
    }
    do {
        curl_multi_perform(shared_multi, &running);
        if (running) curl_multi_poll(shared_multi, NULL, 0, 100, NULL);
    } while (running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(shared_multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        transfer *t;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (finish(m->easy_handle, t, m->data.result) < 0) failed++;
    }
    for (int i = 0; i < n; i++) {
        if (!cs[i]) continue;
        curl_multi_remove_handle(shared_multi, cs[i]);
        curl_easy_cleanup(cs[i]);
    }
    free(ts);
    free(cs);
    return failed;
}

void rb_http_resp_free(rb_http_resp *r)
{
    free(r->body);
    free(r->headers);
    free(r->effective_url);
    memset(r, 0, sizeof *r);
}

const char *rb_http_errkind_name(rb_http_errkind k)
{
    static const char *const names[] = {"ok", "conn", "timeout", "tls", "http", "interrupted", "nomem",
                                        "request", "refused"};
    return names[k];
}

int rb_http_header(const char *headers, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    for (const char *p = headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            size_t vl = (size_t)(p + len - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) vl--;
            snprintf(out, outsz, "%.*s", (int)vl, v);
            return 1;
        }
        p = eol ? eol + 1 : p + len;
    }
    return 0;
}
