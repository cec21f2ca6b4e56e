/* bind/serve.c — rb._serve: what `runbook serve` (lualib/rb/serve.lua) needs
 * from C. Engine-private: the sandbox refuses it, runbook code never sees it.
 *
 *   listen{host, port, max_body, timeout, conn_limit, cert, key, client_ca}
 *       -> server | nil, err          libmicrohttpd, driven from Lua (no threads)
 *   server:poll(ms, handler)           serves for up to ms; handler(req) returns
 *                                      status, body, content_type, headers?
 *   server:port(), server:stats(), server:close()
 *   spawn(argv, out, err) -> pid       an investigation process (core/proc.h)
 *   reap() -> pid, code, sig | nil     kill(pid, "TERM"|"KILL")
 *   notify(url, json, ms) -> pid       the webhook POST in a child (net/webhook_post.h)
 *   watch_signals(), stopping()        SIGTERM/SIGINT set a flag the loop reads;
 *                                      SIGCHLD wakes the poll so a run is reaped at once
 *   equal(a, b)                        constant-time comparison (bearer tokens)
 *
 * The access handler runs inside MHD_run_wait, on the Lua thread that called
 * poll(); it calls the Lua handler under lua_pcall, so an error cannot unwind
 * through libmicrohttpd. Bodies are capped (413 without reading past the cap),
 * a request must arrive whole within the timeout (408, net/serve_clock.h), and
 * with a client CA the peer's certificate is verified (req.client_verified). */
#include "core/proc.h"
#include "net/serve_clock.h"
#include "net/webhook_post.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <lauxlib.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SERVER_MT "rb._serve.Server"

typedef struct {
    struct MHD_Daemon *d;
    rb_sclock clock;             /* whole-request deadlines */
    size_t max_body;
    int client_ca;
    char *cert, *key, *ca;       /* PEM copies: MHD keeps pointers to them */
    lua_State *L;                /* set during poll() */
    int handler;                 /* stack index of the handler during poll() */
} server;

typedef struct {
    char *body;
    size_t len, cap;
    int too_big;
} request;

typedef struct {                 /* what the Lua handler answered */
    int status;
    char *body, *ctype, *allow, *www;
    size_t len;
} answer;

static volatile sig_atomic_t stop_flag;

/* ---- responses ---------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *ctype,
                             const char *body, size_t len, const char *www)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    rb_sclock_answered(c);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (www) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, int status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

/* ---- the request as a Lua table, and the handler's answer -------------- */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    lua_State *L = cls;
    (void)kind;
    if (!k || !v) return MHD_YES;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *p = k; *p; p++) luaL_addchar(&b, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
    luaL_pushresult(&b);
    lua_pushstring(L, v);
    lua_rawset(L, -3);
    return MHD_YES;
}

/* Verified client certificate (mutual TLS): the chain checks out against the
 * configured client CA and the peer sent one. */
static int client_verified(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session) return 0;
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned int status = 1, n = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0) return 0;
    return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}

static char *dup_field(lua_State *L, int idx, size_t *len)
{
    size_t n = 0;
    const char *s = lua_tolstring(L, idx, &n);
    if (!s) return NULL;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    if (len) *len = n;
    return d;
}

struct call { server *s; struct MHD_Connection *c; const char *method, *url; request *r; answer *a; };

/* Runs under lua_pcall: builds req, calls the handler, copies the answer. */
static int call_handler(lua_State *L)
{
    struct call *k = lua_touserdata(L, 1);
    lua_pushvalue(L, 2);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, k->method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, k->url);
    lua_setfield(L, -2, "path");
    lua_pushlstring(L, k->r->body ? k->r->body : "", k->r->len);
    lua_setfield(L, -2, "body");
    lua_pushboolean(L, k->s->client_ca && client_verified(k->c));
    lua_setfield(L, -2, "client_verified");
    lua_newtable(L);
    MHD_get_connection_values(k->c, MHD_HEADER_KIND, add_header, L);
    lua_setfield(L, -2, "headers");
    lua_call(L, 1, 4);
    k->a->status = (int)luaL_optinteger(L, -4, 500);
    k->a->body = dup_field(L, -3, &k->a->len);
    k->a->ctype = dup_field(L, -2, NULL);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "www-authenticate");
        k->a->www = dup_field(L, -1, NULL);
        lua_pop(L, 1);
    }
    return 0;
}

static enum MHD_Result dispatch(server *s, struct MHD_Connection *c, const char *url,
                                const char *method, request *r)
{
    answer a = { 0 };
    struct call k = { s, c, method, url, r, &a };
    lua_State *L = s->L;
    lua_pushcfunction(L, call_handler);
    lua_pushlightuserdata(L, &k);
    lua_pushvalue(L, s->handler);
    enum MHD_Result ok;
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "runbook serve: handler: %s\n", msg ? msg : "error");
        lua_pop(L, 1);
        ok = reply_text(c, 500, "internal error\n");
    } else {
        ok = reply(c, a.status, a.ctype ? a.ctype : "text/plain; charset=utf-8",
                   a.body ? a.body : "", a.body ? a.len : 0, a.www);
    }
    free(a.body); free(a.ctype); free(a.www);
    return ok;
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

