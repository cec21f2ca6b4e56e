/* bind/k8s.c — rb.k8s, C half: a Kubernetes API client resolved from a
 * kubeconfig (core/kubeconfig.h) or the in-cluster service account, its
 * credentials (token, tokenFile re-read when it changes, client certificate,
 * exec credential plugins cached until expirationTimestamp), and the one
 * gated request every call goes through: GET is a read, every other verb a
 * write. In plan mode a write is sent with dryRun=All so the server
 * validates it, and the caller's `simulate` function turns the answer into
 * the plan's text. exec runs over the WebSocket transport of net/k8s_ws.h.
 * HTTP goes through net/http_client.h; secrets are registered with the
 * redactor as soon as they are read. lualib/rb/k8s.lua builds kubectl's
 * verbs (discovery, get, scale, patch, ...) on Client:request. */
#include "core/k8s_quantity.h"
#include "core/kubeconfig.h"
#include "errors.h"
#include "luaopt.h"
#include "gate.h"
#include "net/http_client.h"
#include "net/http_req.h"
#include "net/k8s_url.h"
#include "net/k8s_ws.h"
#include "redact.h"
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CLIENT_MT "rb.k8s.Client"
#define PLUGIN_TIMEOUT_MS 60000
#define PLUGIN_MAX_OUT (1u << 20)

typedef struct {
    int closed;
    rb_kubeconfig kc;               /* owns the exec plugin config */
    char *server, *context, *namespace_, *user_name;
    char *ca_file, *ca_pem, *tls_server_name;
    int insecure, in_cluster;
    int operator_named;             /* the kubeconfig is the operator's: exec plugins may run */
    char *cred_id;                  /* the credential's identity in plans (identify()) */
    char *token;                    /* static, or the last read from token_file / plugin */
    char *token_file;
    struct timespec tf_mtime;
    off_t tf_size;
    char *cert_file, *key_file, *cert_pem, *key_pem;
    char *username, *password;
    const rb_kube_exec *exec;       /* points into kc */
    time_t exec_expiry;             /* 0: no expiry given (cached for the client's life) */
    int exec_have;
    long timeout_ms, connect_timeout_ms;
} client;

static int identify(client *c, char *err, size_t errlen);

static void secret(const char *s, size_t n) { if (s && n) rb_redact_add(s, n); }
static char *dupz(const char *s) { return s ? strdup(s) : NULL; }

static void client_free(client *c)
{
    char **fields[] = {&c->server, &c->context, &c->namespace_, &c->user_name, &c->ca_file, &c->ca_pem,
                       &c->tls_server_name, &c->token, &c->token_file, &c->cert_file, &c->key_file,
                       &c->cert_pem, &c->key_pem, &c->username, &c->password, &c->cred_id};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) { free(*fields[i]); *fields[i] = NULL; }
    rb_kubeconfig_free(&c->kc);
    c->exec = NULL;
    c->closed = 1;
}

static int client_gc(lua_State *L)
{
    client_free(luaL_checkudata(L, 1, CLIENT_MT));
    return 0;
}

static client *check_client(lua_State *L, int i)
{
    client *c = luaL_checkudata(L, i, CLIENT_MT);
    if (c->closed) luaL_error(L, "attempt to use a closed rb.k8s client");
    return c;
}

/* Reads a whole small file (NUL-terminated); NULL with errno on failure. */
static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
}

/* ---- configuration --------------------------------------------------- */

static int config_fail(lua_State *L, client *c, const char *msg)
{
    client_free(c);
    return rb_error_return(L, "config", "k8s: %s", msg);
}

static char *bytes_dup(const rb_kube_bytes *b)
{
    if (!b->data) return NULL;
    char *s = malloc(b->len + 1);
    if (s) { memcpy(s, b->data, b->len); s[b->len] = 0; }
    return s;
}

static void from_resolved(lua_State *L, client *c, const rb_kube_resolved *r, const char *ns)
{
    const rb_kube_cluster *cl = r->cluster;
    c->server = dupz(cl->server);
    size_t n = strlen(c->server);
    while (n && c->server[n - 1] == '/') c->server[--n] = 0;
    c->context = dupz(r->context->name);
    c->namespace_ = dupz(ns ? ns : r->namespace_);
    c->ca_file = dupz(cl->certificate_authority);
    c->ca_pem = bytes_dup(&cl->certificate_authority_data);
    c->tls_server_name = dupz(cl->tls_server_name);
    c->insecure = cl->insecure_skip_tls_verify;
    const rb_kube_user *u = r->user;
    if (!u) return;
    c->user_name = dupz(u->name);
    c->token = dupz(u->token);
    c->token_file = dupz(u->token_file);
    c->cert_file = dupz(u->client_certificate);
    c->key_file = dupz(u->client_key);
    c->cert_pem = bytes_dup(&u->client_certificate_data);
    c->key_pem = bytes_dup(&u->client_key_data);
    c->username = dupz(u->username);
    c->password = dupz(u->password);
    if (u->has_exec) c->exec = &u->exec;
    if (c->token) secret(c->token, strlen(c->token));
    if (c->key_pem) secret(c->key_pem, strlen(c->key_pem));
    if (c->password) secret(c->password, strlen(c->password));
    (void)L;
}

/* In-cluster (no kubeconfig): the service account as core/kubeconfig.h
 * builds it from KUBERNETES_SERVICE_HOST/PORT, POD_NAMESPACE and the files
 * under RUNBOOK_SA_ROOT (default /var/run/secrets/kubernetes.io/serviceaccount). */
