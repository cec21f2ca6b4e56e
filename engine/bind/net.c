/* bind/net.c — rb.net: the seed's ping / nslookup / curl-timing checks done
 * natively. resolve(host) uses getaddrinfo; tcp_connect(host, port, {timeout})
 * a nonblocking connect() bounded by poll() (both on net/tcp_probe.h);
 * http_probe(url, {timeout}) one GET on the HTTP transport
 * (net/http_client.h) reporting libcurl's phase timings. All three are reads
 * and pass the gate (gate.h) as binding "net": each opens a ticket and hands
 * it to its transport, which sends nothing (no DNS query either) without it.
 * A host or URL with a control character raises {kind = "request"}.
 * Failures return nil, err (errors.h) with kind dns, conn, timeout, tls or http. */
#include "errors.h"
#include "gate.h"
#include "net/http_client.h"
#include "net/http_req.h"
#include "net/tcp_probe.h"
#include <arpa/inet.h>
#include <errno.h>
#include <lauxlib.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* A host or URL argument: a string without control characters. */
static const char *check_text(lua_State *L, int idx, const char *what)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    if (rb_http_ctl_at(s, n) >= 0) {
        rb_error_push(L, "request", "rb.net: control character in %s", what);
        lua_error(L);
    }
    return s;
}

static double opt_timeout(lua_State *L, int idx, double def)
{
    if (lua_isnoneornil(L, idx)) return def;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "timeout");
    double t = luaL_optnumber(L, -1, def);
    lua_pop(L, 1);
    luaL_argcheck(L, t > 0, idx, "timeout must be positive");
    return t;
}

static void addr_string(const struct sockaddr *sa, char *out, size_t n)
{
    const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                              : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)n)) snprintf(out, n, "?");
}

/* resolve(host) -> {addresses = {"127.0.0.1", "::1", ...}, ms} */
static int net_resolve(lua_State *L)
{
    const char *host = check_text(L, 1, "host");
    lua_settop(L, 1);
    rb_action a = {"net", "resolve", host, 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    double t0 = rb_probe_now_ms();
    struct addrinfo *res = NULL;
    int rc = rb_probe_lookup(t, host, NULL, &res);
    double ms = rb_probe_now_ms() - t0;
    rb_ticket_done(L, t, rc == 0, rc == 0 ? NULL : rb_probe_strerror(rc, 1));
    if (rc != 0) {
        rb_error_push(L, rc == RB_PROBE_NOTICKET ? "refused" : "dns", "resolve %s: %s", host,
                      rb_probe_strerror(rc, 1));
        rb_error_setstr(L, -1, "host", host);
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_createtable(L, 0, 2);
    lua_newtable(L);
    lua_newtable(L);   /* seen: getaddrinfo repeats an address per protocol */
    int k = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char s[INET6_ADDRSTRLEN];
        addr_string(ai->ai_addr, s, sizeof s);
        if (lua_getfield(L, -1, s) != LUA_TNIL) { lua_pop(L, 1); continue; }
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, s);
        lua_pushstring(L, s);
        lua_rawseti(L, -3, ++k);
    }
    freeaddrinfo(res);
    lua_pop(L, 1);
    lua_setfield(L, -2, "addresses");
    lua_pushnumber(L, ms);
    lua_setfield(L, -2, "ms");
    return 1;
}

/* tcp_connect(host, port, {timeout = 5}) -> {ms, address} */
static int net_tcp_connect(lua_State *L)
{
    const char *host = check_text(L, 1, "host");
    lua_Integer port = luaL_checkinteger(L, 2);
    luaL_argcheck(L, port > 0 && port < 65536, 2, "port out of range");
    double timeout = opt_timeout(L, 3, 5);
    lua_settop(L, 3);
    char ports[8], target[300];
    snprintf(ports, sizeof ports, "%d", (int)port);
    snprintf(target, sizeof target, "%s:%d", host, (int)port);
    rb_action a = {"net", "tcp_connect", target, 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    double t0 = rb_probe_now_ms(), deadline = t0 + timeout * 1000;
    struct addrinfo *res = NULL;
    int rc = rb_probe_lookup(t, host, ports, &res);
    if (rc != 0) {
        rb_ticket_done(L, t, 0, rb_probe_strerror(rc, 1));
        return rb_error_return(L, rc == RB_PROBE_NOTICKET ? "refused" : "dns", "connect %s: %s", target,
                               rb_probe_strerror(rc, 1));
    }
    int err = ENOENT;
    char addr[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; ai && err != 0 && err != RB_PROBE_NOTICKET && rb_probe_now_ms() < deadline;
         ai = ai->ai_next) {
        addr_string(ai->ai_addr, addr, sizeof addr);
        err = rb_probe_connect(t, ai, deadline);
    }
    freeaddrinfo(res);
    double ms = rb_probe_now_ms() - t0;
    if (err != 0 && err != RB_PROBE_NOTICKET && rb_probe_now_ms() >= deadline) err = ETIMEDOUT;
    rb_ticket_done(L, t, err == 0, err == 0 ? NULL : rb_probe_strerror(err, 0));
    if (err != 0)
        return rb_error_return(L, err == ETIMEDOUT ? "timeout" : err == RB_PROBE_NOTICKET ? "refused" : "conn",
                               "connect %s: %s (%.0f ms)", target, rb_probe_strerror(err, 0), ms);
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, ms);
    lua_setfield(L, -2, "ms");
    lua_pushstring(L, addr);
    lua_setfield(L, -2, "address");
    return 1;
}

