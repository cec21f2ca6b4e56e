/* bind/prom.c — rb.prom, C half: the Prometheus HTTP API calls themselves
 * and the text helpers. lualib/rb/prom.lua builds the user-facing API
 * (clients, result tables, errors) on top of the private _perform.
 *
 * _perform(conn, reqs) sends a batch of read-only API calls concurrently with
 * rb_http_perform_many (net/http_client.h). Only the read endpoints below can
 * be reached, so declaring every call RB_READ is true even when a long query
 * goes out as a form-encoded POST (only /query and /query_range take one).
 * The base URL is checked by rb_http_base_parse (net/http_req.h: no query, no
 * fragment, plain path segments; userinfo becomes basic auth) and every URL is
 * built with libcurl's URL API, never by string appends, so no base URL can
 * reach another path. Each call passes the gate (gate.h) as binding "prom",
 * op = the endpoint's name, and its ticket goes to the transport.
 * Credentials are registered with the redactor (redact.h) before anything is
 * sent. Uses core/prom_text.h for percent encoding, quoting and sparklines. */
#include "core/prom_text.h"
#include "errors.h"
#include "luaopt.h"
#include "gate.h"
#include "net/http_client.h"
#include "net/http_req.h"
#include "redact.h"
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 256
#define POST_OVER 1024   /* encoded parameters longer than this go in a POST body */
#define MAX_SPARK 1000
#define MAX_LABEL 128

static const struct endpoint {
    const char *op, *path;
    int post_ok;   /* Prometheus accepts the parameters as a form body */
} endpoints[] = {
    {"query", "/api/v1/query", 1},
    {"query_range", "/api/v1/query_range", 1},
    {"series", "/api/v1/series", 0},
    {"labels", "/api/v1/labels", 0},
    {"label_values", "/api/v1/label/%s/values", 0},
    {"alerts", "/api/v1/alerts", 0},
    {"rules", "/api/v1/rules", 0},
    {"targets", "/api/v1/targets", 0},
    {"buildinfo", "/api/v1/status/buildinfo", 0},
    {NULL, NULL, 0}
};

typedef struct {
    rb_http_req req;
    rb_action action;
    const char *hdrs[2];
} call;


/* Raises {kind = "request", message = "rb.prom: ..."}: misuse, nothing sent. */
static int bad(lua_State *L, const char *msg)
{
    rb_error_push(L, "request", "rb.prom: %s", msg);
    return lua_error(L);
}

/* conn[field] as a string without control characters (NUL included), or
 * NULL; conn is prom.lua's private table, which keeps the string alive. */
static const char *clean_opt(lua_State *L, int t, const char *field)
{
    size_t n;
    if (lua_getfield(L, t, field) == LUA_TNIL) { lua_pop(L, 1); return NULL; }
    if (lua_type(L, -1) != LUA_TSTRING) bad(L, lua_pushfstring(L, "%s must be a string", field));
    const char *s = lua_tolstring(L, -1, &n);
    if (rb_http_ctl_at(s, n) >= 0) bad(L, lua_pushfstring(L, "control character in %s", field));
    lua_pop(L, 1);
    return s;
}

/* Pushes the canonical base URL of url[0..n) and, when it carried userinfo,
 * its user and password (else nils): 3 values. Raises on a bad base. */
static void push_base(lua_State *L, const char *url, size_t n)
{
    rb_http_url u;
    char err[200];
    if (rb_http_base_parse(url, n, &u, err, sizeof err) < 0) bad(L, err);
    if (u.password) rb_redact_add(u.password, strlen(u.password));
    rb_redact_add_basic(u.user, u.password);
    lua_pushstring(L, u.url);
    lua_pushstring(L, u.user);        /* NULL pushes nil */
    lua_pushstring(L, u.password);
    rb_http_url_free(&u);
}

/* _base(url) -> canonical base URL, user | nil, password | nil */
static int prom_base(lua_State *L)
{
    size_t n;
    const char *url = luaL_checklstring(L, 1, &n);
    push_base(L, url, n);
    return 3;
}

/* conn = {url, bearer?, user?, password?, timeout? (s), connect_timeout? (s)}:
 * the request template; pushes the canonical base URL and returns it in *base. */
static rb_http_req read_conn(lua_State *L, int t, const char **base)
{
    luaL_checktype(L, t, LUA_TTABLE);
    rb_http_req r;
    memset(&r, 0, sizeof r);
    r.bearer = clean_opt(L, t, "bearer");
    r.user = clean_opt(L, t, "user");
    r.password = clean_opt(L, t, "password");
    if (r.bearer) rb_redact_add(r.bearer, strlen(r.bearer));
    rb_redact_add_basic(r.user, r.password);
    if (r.bearer && r.user) bad(L, "bearer and user given: choose one credential");
    double timeout = rb_opt_seconds(L, t, "timeout", 30, "client");
    r.timeout_ms = (long)(timeout * 1000);
    r.connect_timeout_ms = (long)(rb_opt_seconds(L, t, "connect_timeout", fmin(5, timeout), "client") * 1000);
    size_t n;
    lua_getfield(L, t, "url");
    const char *url = lua_tolstring(L, -1, &n);
    luaL_argcheck(L, url && n, t, "url missing");
    push_base(L, url, n);              /* base, user, password: left on the stack */
    if (!lua_isnil(L, -2)) {
        if (r.user || r.bearer) bad(L, "credentials both in the URL and in options: give one");
        r.user = lua_tostring(L, -2);
        r.password = lua_tostring(L, -1);
    }
    *base = lua_tostring(L, -3);
    return r;
}