static int from_service_account(lua_State *L, client *c, const char *ns, char *err, size_t errlen)
{
    rb_kube_resolved r;
    rb_kubeconfig_free(&c->kc);     /* the empty configuration load_config found */
    if (rb_kubeconfig_in_cluster_dir(getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT"),
                                     getenv("POD_NAMESPACE"), getenv("RUNBOOK_SA_ROOT"), &c->kc, err, errlen) < 0)
        return -1;
    if (rb_kubeconfig_resolve(&c->kc, NULL, &r, err, errlen) < 0) return -1;
    from_resolved(L, c, &r, ns);
    c->in_cluster = 1;
    return 0;
}

static void warn_insecure(lua_State *L, client *c)
{
    if (!c->insecure) return;
    fprintf(stderr, "runbook: warning: TLS verification disabled for %s (insecure-skip-tls-verify)\n", c->server);
    rb_gate_finding(L, "tls verification disabled", "warning", c->server);
}

/* ---- who named the kubeconfig ------------------------------------------ */

static int same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* path is a file of the operator's environment: an entry of KUBECONFIG or
 * ~/.kube/config (read from the process environment here, not from Lua). */
static int env_named(const char *path)
{
    const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
    char buf[4096];
    if (env && strlen(env) < sizeof buf) {
        strcpy(buf, env);
        for (char *p = strtok(buf, ":"); p; p = strtok(NULL, ":"))
            if (same_file(p, path)) return 1;
    }
    if (home && *home && (size_t)snprintf(buf, sizeof buf, "%s/.kube/config", home) < sizeof buf)
        return same_file(buf, path);
    return 0;
}

/* Every entry of a colon list is env_named. */
static int list_env_named(const char *list)
{
    char *copy = strdup(list);
    int ok = copy != NULL, any = 0;
    for (char *p = copy ? strtok(copy, ":") : NULL; ok && p; p = strtok(NULL, ":")) { ok = env_named(p); any = 1; }
    free(copy);
    return ok && any;
}

/* An exec plugin is a local command: it runs only from a kubeconfig the
 * operator named (docs/lua/k8s.md, "Exec plugins"). */
static int refuse_plugin(client *c, const char *where, const rb_kube_resolved *r, char *err, size_t errlen)
{
    if (c->operator_named || !r->user || !r->user->has_exec) return 0;
    snprintf(err, errlen, "%s was named by runbook code and its user \"%s\" has an exec credential plugin "
             "(command %s): plugins run only from the operator's kubeconfig (--kubeconfig, the config's "
             "kubeconfig target, KUBECONFIG, ~/.kube/config); nothing was run", where, r->user->name,
             r->user->exec.command ? r->user->exec.command : "?");
    return -1;
}

/* Loads the kubeconfig the arguments name: inline text (it holds a newline),
 * a path, a colon list, or (none given) the environment's. */
static int load_config(client *c, const char *kc, char *err, size_t errlen)
{
    if (kc && strchr(kc, '\n'))
        return rb_kubeconfig_parse(kc, strlen(kc), NULL, "inline kubeconfig", &c->kc, err, errlen);
    if (kc && strchr(kc, ':')) return rb_kubeconfig_load_list(kc, &c->kc, err, errlen);
    return rb_kubeconfig_load(kc, getenv("KUBECONFIG"), getenv("HOME"), &c->kc, err, errlen);
}

static int resolve_config(lua_State *L, client *c, const char *kc, const char *ctx, const char *ns,
                          char *err, size_t errlen)
{
    rb_kube_resolved r;
    if (rb_kubeconfig_resolve(&c->kc, ctx, &r, err, errlen) < 0) return -1;
    if (r.cluster->proxy_url) {
        snprintf(err, errlen, "cluster \"%s\": proxy-url is not supported", r.cluster->name);
        return -1;
    }
    if (r.user && r.user->auth_provider) {
        snprintf(err, errlen, "user \"%s\": auth-provider \"%s\" is not supported (use an exec plugin)",
                 r.user->name, r.user->auth_provider);
        return -1;
    }
    char where[300];
    snprintf(where, sizeof where, "kubeconfig %.250s", kc && !strchr(kc, '\n') ? kc : "(inline)");
    if (refuse_plugin(c, where, &r, err, errlen) < 0) return -1;
    from_resolved(L, c, &r, ns);
    return 0;
}

/* _client{kubeconfig = path | "a:b" | inline text, operator, context,
 *         namespace, timeout, connect_timeout} -> Client | nil, err{kind = "config"}
 * operator: set by lualib/rb/k8s.lua for the run's targets only. */
static int k8s_client(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *kc = rb_opt_string(L, 1, "kubeconfig");
    const char *ctx = rb_opt_string(L, 1, "context"), *ns = rb_opt_string(L, 1, "namespace");
    lua_getfield(L, 1, "operator");
    int op = lua_toboolean(L, -1);
    lua_pop(L, 1);
    double timeout = rb_opt_seconds(L, 1, "timeout", 30, "client");
    double ctimeout = rb_opt_seconds(L, 1, "connect_timeout", 5, "client");
    if (ns && !*ns) ns = NULL;
    if (kc && !*kc) kc = NULL;

    client *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->closed = 1;
    luaL_setmetatable(L, CLIENT_MT);
    c->timeout_ms = (long)(timeout * 1000);
    c->connect_timeout_ms = (long)(ctimeout * 1000);
    /* the operator's: the run's targets, the environment's, or a `runbook lua` script (no runbook loaded) */
    c->operator_named = op || !kc || rb_gate_mode_of(L) == RB_MODE_FREE || (!strchr(kc, '\n') && list_env_named(kc));

    char err[1024];
    if (load_config(c, kc, err, sizeof err) < 0) return config_fail(L, c, err);
    if (c->kc.ncontexts == 0 && !kc && !(ctx && *ctx)) {
        if (from_service_account(L, c, ns, err, sizeof err) < 0) return config_fail(L, c, err);
    } else if (resolve_config(L, c, kc, ctx, ns, err, sizeof err) < 0) return config_fail(L, c, err);
    if (!c->server || !c->namespace_ || !c->context) return config_fail(L, c, "out of memory");
    if (identify(c, err, sizeof err) < 0) return config_fail(L, c, err);
    c->closed = 0;
    warn_insecure(L, c);
    return 1;
}

