/* bind/http.c — rb.http: HTTP requests on the libcurl transport
 * (net/http_client.h). get/head are reads; post/put/patch/delete are writes
 * and pass the gate as such. Options: headers, body | json, timeout and
 * connect_timeout (seconds; defaults 30 and 5), bearer, basic = {user,
 * password}, ca_file, cert_file, key_file, insecure = true (TLS verification
 * off: warned on stderr and recorded as a finding). Credentials are
 * registered with the redactor before anything else happens.
 * Returns {status, headers, body, url, ms} with :json(); 4xx/5xx are normal
 * results; transport failures return nil, err (kind conn|timeout|tls|http|
 * interrupted). In plan mode a write returns {status = 0, planned = true}. */
#include "errors.h"
#include "gate.h"
#include "luaopt.h"
#include "net/http_client.h"
#include "redact.h"
#include <ctype.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 64

static char resp_mt_key;

typedef struct {
    rb_http_req req;
    const char *hdrs[MAX_HEADERS + 1];
    int nhdrs;
} opts;

static void secret(const char *s) { if (s) rb_redact_add(s, strlen(s)); }

/* basic = {user, password}: the password and the base64 token that carries it. */
static void read_basic(lua_State *L, int t, opts *o)
{
    if (lua_getfield(L, t, "basic") != LUA_TTABLE) { lua_pop(L, 1); return; }
    o->req.user = rb_opt_string(L, -1, "user");
    o->req.password = rb_opt_string(L, -1, "password");
    if (!o->req.user) luaL_error(L, "bad option 'basic' to http request (user missing)");
    rb_redact_add_basic(o->req.user, o->req.password);
    lua_pop(L, 1);   /* the strings stay reachable through the options table */
}

/* headers = {["Name"] = "value"} -> "Name: value" strings kept in a table at the top. */
static void read_headers(lua_State *L, int t, opts *o)
{
    if (lua_getfield(L, t, "headers") != LUA_TTABLE) { lua_pop(L, 1); return; }
    int h = lua_gettop(L);
    lua_newtable(L);                       /* anchor for the formatted strings */
    lua_pushnil(L);
    while (lua_next(L, h)) {
        if (o->nhdrs == MAX_HEADERS) luaL_error(L, "too many headers (max %d)", MAX_HEADERS);
        const char *k = luaL_checkstring(L, -2), *v = luaL_checkstring(L, -1);
        if (strcasecmp(k, "authorization") == 0) secret(v);
        lua_pushfstring(L, "%s: %s", k, v);
        o->hdrs[o->nhdrs++] = lua_tostring(L, -1);
        lua_rawseti(L, h + 1, o->nhdrs);
        lua_pop(L, 1);
    }
    lua_remove(L, h);                       /* keep the anchor on the stack */
}

/* json = value: encoded with cjson; sets Content-Type unless given. */
static void read_body(lua_State *L, int t, opts *o)
{
    size_t n = 0;
    if (lua_getfield(L, t, "json") != LUA_TNIL) {
        lua_getglobal(L, "require");
        lua_pushliteral(L, "cjson");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "encode");
        lua_pushvalue(L, -3);
        lua_call(L, 1, 1);
        o->req.body = lua_tolstring(L, -1, &n);
        lua_setfield(L, t, "\0body");      /* anchor under a key no caller uses */
        lua_pop(L, 2);
        if (o->nhdrs < MAX_HEADERS) o->hdrs[o->nhdrs++] = "Content-Type: application/json";
    } else {
        lua_pop(L, 1);
        lua_getfield(L, t, "body");
        if (!lua_isnil(L, -1)) o->req.body = luaL_checklstring(L, -1, &n);
        lua_pop(L, 1);
    }
    o->req.body_len = n;
}

/* Reads the options table at index t (may be none). Leaves one anchor on the stack. */
static void read_opts(lua_State *L, int t, opts *o)
{
    memset(o, 0, sizeof *o);
    if (lua_isnoneornil(L, t)) { lua_newtable(L); lua_replace(L, t); }
    luaL_checktype(L, t, LUA_TTABLE);
    o->req.bearer = rb_opt_string(L, t, "bearer");
    secret(o->req.bearer);
    read_basic(L, t, o);
    read_body(L, t, o);
    read_headers(L, t, o);
    if (lua_gettop(L) == t) lua_newtable(L);   /* uniform: one anchor */
    o->req.timeout_ms = (long)(rb_opt_number(L, t, "timeout", 30) * 1000);
    o->req.connect_timeout_ms = (long)(rb_opt_number(L, t, "connect_timeout", 5) * 1000);
    o->req.ca_file = rb_opt_string(L, t, "ca_file");
    o->req.cert_file = rb_opt_string(L, t, "cert_file");
    o->req.key_file = rb_opt_string(L, t, "key_file");
    lua_getfield(L, t, "insecure");
    o->req.insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    o->req.headers = o->nhdrs ? o->hdrs : NULL;
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

/* The call's identity for the plan: body or json, and header names+values. */
static int push_args(lua_State *L, int t)
{
    lua_createtable(L, 0, 3);
    static const char *const fields[] = {"body", "json", "headers", NULL};
    for (int i = 0; fields[i]; i++) {
        lua_getfield(L, t, fields[i]);
        lua_setfield(L, -2, fields[i]);
    }
    return lua_gettop(L);
}

static int request(lua_State *L, const char *method, rb_effect effect)
{
    const char *url = luaL_checkstring(L, 1);
    opts o;
    lua_settop(L, 2);
    read_opts(L, 2, &o);
    o.req.method = method;
    o.req.url = url;
    o.req.head_only = strcmp(method, "HEAD") == 0;
    char op[16];
    for (int i = 0; i < 15 && method[i]; i++) op[i] = (char)tolower((unsigned char)method[i]), op[i + 1] = 0;
    rb_action a = {"http", op, url, push_args(L, 2)};
    if (o.req.insecure) {
        fprintf(stderr, "runbook: warning: TLS verification disabled for %s\n", url);
        rb_gate_finding(L, "tls verification disabled", "warning", url);
    }
    if (rb_gate(L, &a, effect) == RB_SIMULATE) {
        rb_gate_simulated(L, NULL);
        push_planned(L);
        return 1;
    }
    rb_http_resp r;
    int rc = rb_http_perform(&o.req, &r);
    rb_gate_done(L, &a, effect, rc == 0, rc == 0 ? NULL : r.err);
    if (rc < 0) {
        rb_error_push(L, rb_http_errkind_name(r.err_kind), "%s %s: %s", method, url, r.err);
        rb_error_setstr(L, -1, "url", url);
        rb_http_resp_free(&r);
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    push_response(L, &r);
    rb_http_resp_free(&r);
    return 1;
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
