/* bind/http.c — rb.http: HTTP requests on the libcurl transport
 * (net/http_client.h). get/head are reads; post/put/patch/delete are writes
 * and pass the gate as such. Options: headers, body | json, timeout and
 * connect_timeout (seconds; defaults 30 and 5), bearer, basic = {user,
 * password}, ca_file, cert_file, key_file, insecure = true (TLS verification
 * off: warned on stderr and recorded as a finding). Credentials are
 * registered with the redactor before anything else happens.
 *
 * The request is checked before the gate sees it (net/http_req.h): no control
 * character in the URL, a header or a credential; no body on GET/HEAD; no
 * method-override or framing header (Host, Content-Length, Connection, ...);
 * URL userinfo not beside bearer/basic. Bad input raises {kind = "request"}
 * naming the field.
 * The gate's action is the request itself: op = the method, target = the URL
 * as libcurl parsed it (userinfo taken out as basic credentials), args = body
 * (and its SHA-256 when long), content type, headers and the credential's
 * identity ("basic USER", "bearer sha256:<12 hex>"), never the secret.
 *
 * Returns {status, headers, body, url, ms} with :json(); 4xx/5xx are normal
 * results; transport failures return nil, err (kind conn|timeout|tls|http|
 * interrupted). In plan mode a write returns {status = 0, planned = true}. */
#include "errors.h"
#include "gate.h"
#include "luaopt.h"
#include "net/http_client.h"
#include "net/http_req.h"
#include "redact.h"
#include <ctype.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 64
#define SHORT_BODY 200   /* longer bodies are also identified by their SHA-256 */
#define ANCHOR 3         /* stack slot of the table that keeps our strings alive */

static char resp_mt_key;

typedef struct {
    rb_http_req req;
    const char *hdrs[MAX_HEADERS + 2];
    int nhdrs, kept;
    const char *content_type;   /* as sent */
} opts;

/* Headers a caller may not set: the URL says where, the transport frames the message. */
static const char *const framing[] = {"host", "content-length", "transfer-encoding", "connection",
                                      "keep-alive", "upgrade", "te", "trailer", "proxy-connection", NULL};
/* Headers whose values are credentials: redacted, shown by fingerprint. */
static const char *const secret_headers[] = {"authorization", "proxy-authorization", "cookie",
                                             "x-api-key", "x-auth-token", NULL};

static int listed(const char *const *list, const char *name)
{
    for (; *list; list++) if (strcasecmp(*list, name) == 0) return 1;
    return 0;
}

/* Raises {kind = "request", message = "rb.http: ..."}: misuse, nothing sent. */
static int bad(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    rb_error_push(L, "request", "rb.http: %s", msg);
    return lua_error(L);
}

/* Keeps the string on top alive in the anchor table; pops it, returns it. */
static const char *keep(lua_State *L, opts *o)
{
    const char *s = lua_tostring(L, -1);
    lua_rawseti(L, ANCHOR, ++o->kept);
    return s;
}

/* The value at idx (a string or number) as a string without control
 * characters, kept alive. */
static const char *clean_string(lua_State *L, opts *o, int idx, const char *field)
{
    size_t n;
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER) bad(L, "%s must be a string", field);
    lua_pushvalue(L, idx);
    const char *s = lua_tolstring(L, -1, &n);
    if (rb_http_ctl_at(s, n) >= 0) bad(L, "control character in %s", field);
    return keep(L, o);
}

/* opts[key] as a clean string, or NULL when absent. */
static const char *clean_field(lua_State *L, opts *o, int t, const char *key, const char *field)
{
    const char *s = NULL;
    if (lua_getfield(L, t, key) != LUA_TNIL) s = clean_string(L, o, -1, field);
    lua_pop(L, 1);
    return s;
}

static void secret(const char *s) { if (s) rb_redact_add(s, strlen(s)); }

/* basic = {user, password}: the password and the base64 token that carries it. */
static void read_basic(lua_State *L, int t, opts *o)
{
    if (lua_getfield(L, t, "basic") == LUA_TNIL) { lua_pop(L, 1); return; }
    if (!lua_istable(L, -1)) bad(L, "basic must be {user = ..., password = ...}");
    o->req.user = clean_field(L, o, -1, "user", "basic.user");
    o->req.password = clean_field(L, o, -1, "password", "basic.password");
    if (!o->req.user) bad(L, "basic without user");
    rb_redact_add_basic(o->req.user, o->req.password);
    lua_pop(L, 1);
}