/* ---- credentials ------------------------------------------------------ */

/* tokenFile: re-read when its mtime or size changes, as kubectl's cached
 * token source does; a file that vanished keeps the last token. */
static int refresh_token_file(client *c, char *err, size_t errlen)
{
    struct stat st;
    if (stat(c->token_file, &st) != 0) {
        if (c->token) return 0;
        snprintf(err, errlen, "tokenFile %s: %s", c->token_file, strerror(errno));
        return -1;
    }
    if (c->token && st.st_size == c->tf_size && st.st_mtim.tv_sec == c->tf_mtime.tv_sec &&
        st.st_mtim.tv_nsec == c->tf_mtime.tv_nsec)
        return 0;
    size_t n;
    char *t = slurp(c->token_file, 64 * 1024, &n);
    if (!t) { snprintf(err, errlen, "tokenFile %s: %s", c->token_file, strerror(errno)); return -1; }
    trim(t);
    secret(t, strlen(t));
    free(c->token);
    c->token = t;
    c->tf_size = st.st_size;
    c->tf_mtime = st.st_mtim;
    return 0;
}

static void env_free(char **envp, size_t owned)
{
    if (!envp) return;
    for (char **p = envp + owned; *p; p++) free(*p);
    free(envp);
}

/* The plugin's environment: ours without KUBERNETES_EXEC_INFO, then its
 * kubeconfig env, then KUBERNETES_EXEC_INFO. Entries from index *owned on
 * are malloc'd. NULL when out of memory. */
static char **plugin_env(const rb_kube_exec *x, const char *info, size_t *owned)
{
    size_t nenv = 0;
    while (environ[nenv]) nenv++;
    char **envp = calloc(nenv + x->nenv + 2, sizeof *envp);
    if (!envp) return NULL;
    size_t e = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) != 0) envp[e++] = environ[i];
    *owned = e;
    for (size_t i = 0; i < x->nenv + 1; i++) {
        const char *k = i < x->nenv ? x->env[i].name : "KUBERNETES_EXEC_INFO";
        const char *v = i < x->nenv ? (x->env[i].value ? x->env[i].value : "") : info;
        if (!(envp[e] = malloc(strlen(k) + strlen(v) + 2))) { env_free(envp, *owned); return NULL; }
        sprintf(envp[e++], "%s=%s", k, v);
    }
    return envp;
}

/* Reads fd to EOF within PLUGIN_TIMEOUT_MS and PLUGIN_MAX_OUT bytes;
 * NUL-terminated, or NULL with a reason. */
static char *read_bounded(int fd, const char *cmd, char *err, size_t errlen)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long left = PLUGIN_TIMEOUT_MS - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd pf = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
            snprintf(err, errlen, "exec plugin %s: no answer within %d s", cmd, PLUGIN_TIMEOUT_MS / 1000);
            break;
        }
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = cap <= PLUGIN_MAX_OUT * 2 ? realloc(out, cap + 1) : NULL;
            if (!nb) { snprintf(err, errlen, "exec plugin %s: output too large", cmd); break; }
            out = nb;
        }
        ssize_t r = read(fd, out + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { out[len] = 0; return out; }
        len += (size_t)r;
    }
    free(out);
    return NULL;
}

/* Runs the plugin with stdin from /dev/null and stdout captured (bounded in
 * size and time); its stderr is the user's, as with kubectl. */
static char *run_plugin(const rb_kube_exec *x, const char *info, int *status, char *err, size_t errlen)
{
    size_t owned = 0;
    char **envp = plugin_env(x, info, &owned);
    char **argv = calloc(x->nargs + 2, sizeof *argv);
    char *out = NULL;
    int pipefd[2];
    if (!envp || !argv || pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "exec plugin %s: out of resources", x->command);
        env_free(envp, owned);
        free(argv);
        return NULL;
    }
    argv[0] = x->command;
    for (size_t i = 0; i < x->nargs; i++) argv[i + 1] = x->args[i];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, x->command, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    env_free(envp, owned);
    free(argv);
    if (rc != 0) {
        snprintf(err, errlen, "exec plugin %s: %s%s%s", x->command, strerror(rc),
                 x->install_hint ? ": " : "", x->install_hint ? x->install_hint : "");
    } else {
        out = read_bounded(pipefd[0], x->command, err, errlen);
        if (!out) kill(pid, SIGKILL);
        while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
    }
    close(pipefd[0]);
    return out;
}

static time_t parse_rfc3339(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return (time_t)-1;
    time_t t = timegm(&tm);
    while (*end == '.' || (*end >= '0' && *end <= '9')) end++;
    if ((*end == '+' || *end == '-') && strlen(end) >= 6) {
        long off = ((end[1] - '0') * 10 + (end[2] - '0')) * 3600 + ((end[4] - '0') * 10 + (end[5] - '0')) * 60;
        t += *end == '+' ? -off : off;
    }
    return t;
}

/* KUBERNETES_EXEC_INFO: {apiVersion, kind, spec = {interactive = false,
 * cluster = {...} when provideClusterInfo}} encoded with cjson. */