static void set_ms(lua_State *L, const char *k, double seconds)
{
    lua_pushnumber(L, seconds * 1000);
    lua_setfield(L, -2, k);
}

/* The probe's URL as libcurl will send it (http_req.h: no control character,
 * no '#', one '?'); replaces argument 1. Userinfo is refused: a probe times a
 * server, it does not log in. */
static const char *probe_url(lua_State *L)
{
    size_t n;
    const char *in = luaL_checklstring(L, 1, &n);
    rb_http_url u;
    char err[200];
    int rc = rb_http_url_parse(in, n, &u, err, sizeof err);
    if (rc == 0 && u.user) snprintf(err, sizeof err, "credentials in a probe URL");
    if (rc == 0 && !u.user) lua_pushstring(L, u.url);
    int ok = rc == 0 && !u.user;
    if (rc == 0) rb_http_url_free(&u);
    if (!ok) {
        rb_error_push(L, "request", "rb.net: %s", err);
        lua_error(L);
    }
    lua_replace(L, 1);
    return lua_tostring(L, 1);
}

/* http_probe(url, {timeout = 10}) ->
 *   {status, dns_ms, connect_ms, tls_ms (https only), first_byte_ms, total_ms}
 * Each time is from the start of the request, as curl -w reports them. */
static int net_http_probe(lua_State *L)
{
    const char *url = probe_url(L);
    double timeout = opt_timeout(L, 2, 10);
    lua_settop(L, 2);
    rb_action a = {"net", "http_probe", url, 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    /* the probe's connection must not serve a later probe (its connect time
       would read 0): the server closes it after the answer */
    static const char *const hdrs[] = {"Connection: close", NULL};
    rb_http_req req;
    memset(&req, 0, sizeof req);
    req.ticket = t;
    req.headers = hdrs;
    req.method = "GET";
    req.url = url;
    req.timeout_ms = (long)(timeout * 1000);
    req.connect_timeout_ms = req.timeout_ms;
    req.max_body = (size_t)64 << 20;
    rb_http_resp r;
    int rc = rb_http_perform(&req, &r);
    if (rc < 0) {
        /* libcurl files a failed lookup under "couldn't resolve"; the seed's nslookup check wants it apart */
        int dns = r.err_kind == RB_HTTP_ECONN && strstr(r.err, "resolve");
        char err[sizeof r.err];
        snprintf(err, sizeof err, "%s", r.err);
        lua_pushnil(L);
        rb_error_push(L, dns ? "dns" : rb_http_errkind_name(r.err_kind), "probe %s: %s", url, r.err);
        rb_http_resp_free(&r);
        rb_ticket_done(L, t, 0, err);
        return 2;
    }
    rb_ticket_done(L, t, 1, NULL);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, r.status);
    lua_setfield(L, -2, "status");
    /* the phases are points in time after the start: a connect cannot end before
       its name was resolved. libcurl 7.88 can report NAMELOOKUP_TIME a hair after
       CONNECT_TIME for an address literal (measured at different points): keep
       the points in order rather than report an impossible timeline */
    int reused = r.t_connect == 0 && r.t_dns == 0;   /* no look-up, no connect: a kept connection */
    if (!reused && r.t_connect < r.t_dns) r.t_connect = r.t_dns;
    if (r.t_first_byte > 0 && r.t_first_byte < r.t_connect) r.t_first_byte = r.t_connect;
    set_ms(L, "dns_ms", r.t_dns);
    set_ms(L, "connect_ms", r.t_connect);
    if (r.t_tls > 0) set_ms(L, "tls_ms", r.t_tls);
    set_ms(L, "first_byte_ms", r.t_first_byte);
    set_ms(L, "total_ms", r.t_total);
    /* the transport reused a connection another call left open to this server */
    if (reused) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "reused");
    }
    rb_http_resp_free(&r);
    return 1;
}

static const luaL_Reg netlib[] = {
    {"resolve", net_resolve}, {"tcp_connect", net_tcp_connect}, {"http_probe", net_http_probe},
    {NULL, NULL}
};

int luaopen_rb_net(lua_State *L)
{
    luaL_newlib(L, netlib);
    return 1;
}