static int append(request *r, const char *data, size_t n, size_t max)
{
    if (r->too_big || r->len + n > max) { r->too_big = 1; return 0; }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) { r->too_big = 1; return 0; }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    server *s = cls;
    request *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_body) {
            r->too_big = 1;
            return reply_text(c, 413, "request body too large\n");
        }
        return MHD_YES;
    }
    if (*upload_size) {
        append(r, upload, *upload_size, s->max_body);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big) return reply_text(c, 413, "request body too large\n");
    return dispatch(s, c, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    request *r = *con_cls;
    (void)cls; (void)why;
    rb_sclock_completed(c);
    if (r) { free(r->body); free(r); }
    *con_cls = NULL;
}

/* ---- the server userdata ----------------------------------------------- */

static server *check_server(lua_State *L)
{
    server *s = luaL_checkudata(L, 1, SERVER_MT);
    if (!s->d) luaL_error(L, "server is closed");
    return s;
}

static void free_pem(server *s)
{
    free(s->cert); free(s->key); free(s->ca);
    s->cert = s->key = s->ca = NULL;
}

static int server_close(lua_State *L)
{
    server *s = luaL_checkudata(L, 1, SERVER_MT);
    if (s->d) { MHD_stop_daemon(s->d); s->d = NULL; }
    rb_sclock_free(&s->clock);
    free_pem(s);
    return 0;
}

static int server_port(lua_State *L)
{
    server *s = check_server(L);
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    lua_pushinteger(L, i ? i->port : 0);
    return 1;
}

/* stats() -> {timed_out, idle_closed}: what the request clock closed */
static int server_stats(lua_State *L)
{
    server *s = check_server(L);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)s->clock.timed_out);
    lua_setfield(L, -2, "timed_out");
    lua_pushinteger(L, (lua_Integer)s->clock.idle_closed);
    lua_setfield(L, -2, "idle_closed");
    return 1;
}

/* poll(ms, handler): serves requests for up to ms milliseconds. */
static int server_poll(lua_State *L)
{
    server *s = check_server(L);
    lua_Integer ms = luaL_checkinteger(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    s->L = L;
    s->handler = 3;
    enum MHD_Result ok = MHD_run_wait(s->d, (int32_t)(ms < 0 ? 0 : ms > 60000 ? 60000 : ms));
    rb_sclock_sweep(&s->clock, rb_sclock_now());
    s->L = NULL;
    lua_pushboolean(L, ok == MHD_YES);
    return 1;
}

static char *opt_string(lua_State *L, const char *name)
{
    lua_getfield(L, 1, name);
    char *v = lua_isstring(L, -1) ? dup_field(L, -1, NULL) : NULL;
    lua_pop(L, 1);
    return v;
}

static lua_Integer opt_int(lua_State *L, const char *name, lua_Integer def)
{
    lua_getfield(L, 1, name);
    lua_Integer v = luaL_optinteger(L, -1, def);
    lua_pop(L, 1);
    return v;
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -1;
}

/* timeout: seconds a request may take to arrive whole (the clock's deadline);
 * libmicrohttpd's inactivity timeout stays as a backstop a little after it,
 * for a client slow to read its answer. */
static void start(server *s, const struct sockaddr_storage *ss, lua_Integer timeout, lua_Integer limit)
{
    unsigned flags = MHD_USE_EPOLL | (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0)
                   | (s->cert ? MHD_USE_TLS : 0);
    s->clock.ms = timeout * 1000;
    s->clock.tls = s->cert != NULL;
    struct MHD_OptionItem ops[] = {
        { MHD_OPTION_SOCK_ADDR, 0, (void *)ss },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout + 2, NULL },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)rb_sclock_on_connection, &s->clock },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)rb_sclock_on_uri, &s->clock },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)limit, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
        { s->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert },
        { s->cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->key },
        { s->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, s->ca },
        { MHD_OPTION_END, 0, NULL },
    };
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->d) return;
    /* the listening socket stays out of every child (MHD sets it too; make sure) */
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    if (i) fcntl(i->listen_fd, F_SETFD, fcntl(i->listen_fd, F_GETFD) | FD_CLOEXEC);
}