static const char *push_exec_info(lua_State *L, client *c)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "encode");
    lua_remove(L, -2);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, c->exec->api_version);
    lua_setfield(L, -2, "apiVersion");
    lua_pushliteral(L, "ExecCredential");
    lua_setfield(L, -2, "kind");
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "interactive");
    if (c->exec->provide_cluster_info) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, c->server);
        lua_setfield(L, -2, "server");
        if (c->tls_server_name) { lua_pushstring(L, c->tls_server_name); lua_setfield(L, -2, "tls-server-name"); }
        lua_pushboolean(L, c->insecure);
        lua_setfield(L, -2, "insecure-skip-tls-verify");
        if (c->ca_pem) {
            size_t n = strlen(c->ca_pem);
            unsigned char *enc = lua_newuserdatauv(L, 4 * (n / 3 + 2), 0);
            EVP_EncodeBlock(enc, (const unsigned char *)c->ca_pem, (int)n);
            lua_pushstring(L, (const char *)enc);
            lua_setfield(L, -3, "certificate-authority-data");
            lua_pop(L, 1);
        }
        lua_setfield(L, -2, "cluster");
    }
    lua_setfield(L, -2, "spec");
    lua_call(L, 1, 1);
    return lua_tostring(L, -1);
}

static const char *field_str(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return s;
}

/* Decodes the ExecCredential on top of the stack into the client's cache. */
static int take_credential(lua_State *L, client *c, char *err, size_t errlen)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "decode");
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        snprintf(err, errlen, "exec plugin %s: output is not an ExecCredential (JSON expected)", c->exec->command);
        lua_pop(L, 2);
        return -1;
    }
    int t = lua_gettop(L);
    const char *kind = field_str(L, t, "kind"), *av = field_str(L, t, "apiVersion");
    if (!kind || strcmp(kind, "ExecCredential") != 0 || !av || strcmp(av, c->exec->api_version) != 0) {
        snprintf(err, errlen, "exec plugin %s: want kind ExecCredential, apiVersion %s", c->exec->command,
                 c->exec->api_version);
        lua_pop(L, 2);
        return -1;
    }
    lua_getfield(L, t, "status");
    int s = lua_gettop(L);
    const char *token = lua_istable(L, s) ? field_str(L, s, "token") : NULL;
    const char *cert = lua_istable(L, s) ? field_str(L, s, "clientCertificateData") : NULL;
    const char *key = lua_istable(L, s) ? field_str(L, s, "clientKeyData") : NULL;
    const char *exp = lua_istable(L, s) ? field_str(L, s, "expirationTimestamp") : NULL;
    if (!token && !(cert && key)) {
        snprintf(err, errlen, "exec plugin %s: status has neither token nor clientCertificateData+clientKeyData",
                 c->exec->command);
        lua_pop(L, 3);
        return -1;
    }
    if (token) secret(token, strlen(token));
    if (key) secret(key, strlen(key));
    free(c->token); free(c->cert_pem); free(c->key_pem);
    c->token = dupz(token);
    c->cert_pem = dupz(cert);
    c->key_pem = dupz(key);
    c->exec_expiry = exp ? parse_rfc3339(exp) : 0;
    c->exec_have = 1;
    lua_pop(L, 3);
    return 0;
}

/* Runs the plugin (a local command) and caches its credential. The run is a
 * gated read: no plugin starts while runbook code loads, nor after ^C. Its
 * ticket stays on the stack until the binding returns. */
static int run_exec(lua_State *L, client *c, char *err, size_t errlen)
{
    rb_action a = {"k8s", "credential", c->exec->command, 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    const char *info = push_exec_info(L, c);
    int status = 0;
    char *out = run_plugin(c->exec, info, &status, err, errlen);
    lua_pop(L, 1);
    if (out && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        snprintf(err, errlen, "exec plugin %s: exit status %d", c->exec->command,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        free(out);
        out = NULL;
    }
    int rc = -1;
    if (out) {
        lua_pushstring(L, out);
        free(out);
        rc = take_credential(L, c, err, errlen);
        lua_pop(L, 1);
    }
    rb_ticket_done(L, t, rc == 0, rc == 0 ? NULL : err);
    return rc;
}

static int refresh_exec(lua_State *L, client *c, char *err, size_t errlen)
{
    if (c->exec_have && (c->exec_expiry == 0 || time(NULL) < c->exec_expiry)) return 0;
    if (!c->operator_named) {   /* resolve_config refused it already; never run one regardless */
        snprintf(err, errlen, "exec plugin %s: not from the operator's kubeconfig", c->exec->command);
        return -1;
    }
    if (c->exec->interactive_mode && strcmp(c->exec->interactive_mode, "Always") == 0) {
        /* kubectl refuses too when there is no terminal; the engine never gives the plugin one */
        snprintf(err, errlen, "exec plugin %s: interactiveMode Always needs a terminal; the engine runs "
                 "plugins without one", c->exec->command);
        return -1;
    }
    return run_exec(L, c, err, errlen);
}

/* ---- one call's credentials ---------------------------------------------- */

/* The credentials one call (or one get_many batch) sends: copies, so that a
 * tokenFile re-read or a plugin answer during the call cannot free them.
 * Wiped when collected. */
typedef struct {
    char *token, *cert_pem, *key_pem;
} creds;

#define CREDS_MT "rb.k8s.Creds"

static void wipe_free(char **s)
{
    if (*s) rb_wipe_free(*s, strlen(*s));
    *s = NULL;
}

static int creds_gc(lua_State *L)
{
    creds *k = luaL_checkudata(L, 1, CREDS_MT);
    wipe_free(&k->token); wipe_free(&k->cert_pem); wipe_free(&k->key_pem);
    return 0;
}

static char *copy_or_fail(lua_State *L, const char *s)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d) luaL_error(L, "out of memory");
    return d;
}

