/* test_http_req.c — net/http_req.c (what an HTTP request may be, canonical
 * URLs built with CURLU, fingerprints) and the transport's gate: without a
 * sendable ticket, or with a request breaking a rule, rb_http_perform and
 * rb_http_perform_many send nothing — checked on a listening socket that must
 * see no connection. */
#include "gate_ctl.h"
#include "net/http_client.h"
#include "net/http_req.h"
#include "tap.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char err[256];

static int check(const rb_http_req *r) { return rb_http_req_check(r, err, sizeof err); }

static void test_checks(void)
{
    const char *ok_h[] = {"Accept: application/json", NULL};
    const char *crlf_h[] = {"X-A: v\r\nPOST /x HTTP/1.1", NULL};
    const char *override_h[] = {"x-HTTP-method-OVERRIDE: DELETE", NULL};
    const char *noname_h[] = {"X A: v", NULL};
    rb_http_req r = {.method = "GET", .url = "http://127.0.0.1/", .headers = ok_h};
    TAP_EQ_INT(check(&r), 0, "a plain GET passes");
    r.headers = crlf_h;
    TAP_EQ_INT(check(&r), -1, "CR/LF in a header value is refused");
    TAP_EQ_STR(err, "control character in header 'X-A'", "the error names the header");
    r.headers = override_h;
    TAP_EQ_INT(check(&r), -1, "a method-override header is refused (any case)");
    r.headers = noname_h;
    TAP_EQ_INT(check(&r), -1, "a header name that is not a token is refused");
    r.headers = NULL;
    r.bearer = "tok\n";
    TAP_EQ_INT(check(&r), -1, "LF in the bearer token is refused");
    TAP_EQ_STR(err, "control character in bearer token", "the error names the bearer");
    r.bearer = NULL;
    r.body = "x";
    r.body_len = 1;
    TAP_EQ_INT(check(&r), -1, "GET with a body is refused");
    r.method = "POST";
    TAP_EQ_INT(check(&r), 0, "POST with a body passes");
    r.head_only = 1;
    TAP_EQ_INT(check(&r), -1, "HEAD with a body is refused");
    r = (rb_http_req){.method = "GET", .url = "http://h/a\tb"};
    TAP_EQ_INT(check(&r), -1, "a TAB in the URL is refused");
    TAP_OK(rb_http_ctl_at("ab\x7f", 3) == 2, "DEL is a control character");
    TAP_OK(rb_http_ctl_at("a\0b", 3) == 1, "NUL is a control character");
}

static void url_case(const char *in, const char *want, const char *name)
{
    rb_http_url u;
    int rc = rb_http_url_parse(in, strlen(in), &u, err, sizeof err);
    if (want) TAP_EQ_STR(rc == 0 ? u.url : err, want, name);
    else TAP_OK(rc == -1, "%s (%s)", name, err);
    if (rc == 0) rb_http_url_free(&u);
}

static void test_urls(void)
{
    url_case("http://127.0.0.1:8080/a/../b/./c?q=1", "http://127.0.0.1:8080/b/c?q=1", "dot segments resolved");
    url_case("HTTP://LocalHost:9090/X", "http://LocalHost:9090/X", "scheme lower-cased, host and path kept");
    url_case("http://h/p#frag", NULL, "'#' is an error");
    url_case("http://h/p?a=1?b=2", NULL, "a second '?' is an error");
    url_case("ftp://h/p", NULL, "only http and https");
    url_case("h/p", NULL, "a scheme is required");
    url_case("http://h/a\r\nb", NULL, "CR/LF is an error");
    rb_http_url u;
    const char *in = "http://al%40ice:p%3Aw@h:1/x";
    TAP_EQ_INT(rb_http_url_parse(in, strlen(in), &u, err, sizeof err), 0, "userinfo parses");
    TAP_EQ_STR(u.url, "http://h:1/x", "userinfo is taken out of the URL");
    TAP_EQ_STR(u.user, "al@ice", "the user is decoded");
    TAP_EQ_STR(u.password, "p:w", "the password is decoded");
    rb_http_url_free(&u);
}

static void base_case(const char *in, const char *want, const char *name)
{
    rb_http_url u;
    int rc = rb_http_base_parse(in, strlen(in), &u, err, sizeof err);
    if (want) TAP_EQ_STR(rc == 0 ? u.url : err, want, name);
    else TAP_OK(rc == -1, "%s (%s)", name, err);
    if (rc == 0) rb_http_url_free(&u);
}