static const struct endpoint *find_endpoint(lua_State *L, const char *op)
{
    for (const struct endpoint *e = endpoints; e->op; e++)
        if (strcmp(e->op, op) == 0) return e;
    luaL_error(L, "rb.prom: unknown API call '%s'", op);
    return NULL;
}

static void add_encoded(luaL_Buffer *b, const char *s, size_t n)
{
    char *out = luaL_prepbuffsize(b, 3 * n + 1);
    luaL_addsize(b, rb_prom_urlencode(s, n, out));
}

/* params = {{name, value}, ...} (strings) -> "name=value&..." on the stack. */
static void push_params(lua_State *L, int params)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Integer n = lua_istable(L, params) ? luaL_len(L, params) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, params, i);
        lua_geti(L, -1, 1);
        lua_geti(L, -2, 2);
        size_t kl, vl;
        const char *k = luaL_checklstring(L, -2, &kl), *v = luaL_checklstring(L, -1, &vl);
        lua_pop(L, 3);   /* the strings stay referenced by params */
        if (i > 1) luaL_addchar(&b, '&');
        add_encoded(&b, k, kl);
        luaL_addchar(&b, '=');
        add_encoded(&b, v, vl);
    }
    luaL_pushresult(&b);
}

static int valid_label_name(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9') || strlen(s) > MAX_LABEL) return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9'))) return 0;
    return 1;
}

/* Pushes base + path (+ ?query) built by libcurl's URL API; returns it. */
static const char *push_url(lua_State *L, const char *base, const char *path, const char *query)
{
    char *u = NULL, err[200];
    if (rb_http_url_join(base, path, query, &u, err, sizeof err) < 0) bad(L, err);
    lua_pushstring(L, u);
    free(u);
    return lua_tostring(L, -1);
}

/* Fills c from reqs[i] = {op, params, label?}; pushes (and leaves) the target
 * URL, the params table and the query string or full URL, so the strings
 * outlive the call. */
static void prepare(lua_State *L, int req, const char *base, const rb_http_req *conn, call *c)
{
    luaL_checktype(L, req, LUA_TTABLE);
    const char *op = rb_opt_string(L, req, "op");
    luaL_argcheck(L, op != NULL, 2, "request without op");
    const struct endpoint *e = find_endpoint(L, op);
    char path[64 + MAX_LABEL];
    if (strchr(e->path, '%')) {
        const char *label = rb_opt_string(L, req, "label");
        if (!label || !valid_label_name(label)) bad(L, "invalid label name");
        snprintf(path, sizeof path, e->path, label);
    } else snprintf(path, sizeof path, "%s", e->path);
    const char *target = push_url(L, base, path, NULL);
    lua_getfield(L, req, "params");
    int params = lua_gettop(L);
    push_params(L, params);
    size_t plen;
    const char *qs = lua_tolstring(L, -1, &plen);
    c->req = *conn;
    c->action = (rb_action){"prom", e->op, target, lua_istable(L, params) ? params : 0};
    if (e->post_ok && plen > POST_OVER) {
        c->req.method = "POST";
        c->req.url = target;
        c->req.body = qs;
        c->req.body_len = plen;
        c->hdrs[0] = "Content-Type: application/x-www-form-urlencoded";   /* hdrs[1] stays NULL */
        c->req.headers = c->hdrs;
    } else {
        c->req.method = "GET";
        c->req.url = push_url(L, base, path, qs);
        lua_remove(L, -2);   /* the query string is now inside the URL */
    }
}

static void push_response(lua_State *L, const call *c, rb_http_resp *r, int rc)
{
    if (rc < 0) {
        rb_error_push(L, rb_http_errkind_name(r->err_kind), "prom %s %s: %s",
                      c->action.op, c->action.target, r->err);
        rb_error_setstr(L, -1, "url", c->action.target);
        return;
    }
    char ctype[128] = "";
    rb_http_header(r->headers, "Content-Type", ctype, sizeof ctype);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, r->body ? r->body : "", r->body_len);
    lua_setfield(L, -2, "body");
    lua_pushstring(L, ctype);
    lua_setfield(L, -2, "content_type");
    lua_pushstring(L, c->action.target);
    lua_setfield(L, -2, "url");
    lua_pushnumber(L, r->t_total * 1000);
    lua_setfield(L, -2, "ms");
}

/* _check(conn): validates a client's options (timeouts, credentials, URL) when
 * the client is made, as _perform would; sends nothing. */
static int prom_check(lua_State *L)
{
    const char *base;
    read_conn(L, 1, &base);
    return 0;
}