static creds *push_creds(lua_State *L, const client *c)
{
    creds *k = lua_newuserdatauv(L, sizeof *k, 0);
    memset(k, 0, sizeof *k);
    luaL_setmetatable(L, CREDS_MT);
    k->token = copy_or_fail(L, c->token);
    k->cert_pem = copy_or_fail(L, c->cert_pem);
    k->key_pem = copy_or_fail(L, c->key_pem);
    return k;
}

/* Refreshes the credentials and fills the TLS and authentication fields of
 * req from a snapshot pushed on the stack (with any plugin ticket). */
static int prepare(lua_State *L, client *c, rb_http_req *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    if (c->token_file && refresh_token_file(c, err, errlen) < 0) return -1;
    if (c->exec && refresh_exec(L, c, err, errlen) < 0) return -1;
    creds *k = push_creds(L, c);
    req->ca_file = c->ca_file;
    req->ca_pem = c->ca_pem;
    req->tls_server_name = c->tls_server_name;
    req->insecure = c->insecure;
    req->bearer = k->token;
    req->cert_file = c->cert_file;
    req->key_file = c->key_file;
    req->cert_pem = k->cert_pem;
    req->key_pem = k->key_pem;
    req->user = c->username;
    req->password = c->password;
    req->timeout_ms = c->timeout_ms;
    req->connect_timeout_ms = c->connect_timeout_ms;
    return 0;
}

/* ---- the request's identity ------------------------------------------------ */

typedef struct {
    const char *method, *path, *query, *body, *ctype, *accept;
    size_t body_len;
    long timeout_ms;
} call;

/* Pushes opts[key] read raw (no metamethod of the caller's table runs) and
 * leaves it on the stack, so the string stays alive whatever the caller's
 * code does to the table meanwhile; NULL for nil. */
static const char *anchored(lua_State *L, int t, const char *key, size_t *len)
{
    lua_pushstring(L, key);
    if (lua_rawget(L, t) == LUA_TNIL) { if (len) *len = 0; return NULL; }
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "k8s: option %s must be a string", key);
    return lua_tolstring(L, -1, len);
}

/* The call's options from the table at t: four values pushed (query,
 * content_type, accept, body; nil when absent). */
static void read_call(lua_State *L, int t, call *k)
{
    k->query = anchored(L, t, "query", NULL);
    k->ctype = anchored(L, t, "content_type", NULL);
    k->accept = anchored(L, t, "accept", NULL);
    k->body = anchored(L, t, "body", &k->body_len);
    lua_pushliteral(L, "timeout");
    int tt = lua_rawget(L, t);
    if (tt != LUA_TNIL && tt != LUA_TNUMBER) luaL_error(L, "k8s: option timeout must be a number");
    k->timeout_ms = tt == LUA_TNIL ? 0 : (long)(lua_tonumber(L, -1) * 1000);
    lua_pop(L, 1);
}

/* The operation a method is: what the plan calls it. */
static const char *verb_of(const char *method)
{
    static const char *const map[][2] = {
        {"GET", "get"}, {"POST", "create"}, {"PUT", "update"}, {"PATCH", "patch"}, {"DELETE", "delete"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(method, map[i][0]) == 0) return map[i][1];
    return NULL;
}

/* The client certificate's subject, or "?" when it cannot be read. */
static void cert_subject(const client *c, char *out, size_t outlen)
{
    BIO *b = c->cert_pem ? BIO_new_mem_buf(c->cert_pem, -1) : BIO_new_file(c->cert_file, "r");
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    snprintf(out, outlen, "?");
    if (x) X509_NAME_oneline(X509_get_subject_name(x), out, (int)outlen);
    X509_free(x);
    BIO_free(b);
}

/* c->cred_id: which credential the client sends, as plans show it. */
static int identify(client *c, char *err, size_t errlen)
{
    char buf[700], fp[20] = "", subj[512];
    if (c->exec) snprintf(buf, sizeof buf, "exec plugin %.600s", c->exec->command);
    else if (c->token_file) snprintf(buf, sizeof buf, "tokenFile %.600s", c->token_file);
    else if (c->token) { rb_http_fingerprint(c->token, strlen(c->token), fp); snprintf(buf, sizeof buf, "token %s", fp); }
    else if (c->cert_file || c->cert_pem) { cert_subject(c, subj, sizeof subj); snprintf(buf, sizeof buf, "client certificate %s", subj); }
    else if (c->username) snprintf(buf, sizeof buf, "basic %.600s", c->username);
    else snprintf(buf, sizeof buf, "anonymous");
    if (!(c->cred_id = strdup(buf))) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

/* Pushes the body as the plan shows it: the decoded JSON when it is JSON,
 * else the text. body_sha256 (beside it) pins the exact bytes. */
static void push_body(lua_State *L, const call *k)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_getfield(L, -1, "decode");
        lua_pushlstring(L, k->body, k->body_len);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) { lua_remove(L, -2); return; }
    }
    lua_pop(L, 2);
    lua_pushlstring(L, k->body, k->body_len);
}

/* The call's identity for the gate, computed from the request that is sent:
 * method, server, credential, content type and body. With the operation
 * (verb_of) and the target (path and query as sent) it is what the plan
 * shows and what the gate digests: apply must send exactly this. */