/* The URL: parsed by libcurl, credentials in it become basic auth. */
static void read_url(lua_State *L, opts *o)
{
    size_t n;
    const char *in = luaL_checklstring(L, 1, &n);
    rb_http_url u;
    char err[200];
    if (rb_http_url_parse(in, n, &u, err, sizeof err) < 0) bad(L, "%s", err);
    secret(u.password);
    lua_pushstring(L, u.url);
    if (u.user) lua_pushstring(L, u.user);
    if (u.password) lua_pushstring(L, u.password);
    int has_user = u.user != NULL, has_password = u.password != NULL;
    rb_http_url_free(&u);
    if (has_password) o->req.password = keep(L, o);
    if (has_user) o->req.user = keep(L, o);
    o->req.url = keep(L, o);
    if (has_user) rb_redact_add_basic(o->req.user, o->req.password);
}

/* bearer and basic: both are registered as secrets; the bearer token is the
 * one sent (and identified in the plan) when both are given. URL userinfo
 * together with either is ambiguous and refused. */
static void read_credentials(lua_State *L, int t, opts *o)
{
    int from_url = o->req.user != NULL;
    o->req.bearer = clean_field(L, o, t, "bearer", "bearer");
    secret(o->req.bearer);
    lua_getfield(L, t, "basic");
    int basic = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (from_url && (basic || o->req.bearer))
        bad(L, "credentials both in the URL and in bearer/basic: give one");
    read_basic(L, t, o);
    if (o->req.bearer) o->req.user = o->req.password = NULL;   /* as the transport would */
}

static void add_header(lua_State *L, opts *o, const char *line)
{
    if (o->nhdrs == MAX_HEADERS) bad(L, "too many headers (max %d)", MAX_HEADERS);
    o->hdrs[o->nhdrs++] = line;
}

static const char *push_lower(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n);
    for (size_t i = 0; i < n; i++) p[i] = (char)tolower((unsigned char)s[i]);
    luaL_pushresultsize(&b, n);
    return lua_tostring(L, -1);
}

/* The header at the top (name at -2, value at -1, left there): a token name,
 * once, not framing or override; its identity (value, or a fingerprint for a
 * credential) goes into the table at ids. */
static void read_header(lua_State *L, opts *o, int ids)
{
    size_t kl;
    int top = lua_gettop(L);
    if (lua_type(L, top - 1) != LUA_TSTRING) bad(L, "header names must be strings");
    const char *k = lua_tolstring(L, top - 1, &kl);
    if (!rb_http_is_token(k, kl)) bad(L, "a header name is not a token (letters, digits, !#$%%&'*+-.^_`|~)");
    if (rb_http_is_override(k, kl)) bad(L, "method-override header '%s' refused: call the method itself", k);
    if (listed(framing, k)) bad(L, "header '%s' is set by the transport, not by callers", k);
    char field[96];
    snprintf(field, sizeof field, "header '%.64s'", k);
    const char *v = clean_string(L, o, top, field);
    const char *lower = push_lower(L, k, kl);
    if (lua_getfield(L, ids, lower) != LUA_TNIL) bad(L, "header '%s' given twice", k);
    lua_pop(L, 1);
    if (listed(secret_headers, lower)) {
        char fp[20];
        secret(v);
        rb_http_fingerprint(v, strlen(v), fp);
        lua_pushstring(L, fp);
    } else lua_pushstring(L, v);
    lua_setfield(L, ids, lower);
    if (strcmp(lower, "content-type") == 0) o->content_type = v;
    lua_pop(L, 1);
    lua_pushfstring(L, "%s: %s", k, v);
    add_header(L, o, keep(L, o));
}

/* headers = {["Name"] = "value"}; their identities in anchor.headers. */
static void read_headers(lua_State *L, int t, opts *o)
{
    lua_newtable(L);
    int ids = lua_gettop(L);
    if (lua_getfield(L, t, "headers") != LUA_TNIL) {
        if (!lua_istable(L, -1)) bad(L, "headers must be a table");
        int h = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, h)) {
            read_header(L, o, ids);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_setfield(L, ANCHOR, "headers");
}