static void test_bases(void)
{
    base_case("http://h:9090/", "http://h:9090", "a root base has no trailing slash");
    base_case("http://h:9090/prom/", "http://h:9090/prom", "a prefix is kept");
    base_case("http://h:9090/api/v1/admin/tsdb/delete_series?x=", NULL, "a query is refused");
    base_case("http://h:9090/?", NULL, "an empty query is refused");
    base_case("http://h:9090/#", NULL, "a fragment is refused");
    base_case("http://h:9090/../api/v1/admin", NULL, "a '..' segment is refused");
    base_case("http://h:9090/x/.", NULL, "a trailing '.' segment is refused");
    base_case("http://h:9090/%2e%2e/api", NULL, "a percent escape is refused");
    base_case("http://h:9090/a;b", NULL, "a ';' is refused");
    base_case("http://h:9090/.well-known", "http://h:9090/.well-known", "a dot inside a segment is fine");
    char *out = NULL;
    TAP_EQ_INT(rb_http_url_join("http://h:9090/prom", "/api/v1/query", "query=up%7B%7D", &out, err, sizeof err),
               0, "join");
    TAP_EQ_STR(out, "http://h:9090/prom/api/v1/query?query=up%7b%7d", "base path + endpoint + query (libcurl's escapes)");
    free(out);
    TAP_EQ_INT(rb_http_url_join("http://h:9090", "/api/v1/labels", NULL, &out, err, sizeof err), 0, "join, no query");
    TAP_EQ_STR(out, "http://h:9090/api/v1/labels", "no '?' without a query");
    free(out);
    char fp[20];
    rb_http_fingerprint("abc", 3, fp);
    TAP_EQ_STR(fp, "sha256:ba7816bf8f01", "fingerprint is sha256: and 12 hex digits");
}

/* A listening socket on 127.0.0.1; its URL in url. */
static int listener(char *url, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    listen(fd, 4);
    getsockname(fd, (struct sockaddr *)&a, &len);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    snprintf(url, n, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    return fd;
}

static int connections(int fd)
{
    int n = 0, c;
    while ((c = accept(fd, NULL, NULL)) >= 0) { n++; close(c); }
    return n;
}

static void test_transport(void)
{
    char url[64];
    int fd = listener(url, sizeof url);
    rb_http_req r = {.method = "GET", .url = url, .timeout_ms = 500};
    rb_http_resp resp;
    TAP_EQ_INT(rb_http_perform(&r, &resp), -1, "no ticket: perform fails");
    TAP_EQ_INT(resp.err_kind, RB_HTTP_ENOTICKET, "... as 'refused'");
    TAP_EQ_STR(rb_http_errkind_name(resp.err_kind), "refused", "kind name");
    rb_http_resp_free(&resp);
    rb_http_req rs[2] = {r, r};
    rb_http_resp rp[2];
    TAP_EQ_INT(rb_http_perform_many(rs, rp, 2), 2, "no ticket: perform_many fails both");
    rb_http_resp_free(&rp[0]);
    rb_http_resp_free(&rp[1]);

    lua_State *L = luaL_newstate();      /* the gate in free mode issues a sendable read ticket */
    *(void **)lua_getextraspace(L) = NULL;   /* the engine's own state, not a world */
    rb_gate_set_mode(RB_MODE_FREE);
    rb_action a = {"test", "get", url, 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    TAP_OK(rb_ticket_sendable(t), "a read ticket in free mode is sendable");
    r.ticket = t;
    r.body = "x";
    r.body_len = 1;
    TAP_EQ_INT(rb_http_perform(&r, &resp), -1, "with a ticket, a GET with a body still fails");
    TAP_EQ_INT(resp.err_kind, RB_HTTP_EREQUEST, "... as 'request'");
    rb_http_resp_free(&resp);
    TAP_EQ_INT(connections(fd), 0, "the listener saw no connection");
    rb_ticket_done(L, t, 1, NULL);
    TAP_OK(!rb_ticket_sendable(t), "a ticket that is done is no longer sendable");
    r.body = NULL;
    TAP_EQ_INT(rb_http_perform(&r, &resp), -1, "a done ticket sends nothing");
    TAP_EQ_INT(resp.err_kind, RB_HTTP_ENOTICKET, "... as 'refused'");
    rb_http_resp_free(&resp);
    TAP_EQ_INT(connections(fd), 0, "still no connection");
    lua_close(L);
    close(fd);
}

int main(void)
{
    test_checks();
    test_urls();
    test_bases();
    test_transport();
    return TAP_DONE();
}