static int push_identity(lua_State *L, const client *c, const call *k)
{
    lua_createtable(L, 0, 7);
    lua_pushstring(L, k->method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, c->server);
    lua_setfield(L, -2, "server");
    if (c->user_name) { lua_pushstring(L, c->user_name); lua_setfield(L, -2, "user"); }
    lua_pushstring(L, c->cred_id);
    lua_setfield(L, -2, "credential");
    if (k->ctype) { lua_pushstring(L, k->ctype); lua_setfield(L, -2, "content_type"); }
    if (k->body) {
        char hex[65];
        push_body(L, k);
        lua_setfield(L, -2, "body");
        rb_http_sha256_hex(k->body, k->body_len, hex);
        lua_pushstring(L, hex);
        lua_setfield(L, -2, "body_sha256");
    }
    return lua_gettop(L);
}

/* The URL of a call, built and checked (net/k8s_url.h); raises naming the
 * path when it is refused. Pushes url, dry_url and target (in that order). */
static void push_url(lua_State *L, const client *c, const char *path, const char *query)
{
    rb_k8s_url u;
    char err[600];
    if (rb_k8s_url_build(c->server, path, query, &u, err, sizeof err) < 0) {
        rb_error_push(L, "request", "k8s: %s", err);
        lua_error(L);
    }
    lua_pushstring(L, u.url);
    lua_pushstring(L, u.dry_url);
    lua_pushstring(L, u.target);
    rb_k8s_url_free(&u);
}

/* ---- sending ------------------------------------------------------------------ */

static void push_response(lua_State *L, const rb_http_resp *r, int dry)
{
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, r->body ? r->body : "", r->body_len);
    lua_setfield(L, -2, "body");
    char ct[128];
    if (rb_http_header(r->headers, "content-type", ct, sizeof ct)) {
        lua_pushstring(L, ct);
        lua_setfield(L, -2, "content_type");
    }
    lua_pushnumber(L, r->t_total * 1000);
    lua_setfield(L, -2, "ms");
    if (dry) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "planned");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "dry_run");
    }
}

static int transport_error(lua_State *L, const char *method, const char *url, rb_http_errkind kind, const char *msg)
{
    rb_error_push(L, rb_http_errkind_name(kind), "k8s: %s %s: %s", method, url, msg);
    rb_error_setstr(L, -1, "url", url);
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* Credentials could not be had: the ticket hears of it, nil, err pushed. */
static int auth_failed(lua_State *L, rb_ticket *t, const char *err)
{
    rb_ticket_done(L, t, 0, err);
    return rb_error_return(L, "auth", "k8s: %s", err);
}

/* Sends the call to url under ticket t; pushes the response or nil, err. */
static int perform(lua_State *L, client *c, const call *k, rb_ticket *t, const char *url, int dry)
{
    char err[512];
    rb_http_req req;
    if (prepare(L, c, &req, err, sizeof err) < 0) return auth_failed(L, t, err);
    const char *hdrs[4];
    int nh = 0;
    if (k->ctype) hdrs[nh++] = lua_pushfstring(L, "Content-Type: %s", k->ctype);
    hdrs[nh++] = lua_pushfstring(L, "Accept: %s", k->accept ? k->accept : "application/json");
    hdrs[nh++] = "User-Agent: runbook-k8s/1.0";
    hdrs[nh] = NULL;
    req.ticket = t;
    req.headers = hdrs;
    req.method = k->method;
    req.url = url;
    req.body = k->body;
    req.body_len = k->body_len;
    if (k->timeout_ms > 0) req.timeout_ms = k->timeout_ms;
    rb_http_resp r;
    int rc = rb_http_perform(&req, &r);
    rb_ticket_done(L, t, rc == 0 && r.status < 400, rc == 0 ? NULL : r.err);
    if (rc < 0) {
        int n = transport_error(L, k->method, url, r.err_kind, r.err);
        rb_http_resp_free(&r);
        return n;
    }
    if (r.status == 401 && c->exec) c->exec_have = 0;   /* the next call asks the plugin again */
    push_response(L, &r, dry);
    rb_http_resp_free(&r);
    return 1;
}

/* In plan mode: the caller's simulate(resp) -> text describes what the
 * server made of the dryRun=All request. */
static void report_simulation(lua_State *L, rb_ticket *t, int opts, int resp)
{
    int top = lua_gettop(L);
    const char *text = NULL;
    lua_pushliteral(L, "simulate");
    if (lua_rawget(L, opts) == LUA_TFUNCTION) {
        lua_pushvalue(L, resp);
        lua_call(L, 1, 1);
        text = lua_tostring(L, -1);
    }
    if (!text) {
        lua_getfield(L, resp, "status");
        lua_Integer st = lua_tointeger(L, -1);
        text = lua_pushfstring(L, st < 400 ? "accepted by the server (dryRun=All, status %d)"
                                           : "refused by the server (dryRun=All, status %d)", (int)st);
    }
    rb_ticket_simulated(L, t, text);
    lua_settop(L, top);
}

/* A write that cannot be simulated, in plan mode: labelled so, {planned = true}. */
static int planned_unsimulated(lua_State *L, rb_ticket *t)
{
    rb_ticket_simulated(L, t, NULL);
    rb_ticket_done(L, t, 1, NULL);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "status");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "planned");
    return 1;
}

/* A planned write (ticket t says simulate): sent only as the dry run, whose
 * URL must carry dryRun=All. The dry run is a read of its own: the server
 * persists nothing. */