/* json = value: encoded with cjson; body = string. */
static void read_body(lua_State *L, int t, opts *o)
{
    size_t n = 0;
    int json = lua_getfield(L, t, "json") != LUA_TNIL;
    int body = lua_getfield(L, t, "body") != LUA_TNIL;
    if (json && body) bad(L, "body and json given: choose one");
    if (body) {
        if (lua_type(L, -1) != LUA_TSTRING) bad(L, "body must be a string");
        lua_tolstring(L, -1, &n);
        lua_pushvalue(L, -1);
        o->req.body = keep(L, o);
    } else if (json) {
        lua_getglobal(L, "require");
        lua_pushliteral(L, "cjson");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "encode");
        lua_pushvalue(L, -4);
        lua_call(L, 1, 1);
        lua_tolstring(L, -1, &n);
        o->req.body = keep(L, o);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    o->req.body_len = n;
    if (o->req.body && !o->content_type) {   /* as sent: libcurl's default for a body made explicit */
        o->content_type = json ? "application/json" : "application/x-www-form-urlencoded";
        lua_pushfstring(L, "Content-Type: %s", o->content_type);
        add_header(L, o, keep(L, o));
    }
}

/* Reads and checks the whole request: 1 = url, 2 = options; pushes the anchor at 3. */
static void read_request(lua_State *L, const char *method, opts *o)
{
    memset(o, 0, sizeof *o);
    luaL_checkstring(L, 1);
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_newtable(L);   /* ANCHOR */
    o->req.method = method;
    o->req.head_only = strcmp(method, "HEAD") == 0;
    read_url(L, o);
    read_credentials(L, 2, o);
    read_headers(L, 2, o);
    read_body(L, 2, o);
    if (o->req.body && (strcmp(method, "GET") == 0 || o->req.head_only))
        bad(L, "a %s request carries no body (body/json given)", method);
    o->req.timeout_ms = (long)(rb_opt_number(L, 2, "timeout", 30) * 1000);
    o->req.connect_timeout_ms = (long)(rb_opt_number(L, 2, "connect_timeout", 5) * 1000);
    o->req.ca_file = clean_field(L, o, 2, "ca_file", "ca_file");
    o->req.cert_file = clean_field(L, o, 2, "cert_file", "cert_file");
    o->req.key_file = clean_field(L, o, 2, "key_file", "key_file");
    lua_getfield(L, 2, "insecure");
    o->req.insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    o->hdrs[o->nhdrs] = NULL;
    o->req.headers = o->nhdrs ? o->hdrs : NULL;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

/* args of the gate's action: what identifies the request besides method and URL. */
static int push_identity(lua_State *L, const opts *o)
{
    lua_createtable(L, 0, 8);
    if (o->req.body) {
        lua_pushlstring(L, o->req.body, o->req.body_len);
        lua_setfield(L, -2, "body");
        lua_pushinteger(L, (lua_Integer)o->req.body_len);
        lua_setfield(L, -2, "bytes");
        if (o->req.body_len > SHORT_BODY) {
            char hex[65];
            rb_http_sha256_hex(o->req.body, o->req.body_len, hex);
            set_str(L, "body_sha256", hex);
        }
    }
    set_str(L, "content_type", o->req.body ? o->content_type : NULL);
    if (o->req.bearer) {
        char fp[20];
        rb_http_fingerprint(o->req.bearer, strlen(o->req.bearer), fp);
        lua_pushfstring(L, "bearer %s", fp);
        lua_setfield(L, -2, "credential");
    } else if (o->req.user) {
        lua_pushfstring(L, "basic %s", o->req.user);
        lua_setfield(L, -2, "credential");
    }
    lua_getfield(L, ANCHOR, "headers");
    lua_pushnil(L);
    if (lua_next(L, -2)) { lua_pop(L, 2); lua_setfield(L, -2, "headers"); }
    else lua_pop(L, 1);
    set_str(L, "client_cert", o->req.cert_file);
    if (o->req.insecure) { lua_pushboolean(L, 1); lua_setfield(L, -2, "insecure"); }
    return lua_gettop(L);
}

static void push_headers(lua_State *L, const char *raw)
{
    lua_newtable(L);
    for (const char *p = raw; p && *p;) {
        const char *eol = strchr(p, '\n'), *colon = strchr(p, ':');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (colon && colon < p + len) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *c = p; c < colon; c++) luaL_addchar(&b, (char)tolower((unsigned char)*c));
            luaL_pushresult(&b);
            const char *v = colon + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(p + len - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) vl--;
            lua_pushvalue(L, -1);
            if (lua_gettable(L, -3) == LUA_TSTRING) {   /* repeated header: join */
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, vl);
                lua_concat(L, 3);
            } else { lua_pop(L, 1); lua_pushlstring(L, v, vl); }
            lua_settable(L, -3);
        }
        p = eol ? eol + 1 : p + len;
    }
}

