/* test_k8s_url.c — net/k8s_url.h: Kubernetes API URLs built with CURLU
 * ('#', a second '?', dot segments and control characters refused, naming the
 * path; dryRun=All appended and verified as the server reads the query), and
 * net/k8s_ws.h's refusal to connect without a gate ticket (a listening socket
 * on 127.0.0.1 sees no connection). */
#include "net/k8s_url.h"
#include "net/k8s_ws.h"
#include "tap.h"
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER "https://127.0.0.1:6443"

static void builds(const char *server, const char *path, const char *query, const char *url, const char *target)
{
    rb_k8s_url u;
    char err[600] = "";
    int rc = rb_k8s_url_build(server, path, query, &u, err, sizeof err);
    TAP_EQ_INT(rc, 0, path);
    if (rc < 0) { printf("#   %s\n", err); return; }
    TAP_EQ_STR(u.url, url, "url as sent");
    TAP_EQ_STR(u.target, target, "target: path and query as sent");
    TAP_OK(rb_k8s_url_is_dry(u.dry_url), "dry url %s carries dryRun=All", u.dry_url);
    TAP_OK(!rb_k8s_url_is_dry(u.url), "the url itself is not dry");
    rb_k8s_url_free(&u);
}

static void refused(const char *path, const char *query, const char *want)
{
    rb_k8s_url u;
    char err[600] = "";
    int rc = rb_k8s_url_build(SERVER, path, query, &u, err, sizeof err);
    for (char *p = err; *p; p++) if ((unsigned char)*p < 0x20) *p = '?';   /* one TAP line */
    TAP_OK(rc < 0 && strstr(err, want) && u.url == NULL, "refused: %s", err);
}

static void build_cases(void)
{
    builds(SERVER, "/api/v1/namespaces/tmi/pods", NULL, SERVER "/api/v1/namespaces/tmi/pods",
           "/api/v1/namespaces/tmi/pods");
    builds(SERVER, "/api/v1/pods", "labelSelector=app%3Dx", SERVER "/api/v1/pods?labelSelector=app%3dx",
           "/api/v1/pods?labelSelector=app%3dx");
    builds("https://h:1/prefix/", "/api/v1", "", "https://h:1/prefix/api/v1", "/api/v1");
    refused("/api/v1/pods/x#frag", NULL, "holds a '#'");
    refused("/api/v1/pods/x?dryRun=All", NULL, "holds a '?'");
    refused("/api/v1/pods", "a=1?b", "a second '?'");
    refused("/api/v1/pods", "a=1#", "a '#'");
    refused("/api/v1/pods/x/../y", NULL, "'..' segment");
    refused("/api/v1/pods/%2e%2E/y", NULL, "'..' segment");
    refused("/api/v1/./pods", NULL, "'.' or '..' segment");
    refused("/api/v1/pods\r\nX: y", NULL, "control character");
    refused("/api v1", NULL, "space or control character");
    refused("api/v1", NULL, "must start with '/'");
    rb_k8s_url u;
    char err[600];
    TAP_OK(rb_k8s_url_build("https://u:p@h/", "/api", NULL, &u, err, sizeof err) < 0 && strstr(err, "without query"),
           "a server with userinfo is refused (%s)", err);
    TAP_OK(rb_k8s_url_build("ftp://h/", "/api", NULL, &u, err, sizeof err) < 0, "an ftp server is refused");
}

static void dry_cases(void)
{
    TAP_OK(rb_k8s_url_is_dry(SERVER "/api?dryRun=All"), "dryRun=All");
    TAP_OK(rb_k8s_url_is_dry(SERVER "/api?a=1&dryRun=All"), "after another parameter");
    TAP_OK(rb_k8s_url_is_dry(SERVER "/api?dryRun=%41ll"), "value percent-encoded, as the server decodes it");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api"), "no query");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api#?dryRun=All"), "only in a fragment");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api?x=1#&dryRun=All"), "after a '#'");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api?dryRun=&dryRun=All"), "an empty dryRun beside it");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api?dryRun=None&dryRun=All"), "another dryRun value beside it");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api?dry%52un=x&dryRun=All"), "an encoded dryRun name beside it");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api?xdryRun=All"), "a longer name is not dryRun");
    TAP_OK(!rb_k8s_url_is_dry(SERVER "/api?dryRun"), "dryRun without a value");
    TAP_OK(!rb_k8s_url_is_dry("not a url"), "not a URL");
}

/* rb_k8s_ws_exec without a ticket: -1, kind ENOTICKET, and the listener
 * never sees a connection. */
static void ws_needs_ticket(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) < 0) {
        TAP_OK(0, "listener on 127.0.0.1");
        return;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/namespaces/tmi/pods/x/exec?command=true",
             ntohs(a.sin_port));
    rb_http_req req;
    memset(&req, 0, sizeof req);
    req.url = url;
    req.timeout_ms = 2000;
    rb_k8s_ws_result w;
    int rc = rb_k8s_ws_exec(&req, NULL, 0, &w);
    TAP_EQ_INT(rc, -1, "exec without a ticket fails");
    TAP_EQ_INT(w.err_kind, RB_HTTP_ENOTICKET, "... as refused (no ticket)");
    usleep(100000);
    int c = accept(s, NULL, NULL);
    TAP_OK(c < 0, "... and never connected");
    if (c >= 0) close(c);
    rb_k8s_ws_result_free(&w);
    close(s);
}

int main(void)
{
    build_cases();
    dry_cases();
    ws_needs_ticket();
    return TAP_DONE();
}