static int send_dry(lua_State *L, client *c, const call *k, rb_ticket *t, const char *dry_url, const char *target)
{
    lua_pushliteral(L, "simulate");
    if (lua_rawget(L, 4) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) return planned_unsimulated(L, t);
    if (!rb_k8s_url_is_dry(dry_url)) {
        rb_error_push(L, "request", "k8s: %s %s: dryRun=All is not in the planned request's URL; nothing sent",
                      k->method, target);
        return lua_error(L);
    }
    rb_action a = {"k8s", "dry-run", target, 0};
    rb_ticket *dt = rb_gate_open(L, &a, RB_READ);
    int n = perform(L, c, k, dt, dry_url, 1);
    rb_ticket_done(L, t, n == 1, NULL);
    if (n == 1) report_simulation(L, t, 4, lua_gettop(L));
    return n;
}

/* client:request(method, path, {query, body, content_type, accept, timeout,
 *   simulate = fn | false}) -> {status, body, content_type, ms, planned?,
 *   dry_run?} | nil, err. Any HTTP status is a result; the Lua half turns
 *   Status answers into errors of kind "k8s". simulate = false marks a
 *   write the server cannot dry-run. GET is a read, every other method a
 *   write; the plan shows the verb of the method, the path and query as
 *   sent, and push_identity()'s fields. */
static int client_request(lua_State *L)
{
    client *c = check_client(L, 1);
    call k;
    memset(&k, 0, sizeof k);
    k.method = luaL_checkstring(L, 2);
    k.path = luaL_checkstring(L, 3);
    lua_settop(L, 4);
    if (lua_isnil(L, 4)) { lua_newtable(L); lua_replace(L, 4); }
    luaL_checktype(L, 4, LUA_TTABLE);
    read_call(L, 4, &k);                                /* 5..8: anchored options */
    const char *verb = verb_of(k.method);
    luaL_argcheck(L, verb != NULL, 2, "method must be GET, POST, PUT, PATCH or DELETE");
    luaL_argcheck(L, verb[0] != 'g' || !k.body, 4, "a GET carries no body");
    push_url(L, c, k.path, k.query);                    /* 9 url, 10 dry_url, 11 target */
    const char *url = lua_tostring(L, 9), *dry_url = lua_tostring(L, 10), *target = lua_tostring(L, 11);
    rb_effect effect = verb[0] == 'g' ? RB_READ : RB_WRITE;
    rb_action a = {"k8s", verb, target, push_identity(L, c, &k)};
    rb_ticket *t = rb_gate_open(L, &a, effect);
    if (rb_ticket_simulate(t)) return send_dry(L, c, &k, t, dry_url, target);
    return perform(L, c, &k, t, url, 0);
}

/* client:get_many({path, ...}) -> results, errs (each with n): GETs sent
 * concurrently on one libcurl multi batch (discovery: one round trip for
 * every API group instead of one each), each under its own read ticket, all
 * with one credential snapshot. results[i] is the response as
 * client:request returns it, or nil with errs[i] the transport error.
 * When credentials cannot be had, nothing is sent: nil, err. */
static int client_get_many(lua_State *L)
{
    client *c = check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    int n = (int)luaL_len(L, 2);
    luaL_argcheck(L, n <= 64, 2, "at most 64 paths");
    luaL_checkstack(L, 6 * n + 20, "too many paths");
    rb_http_req *reqs = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *reqs, 0);
    rb_http_resp *resps = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *resps, 0);
    rb_ticket **tickets = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *tickets, 0);
    static const char *const hdrs[] = {"Accept: application/json", "User-Agent: runbook-k8s/1.0", NULL};
    char err[512];
    rb_http_req base;
    if (prepare(L, c, &base, err, sizeof err) < 0) return rb_error_return(L, "auth", "k8s: %s", err);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 2, i + 1);
        const char *path = luaL_checkstring(L, -1);
        push_url(L, c, path, NULL);                     /* url, dry_url, target: anchored */
        rb_action a = {"k8s", "get", lua_tostring(L, -1), 0};
        tickets[i] = rb_gate_open(L, &a, RB_READ);
        reqs[i] = base;
        reqs[i].ticket = tickets[i];
        reqs[i].headers = hdrs;
        reqs[i].method = "GET";
        reqs[i].url = lua_tostring(L, -4);
    }
    rb_http_perform_many(reqs, resps, n);
    lua_createtable(L, n, 1);
    int res = lua_gettop(L);
    lua_createtable(L, 0, 1);
    int errs = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        int ok = resps[i].err_kind == RB_HTTP_OK;
        rb_ticket_done(L, tickets[i], ok && resps[i].status < 400, ok ? NULL : resps[i].err);
        if (ok) {
            push_response(L, &resps[i], 0);
            lua_rawseti(L, res, i + 1);
        } else {
            rb_error_push(L, rb_http_errkind_name(resps[i].err_kind), "k8s: GET %s: %s", reqs[i].url, resps[i].err);
            lua_rawseti(L, errs, i + 1);
        }
        rb_http_resp_free(&resps[i]);
    }
    lua_pushinteger(L, n);
    lua_setfield(L, res, "n");
    lua_pushinteger(L, n);
    lua_setfield(L, errs, "n");
    lua_pushvalue(L, res);
    lua_pushvalue(L, errs);
    return 2;
}

/* ---- exec over WebSocket -------------------------------------------------- */

static void push_exec_result(lua_State *L, const rb_k8s_ws_result *w)
{
    lua_createtable(L, 0, 5);
    lua_pushlstring(L, w->out ? w->out : "", w->out_len);
    lua_setfield(L, -2, "stdout");
    lua_pushlstring(L, w->err ? w->err : "", w->err_len);
    lua_setfield(L, -2, "stderr");
    lua_pushlstring(L, w->status ? w->status : "", w->status_len);
    lua_setfield(L, -2, "status_json");
    lua_pushstring(L, w->protocol);
    lua_setfield(L, -2, "protocol");
    lua_pushinteger(L, w->http_status);
    lua_setfield(L, -2, "http_status");
    if (w->http_body) { lua_pushstring(L, w->http_body); lua_setfield(L, -2, "body"); }
}