static void push_response(lua_State *L, const rb_http_resp *r)
{
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    push_headers(L, r->headers);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, r->body, r->body_len);
    lua_setfield(L, -2, "body");
    lua_pushstring(L, r->effective_url);
    lua_setfield(L, -2, "url");
    lua_pushnumber(L, r->t_total * 1000);
    lua_setfield(L, -2, "ms");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &resp_mt_key);
    lua_setmetatable(L, -2);
}

static void push_planned(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "status");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "planned");
    lua_newtable(L);
    lua_setfield(L, -2, "headers");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "body");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &resp_mt_key);
    lua_setmetatable(L, -2);
}

/* Sends o under ticket t; pushes the result (1 value, or nil + err) and reports to the gate. */
static int send(lua_State *L, opts *o, rb_ticket *t)
{
    rb_http_resp r;
    char err[sizeof r.err] = "";
    o->req.ticket = t;
    int rc = rb_http_perform(&o->req, &r);
    if (rc < 0) {
        snprintf(err, sizeof err, "%s", r.err);
        lua_pushnil(L);
        rb_error_push(L, rb_http_errkind_name(r.err_kind), "%s %s: %s", o->req.method, o->req.url, r.err);
        rb_error_setstr(L, -1, "url", o->req.url);
    } else push_response(L, &r);
    rb_http_resp_free(&r);
    rb_ticket_done(L, t, rc == 0, rc == 0 ? NULL : err);
    return rc == 0 ? 1 : 2;
}

static int request(lua_State *L, const char *method, rb_effect effect)
{
    opts o;
    read_request(L, method, &o);
    char op[16];
    size_t i = 0;
    for (; i < sizeof op - 1 && method[i]; i++) op[i] = (char)tolower((unsigned char)method[i]);
    op[i] = 0;
    rb_action a = {"http", op, o.req.url, push_identity(L, &o)};
    if (o.req.insecure) {
        fprintf(stderr, "runbook: warning: TLS verification disabled for %s\n", o.req.url);
        rb_gate_finding(L, "tls verification disabled", "warning", o.req.url);
    }
    rb_ticket *t = rb_gate_open(L, &a, effect);
    if (rb_ticket_simulate(t)) {
        rb_ticket_simulated(L, t, NULL);
        push_planned(L);
        return 1;
    }
    return send(L, &o, t);
}

static int http_get(lua_State *L) { return request(L, "GET", RB_READ); }
static int http_head(lua_State *L) { return request(L, "HEAD", RB_READ); }
static int http_post(lua_State *L) { return request(L, "POST", RB_WRITE); }
static int http_put(lua_State *L) { return request(L, "PUT", RB_WRITE); }
static int http_patch(lua_State *L) { return request(L, "PATCH", RB_WRITE); }
static int http_delete(lua_State *L) { return request(L, "DELETE", RB_WRITE); }

/* resp:json() -> value | nil, err{kind = "parse"} */
static int resp_json(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "body");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "decode");
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return rb_error_return(L, "parse", "response is not JSON: %s", lua_tostring(L, -1));
    return 1;
}

/* progress(label | nil, total_seconds): a terminal progress line for slow requests */
static int http_progress(lua_State *L)
{
    rb_http_progress_label(luaL_optstring(L, 1, NULL), luaL_optnumber(L, 2, 0));
    return 0;
}

static const luaL_Reg httplib[] = {
    {"progress", http_progress},
    {"get", http_get}, {"head", http_head}, {"post", http_post}, {"put", http_put},
    {"patch", http_patch}, {"delete", http_delete}, {NULL, NULL}
};

int luaopen_rb_http(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, resp_json);
    lua_setfield(L, -2, "json");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "rb.http.Response");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &resp_mt_key);
    luaL_newlib(L, httplib);
    return 1;
}