/* listen{...} -> server | nil, err */
static int serve_listen(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "host");
    const char *host = luaL_optstring(L, -1, "127.0.0.1");
    lua_Integer port = opt_int(L, "port", 9095);
    struct sockaddr_storage ss;
    if (port < 0 || port > 65535) return luaL_error(L, "listen: port %d out of range", (int)port);
    if (parse_addr(host, (int)port, &ss) < 0)
        return luaL_error(L, "listen: '%s' is not an IP address (give 127.0.0.1, 0.0.0.0 or [::1])", host);
    server *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SERVER_MT);
    s->max_body = (size_t)opt_int(L, "max_body", 1 << 20);
    s->cert = opt_string(L, "cert");
    s->key = opt_string(L, "key");
    s->ca = opt_string(L, "client_ca");
    s->client_ca = s->ca != NULL;
    if ((s->cert == NULL) != (s->key == NULL) || (s->ca && !s->cert)) {
        free_pem(s);
        return luaL_error(L, "listen: TLS needs both cert and key (and client_ca needs TLS)");
    }
    start(s, &ss, opt_int(L, "timeout", 10), opt_int(L, "conn_limit", 64));
    if (!s->d) {
        int e = errno;
        free_pem(s);
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot listen on %s:%d: %s", host, (int)port, e ? strerror(e) : "libmicrohttpd refused the options");
        return 2;
    }
    return 1;
}

/* ---- processes ---------------------------------------------------------- */

static int serve_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *out = luaL_checkstring(L, 2), *err_path = luaL_checkstring(L, 3);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1 || n > 256) return luaL_argerror(L, 1, "argv needs 1 to 256 strings");
    const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        argv[i - 1] = luaL_checkstring(L, -1);
        lua_pop(L, 1);   /* the string stays alive in the argv table */
    }
    argv[n] = NULL;
    char err[512];
    pid_t pid = rb_proc_spawn((char *const *)argv, out, err_path, err, sizeof err);
    if (pid < 0) { luaL_pushfail(L); lua_pushstring(L, err); return 2; }
    lua_pushinteger(L, pid);
    return 1;
}

static int serve_reap(lua_State *L)
{
    pid_t pid;
    int code, sig;
    if (!rb_proc_reap(&pid, &code, &sig)) return 0;
    lua_pushinteger(L, pid);
    lua_pushinteger(L, code);
    lua_pushinteger(L, sig);
    return 3;
}

static int serve_kill(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    static const char *const names[] = { "TERM", "KILL", NULL };
    int sig = luaL_checkoption(L, 2, "TERM", names) == 0 ? SIGTERM : SIGKILL;
    lua_pushboolean(L, rb_proc_kill_group((pid_t)pid, sig) == 0);
    return 1;
}

/* notify(url, json, ms) -> pid: the POST runs in a child so a slow webhook
 * never holds up the server; the exit status says 2xx (0) or not (1). */
static int serve_notify(lua_State *L)
{
    size_t len;
    const char *url = luaL_checkstring(L, 1), *body = luaL_checklstring(L, 2, &len);
    long ms = (long)luaL_optinteger(L, 3, 5000);
    pid_t pid = fork();
    if (pid < 0) { luaL_pushfail(L); lua_pushstring(L, strerror(errno)); return 2; }
    if (pid == 0) {
        char err[256];
        syscall(SYS_close_range, 3U, ~0U, 0);
        long st = rb_webhook_post(url, body, len, ms, err, sizeof err);
        if (st < 0) fprintf(stderr, "runbook serve: notify: %s\n", err);
        _exit(st >= 200 && st < 300 ? 0 : 1);
    }
    lua_pushinteger(L, pid);
    return 1;
}

/* ---- signals and comparison -------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_child(int sig)
{
    (void)sig;                     /* only wakes the poll: a finished run is reaped at once */
}

static int serve_watch_signals(lua_State *L)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;     /* no SA_RESTART: the poll returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* epoll_wait returns EINTR whatever SA_RESTART says; other calls restart */
    sa.sa_handler = on_child;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    stop_flag = 0;
    return 0;
}

static int serve_stopping(lua_State *L)
{
    lua_pushboolean(L, stop_flag);
    return 1;
}

/* equal(a, b): compares SHA-256 digests with CRYPTO_memcmp, so neither the
 * content nor the length of the expected token leaks through timing. */
static int serve_equal(lua_State *L)
{
    size_t la, lb;
    const char *a = luaL_checklstring(L, 1, &la), *b = luaL_checklstring(L, 2, &lb);
    unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)a, la, da);
    SHA256((const unsigned char *)b, lb, db);
    lua_pushboolean(L, CRYPTO_memcmp(da, db, sizeof da) == 0);
    return 1;
}

static const luaL_Reg server_methods[] = {
    {"poll", server_poll}, {"port", server_port}, {"stats", server_stats},
    {"close", server_close}, {NULL, NULL}
};

static const luaL_Reg servelib[] = {
    {"listen", serve_listen}, {"spawn", serve_spawn}, {"reap", serve_reap}, {"kill", serve_kill},
    {"notify", serve_notify}, {"watch_signals", serve_watch_signals}, {"stopping", serve_stopping},
    {"equal", serve_equal}, {NULL, NULL}
};

int luaopen_rb__serve(lua_State *L)
{
    if (luaL_newmetatable(L, SERVER_MT)) {
        luaL_newlib(L, server_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, server_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, server_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, servelib);
    return 1;
}