/* client:exec_ws(path, query, {stdin, timeout}) -> {stdout, stderr,
 * status_json, protocol, http_status, body?} | nil, err. A write (op
 * "exec", the WebSocket upgrade is a GET) that cannot be simulated: in plan
 * mode it returns {planned = true}. stdin is part of its identity. */
static int client_exec(lua_State *L)
{
    client *c = check_client(L, 1);
    call k = {.method = "GET", .path = luaL_checkstring(L, 2), .query = luaL_checkstring(L, 3)};
    lua_settop(L, 4);
    if (lua_isnil(L, 4)) { lua_newtable(L); lua_replace(L, 4); }
    luaL_checktype(L, 4, LUA_TTABLE);
    k.body = anchored(L, 4, "stdin", &k.body_len);      /* 5: stdin, anchored */
    lua_pushliteral(L, "timeout");
    lua_rawget(L, 4);
    long timeout_ms = (long)(luaL_optnumber(L, -1, 60) * 1000);
    lua_settop(L, 5);
    push_url(L, c, k.path, k.query);                    /* 6 url, 7 dry_url, 8 target */
    rb_action a = {"k8s", "exec", lua_tostring(L, 8), push_identity(L, c, &k)};
    rb_ticket *t = rb_gate_open(L, &a, RB_WRITE);
    if (rb_ticket_simulate(t)) return planned_unsimulated(L, t);
    char err[512];
    rb_http_req req;
    if (prepare(L, c, &req, err, sizeof err) < 0) return auth_failed(L, t, err);
    req.ticket = t;
    req.url = lua_tostring(L, 6);
    req.timeout_ms = timeout_ms;
    rb_k8s_ws_result w;
    int rc = rb_k8s_ws_exec(&req, k.body, k.body_len, &w);
    rb_ticket_done(L, t, rc == 0, rc == 0 ? NULL : w.errmsg);
    if (rc < 0) {
        int n = transport_error(L, "exec", req.url, w.err_kind, w.errmsg);
        rb_k8s_ws_result_free(&w);
        return n;
    }
    push_exec_result(L, &w);
    rb_k8s_ws_result_free(&w);
    return 1;
}

/* ---- small accessors ------------------------------------------------------ */

/* client:info() -> {server, context, namespace, user, in_cluster, insecure, auth, credential} */
static int client_info(lua_State *L)
{
    client *c = check_client(L, 1);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, c->server); lua_setfield(L, -2, "server");
    lua_pushstring(L, c->context); lua_setfield(L, -2, "context");
    lua_pushstring(L, c->namespace_); lua_setfield(L, -2, "namespace");
    if (c->user_name) { lua_pushstring(L, c->user_name); lua_setfield(L, -2, "user"); }
    lua_pushboolean(L, c->in_cluster); lua_setfield(L, -2, "in_cluster");
    lua_pushboolean(L, c->insecure); lua_setfield(L, -2, "insecure");
    const char *auth = c->exec ? "exec" : c->token_file ? "tokenFile" : c->token ? "token"
                     : (c->cert_file || c->cert_pem) ? "client-certificate" : c->username ? "basic" : "none";
    lua_pushstring(L, auth); lua_setfield(L, -2, "auth");
    lua_pushstring(L, c->cred_id); lua_setfield(L, -2, "credential");
    return 1;
}

/* client:target() -> "SERVER?context=CTX&namespace=NS": the label of plans and errors */
static int client_target(lua_State *L)
{
    client *c = check_client(L, 1);
    lua_pushfstring(L, "%s?context=%s&namespace=%s", c->server, c->context, c->namespace_);
    return 1;
}

/* client:close(): idempotent; a closed client raises when used */
static int client_close(lua_State *L)
{
    client *c = luaL_checkudata(L, 1, CLIENT_MT);
    if (!c->closed) client_free(c);
    return 0;
}

static int client_tostring(lua_State *L)
{
    client *c = luaL_checkudata(L, 1, CLIENT_MT);
    if (c->closed) lua_pushliteral(L, "rb.k8s.Client (closed)");
    else lua_pushfstring(L, "rb.k8s.Client (%s, %s, namespace %s)", c->context, c->server, c->namespace_);
    return 1;
}

/* _quantity("250m") -> 0.25, "1Gi" -> 1073741824 | nil (core/k8s_quantity.h) */
static int k8s_quantity(lua_State *L)
{
    double v;
    if (rb_k8s_quantity(luaL_checkstring(L, 1), &v) < 0) lua_pushnil(L);
    else lua_pushnumber(L, v);
    return 1;
}

static const luaL_Reg client_methods[] = {
    {"request", client_request}, {"get_many", client_get_many}, {"exec_ws", client_exec}, {"info", client_info},
    {"target", client_target}, {"close", client_close}, {NULL, NULL}
};

static const luaL_Reg k8slib[] = {
    {"_client", k8s_client}, {"_quantity", k8s_quantity}, {NULL, NULL}
};

int luaopen_rb_k8s(lua_State *L)
{
    luaL_newmetatable(L, CREDS_MT);
    lua_pushcfunction(L, creds_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, CLIENT_MT);
    luaL_newlib(L, client_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, client_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, client_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, client_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_newlib(L, k8slib);
    luaL_getmetatable(L, CLIENT_MT);
    lua_getfield(L, -1, "__index");
    lua_setfield(L, -3, "Client");
    lua_pop(L, 1);
    return 1;
}