/* _perform(conn, {{op=, params=, label=}, ...}) ->
 *   {slot, ...}: each slot {status, body, content_type, url, ms} or an rb.Error. */
static int prom_perform(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 1 && n <= MAX_BATCH, 2, "1 to 256 requests");
    const char *base;
    rb_http_req conn = read_conn(L, 1, &base);
    call *calls = lua_newuserdatauv(L, (size_t)n * sizeof *calls, 0);
    memset(calls, 0, (size_t)n * sizeof *calls);
    rb_http_resp *resps = lua_newuserdatauv(L, (size_t)n * sizeof *resps, 0);
    rb_http_req *reqs = lua_newuserdatauv(L, (size_t)n * sizeof *reqs, 0);
    luaL_checkstack(L, (int)n * 5 + 8, "too many requests");
    for (lua_Integer i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        int req = lua_gettop(L);
        prepare(L, req, base, &conn, &calls[i]);
        reqs[i] = calls[i].req;
        /* stays an error if the transport cannot even start the request */
        memset(&resps[i], 0, sizeof resps[i]);
        resps[i].err_kind = RB_HTTP_ENOMEM;
        snprintf(resps[i].err, sizeof resps[i].err, "request not started");
    }
    rb_ticket **tickets = lua_newuserdatauv(L, (size_t)n * sizeof *tickets, 0);
    for (lua_Integer i = 0; i < n; i++)   /* each ticket stays on the stack until we return */
        reqs[i].ticket = tickets[i] = rb_gate_open(L, &calls[i].action, RB_READ);
    /* one request reuses the shared connection; a batch runs concurrently */
    if (n == 1) rb_http_perform(reqs, resps);
    else rb_http_perform_many(reqs, resps, (int)n);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        int rc = resps[i].err_kind == RB_HTTP_OK ? 0 : -1;
        push_response(L, &calls[i], &resps[i], rc);
        lua_rawseti(L, -2, i + 1);
    }
    for (lua_Integer i = 0; i < n; i++) {
        int ok = resps[i].err_kind == RB_HTTP_OK;
        rb_ticket_done(L, tickets[i], ok, ok ? NULL : resps[i].err);
        rb_http_resp_free(&resps[i]);
    }
    return 1;
}

static int quote_with(lua_State *L, size_t per_byte, size_t (*fn)(const char *, size_t, char *))
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, per_byte * n + 3);
    luaL_pushresultsize(&b, fn(s, n, out));
    return 1;
}

static int prom_quote(lua_State *L) { return quote_with(L, 4, rb_prom_quote); }
static int prom_quote_regex(lua_State *L) { return quote_with(L, 8, rb_prom_quote_regex); }

/* A value from a sample: numbers as they are; "NaN"/"+Inf" strings too. */
static double sample_value(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TTABLE) {   /* {t, v} pair */
        lua_geti(L, idx, 2);
        double d = sample_value(L, -1);
        lua_pop(L, 1);
        return d;
    }
    if (lua_isnumber(L, idx)) return lua_tonumber(L, idx);
    const char *s = lua_tostring(L, idx);
    if (s && strcmp(s, "+Inf") == 0) return INFINITY;
    if (s && strcmp(s, "-Inf") == 0) return -INFINITY;
    return NAN;   /* nil, "NaN", anything else: a gap */
}

/* sparkline(values | series | {series}, {width = 60}) -> string
 * values: {n, ...} or {{t, v}, ...}; series: {values = {{t, v}, ...}}. */
static int prom_sparkline(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer width = 60;
    if (lua_istable(L, 2)) width = (lua_Integer)rb_opt_number(L, 2, "width", 60);
    luaL_argcheck(L, width >= 1 && width <= MAX_SPARK, 2, "width must be 1..1000");
    int t = 1;
    if (lua_getfield(L, 1, "values") != LUA_TTABLE) {
        lua_pop(L, 1);
        if (lua_geti(L, 1, 1) == LUA_TTABLE && lua_getfield(L, -1, "values") == LUA_TTABLE) {
            luaL_argcheck(L, luaL_len(L, 1) == 1, 1, "several series: pass one");
        } else {
            lua_settop(L, 2);
            lua_pushvalue(L, 1);
        }
    }
    t = lua_gettop(L);
    lua_Integer n = luaL_len(L, t);
    double *v = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *v, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_geti(L, t, i + 1);
        v[i] = sample_value(L, -1);
        lua_pop(L, 1);
    }
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, RB_SPARK_BYTES((size_t)width));
    luaL_pushresultsize(&b, rb_prom_sparkline(v, (size_t)n, (size_t)width, out));
    return 1;
}

static const luaL_Reg promlib[] = {
    {"_perform", prom_perform}, {"_check", prom_check}, {"_base", prom_base}, {"quote", prom_quote},
    {"quote_regex", prom_quote_regex}, {"sparkline", prom_sparkline}, {NULL, NULL}
};

int luaopen_rb_prom(lua_State *L)
{
    luaL_newlib(L, promlib);
    return 1;
}
