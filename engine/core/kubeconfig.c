/* kubeconfig.c — kubeconfig parsing, merging and context resolution (see
 * kubeconfig.h). Uses libyaml's document loader (the whole file is a node
 * graph, anchors resolved) and walks it with a table of fields per struct;
 * file reading is plain stdio. No Lua. */
#include "core/kubeconfig.h"
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_FILE (16u << 20)

typedef struct {
    yaml_document_t *doc;
    const char *base_dir;
    const char *origin;
    char *err;
    size_t errlen;
    size_t budget;      /* mapping pairs left to look at (aliases can revisit a node) */
} walk;

#define MAX_DEPTH 32                    /* a kubeconfig is 6 levels deep */
#define BUDGET_PER_BYTE 16

static int failf(char *err, size_t errlen, const char *origin, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (origin) snprintf(err, errlen, "%s: %s", origin, msg);
    else snprintf(err, errlen, "%s", msg);
    return -1;
}

#define FAIL(w, ...) failf((w)->err, (w)->errlen, (w)->origin, __VA_ARGS__)

static char *dup_n(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* --- node access ---------------------------------------------------- */

static yaml_node_t *node_at(walk *w, yaml_node_item_t id)
{
    return yaml_document_get_node(w->doc, id);
}

/* YAML null: missing, or a plain scalar "", "~", "null". */
static int is_null(const yaml_node_t *n)
{
    if (!n) return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    return len == 0 || (len == 1 && s[0] == '~') || (len == 4 && strncasecmp(s, "null", 4) == 0);
}

/* Bounded by w->budget: once spent, every look-up finds nothing and
 * rb_kubeconfig_parse fails, so the walk stays linear in the input. */
static yaml_node_t *map_get(walk *w, const yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    size_t klen = strlen(key);
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        if (w->budget == 0) return NULL;
        w->budget--;
        yaml_node_t *k = node_at(w, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == klen &&
            memcmp(k->data.scalar.value, key, klen) == 0)
            return node_at(w, p->value);
    }
    return NULL;
}

static int want_scalar(walk *w, const yaml_node_t *n, const char *where, const char *key)
{
    if (n->type == YAML_SCALAR_NODE) return 0;
    return FAIL(w, "%s: %s must be a string", where, key);
}

/* --- field conversions ---------------------------------------------- */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with padding; whitespace (line breaks in the YAML) skipped. */
static int b64decode(const char *s, size_t n, rb_kube_bytes *out)
{
    unsigned char *buf = malloc(n / 4 * 3 + 4);
    size_t o = 0, q = 0, pad = 0;
    uint32_t acc = 0;
    if (!buf) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') { pad++; acc <<= 6; q++; }
        else {
            int v = b64val(c);
            if (v < 0 || pad) { free(buf); return -1; }
            acc = acc << 6 | (uint32_t)v;
            q++;
        }
        if (q == 4) {
            buf[o++] = (unsigned char)(acc >> 16);
            buf[o++] = (unsigned char)(acc >> 8);
            buf[o++] = (unsigned char)acc;
            acc = 0;
            q = 0;
        }
    }
    if (q != 0 || pad > 2) { free(buf); return -1; }
    o -= pad;
    buf[o] = '\0';
    out->data = buf;
    out->len = o;
    return 0;
}

static int parse_bool(const char *s, size_t n, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) { *out = 1; return 0; }
        if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) { *out = 0; return 0; }
    }
    return -1;
}

/* A file reference relative to the kubeconfig's directory becomes absolute. */
static char *resolve_path(const char *base_dir, const char *s, size_t n)
{
    if (!base_dir || n == 0 || s[0] == '/') return dup_n(s, n);
    size_t bl = strlen(base_dir);
    char *out = malloc(bl + 1 + n + 1);
    if (!out) return NULL;
    memcpy(out, base_dir, bl);
    out[bl] = '/';
    memcpy(out + bl + 1, s, n);
    out[bl + 1 + n] = '\0';
    return out;
}

enum kind { F_STR, F_PATH, F_CMD, F_B64, F_BOOL };

typedef struct {
    const char *key;
    size_t off;
    enum kind kind;
} field;

static int set_field(walk *w, void *base, const field *f, const yaml_node_t *n, const char *where)
{
    if (want_scalar(w, n, where, f->key) < 0) return -1;
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    void *slot = (char *)base + f->off;
    char *str = NULL;
    switch (f->kind) {
    case F_BOOL:
        if (parse_bool(s, len, (int *)slot) < 0) return FAIL(w, "%s: %s must be true or false", where, f->key);
        return 0;
    case F_B64:
        if (b64decode(s, len, (rb_kube_bytes *)slot) < 0) return FAIL(w, "%s: %s is not valid base64", where, f->key);
        return 0;
    case F_PATH:
        str = resolve_path(w->base_dir, s, len);
        break;
    case F_CMD: /* kubectl resolves a command only when it is a path */
        str = memchr(s, '/', len) ? resolve_path(w->base_dir, s, len) : dup_n(s, len);
        break;
    case F_STR:
        str = dup_n(s, len);
        break;
    }
    if (!str) return FAIL(w, "out of memory");
    *(char **)slot = str;
    return 0;
}

/* Fills base from the mapping m by the field table; null m is an empty one. */
static int fill(walk *w, void *base, const field *fs, size_t nf, const yaml_node_t *m, const char *where)
{
    if (is_null(m)) return 0;
    if (m->type != YAML_MAPPING_NODE) return FAIL(w, "%s must be a mapping", where);
    for (size_t i = 0; i < nf; i++) {
        yaml_node_t *v = map_get(w, m, fs[i].key);
        if (!is_null(v) && set_field(w, base, &fs[i], v, where) < 0) return -1;
    }
    return 0;
}

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const field cluster_fields[] = {
    {"server", offsetof(rb_kube_cluster, server), F_STR},
    {"certificate-authority", offsetof(rb_kube_cluster, certificate_authority), F_PATH},
    {"certificate-authority-data", offsetof(rb_kube_cluster, certificate_authority_data), F_B64},
    {"insecure-skip-tls-verify", offsetof(rb_kube_cluster, insecure_skip_tls_verify), F_BOOL},
    {"tls-server-name", offsetof(rb_kube_cluster, tls_server_name), F_STR},
    {"proxy-url", offsetof(rb_kube_cluster, proxy_url), F_STR},
};

static const field user_fields[] = {
    {"token", offsetof(rb_kube_user, token), F_STR},
    {"tokenFile", offsetof(rb_kube_user, token_file), F_PATH},
    {"client-certificate", offsetof(rb_kube_user, client_certificate), F_PATH},
    {"client-certificate-data", offsetof(rb_kube_user, client_certificate_data), F_B64},
    {"client-key", offsetof(rb_kube_user, client_key), F_PATH},
    {"client-key-data", offsetof(rb_kube_user, client_key_data), F_B64},
    {"username", offsetof(rb_kube_user, username), F_STR},
    {"password", offsetof(rb_kube_user, password), F_STR},
};

static const field exec_fields[] = {
    {"apiVersion", offsetof(rb_kube_exec, api_version), F_STR},
    {"command", offsetof(rb_kube_exec, command), F_CMD},
    {"installHint", offsetof(rb_kube_exec, install_hint), F_STR},
    {"provideClusterInfo", offsetof(rb_kube_exec, provide_cluster_info), F_BOOL},
    {"interactiveMode", offsetof(rb_kube_exec, interactive_mode), F_STR},
};

static const field context_fields[] = {
    {"cluster", offsetof(rb_kube_context, cluster), F_STR},
    {"user", offsetof(rb_kube_context, user), F_STR},
    {"namespace", offsetof(rb_kube_context, namespace_), F_STR},
};

/* --- freeing ---------------------------------------------------------- */

static void free_cluster(void *p)
{
    rb_kube_cluster *c = p;
    free(c->name); free(c->server); free(c->certificate_authority);
    free(c->certificate_authority_data.data); free(c->tls_server_name); free(c->proxy_url);
}

static void free_user(void *p)
{
    rb_kube_user *u = p;
    free(u->name); free(u->token); free(u->token_file); free(u->client_certificate);
    free(u->client_certificate_data.data); free(u->client_key); free(u->client_key_data.data);
    free(u->username); free(u->password); free(u->auth_provider);
    rb_kube_exec *e = &u->exec;
    free(e->api_version); free(e->command); free(e->install_hint); free(e->interactive_mode);
    for (size_t i = 0; i < e->nargs; i++) free(e->args[i]);
    free(e->args);
    for (size_t i = 0; i < e->nenv; i++) { free(e->env[i].name); free(e->env[i].value); }
    free(e->env);
}

static void free_context(void *p)
{
    rb_kube_context *c = p;
    free(c->name); free(c->cluster); free(c->user); free(c->namespace_);
}

static void free_array(void *arr, size_t n, size_t size, void (*free_one)(void *))
{
    for (size_t i = 0; i < n; i++) free_one((char *)arr + i * size);
    free(arr);
}

void rb_kubeconfig_free(rb_kubeconfig *kc)
{
    free_array(kc->clusters, kc->nclusters, sizeof *kc->clusters, free_cluster);
    free_array(kc->users, kc->nusers, sizeof *kc->users, free_user);
    free_array(kc->contexts, kc->ncontexts, sizeof *kc->contexts, free_context);
    free(kc->current_context);
    memset(kc, 0, sizeof *kc);
}

/* --- named lists -------------------------------------------------------- */

/* Every entry struct starts with its char *name. */
static void *find_named(const void *arr, size_t n, size_t size, const char *name)
{
    for (size_t i = 0; name && i < n; i++) {
        const char *const *nm = (const char *const *)((const char *)arr + i * size);
        if (*nm && strcmp(*nm, name) == 0) return (void *)nm;
    }
    return NULL;
}

/* Appends a zeroed element; NULL when out of memory. Capacity doubles (it is
 * the next power of two of *n, so it need not be stored): linear time. */
static void *append(void **arr, size_t *n, size_t size)
{
    if ((*n & (*n - 1)) == 0) {             /* 0 or a power of two: full */
        void *grown = realloc(*arr, (*n ? *n * 2 : 1) * size);
        if (!grown) return NULL;
        *arr = grown;
    }
    void *grown = *arr;
    void *elem = (char *)grown + *n * size;
    memset(elem, 0, size);
    (*n)++;
    return elem;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of arr[0..n) (each element starts with its char *name), sorted:
 * a malloc'd array, or NULL when out of memory. */
static const char **sorted_names(const void *arr, size_t n, size_t size)
{
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) return NULL;
    for (size_t i = 0; i < n; i++) names[i] = *(const char *const *)((const char *)arr + i * size);
    qsort(names, n, sizeof *names, cmp_name);
    return names;
}

static const char nomem_[1];
#define NOMEM nomem_

/* A name that two elements share, NULL when none, NOMEM when out of memory:
 * sorted, so O(n log n) where a pairwise check would be quadratic. */
static const char *duplicate_name(const void *arr, size_t n, size_t size)
{
    const char **names = sorted_names(arr, n, size);
    if (!names) return NOMEM;
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0) dup = names[i];
    free(names);
    return dup;
}

typedef int (*entry_fn)(walk *w, void *elem, const yaml_node_t *body, const char *where);

static int parse_cluster(walk *w, void *elem, const yaml_node_t *body, const char *where)
{
    return fill(w, elem, cluster_fields, NFIELDS(cluster_fields), body, where);
}

static int parse_context(walk *w, void *elem, const yaml_node_t *body, const char *where)
{
    return fill(w, elem, context_fields, NFIELDS(context_fields), body, where);
}

static int parse_exec_args(walk *w, rb_kube_exec *e, const yaml_node_t *seq, const char *where)
{
    if (is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE) return FAIL(w, "%s: exec.args must be a list", where);
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *a = node_at(w, *it);
        if (!a || want_scalar(w, a, where, "exec.args[]") < 0) return -1;
        char **slot = append((void **)&e->args, &e->nargs, sizeof *e->args);
        if (!slot || !(*slot = dup_n((const char *)a->data.scalar.value, a->data.scalar.length)))
            return FAIL(w, "out of memory");
    }
    return 0;
}

static int parse_exec_env(walk *w, rb_kube_exec *e, const yaml_node_t *seq, const char *where)
{
    if (is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE) return FAIL(w, "%s: exec.env must be a list", where);
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(w, *it), *nm = map_get(w, item, "name"), *val = map_get(w, item, "value");
        if (is_null(nm) || want_scalar(w, nm, where, "exec.env[].name") < 0)
            return FAIL(w, "%s: exec.env entries need a name", where);
        rb_kube_env *env = append((void **)&e->env, &e->nenv, sizeof *e->env);
        if (!env) return FAIL(w, "out of memory");
        env->name = dup_n((const char *)nm->data.scalar.value, nm->data.scalar.length);
        if (!is_null(val)) {
            if (want_scalar(w, val, where, "exec.env[].value") < 0) return -1;
            env->value = dup_n((const char *)val->data.scalar.value, val->data.scalar.length);
        } else {
            env->value = dup_n("", 0);
        }
        if (!env->name || !env->value) return FAIL(w, "out of memory");
    }
    return 0;
}

static int parse_user(walk *w, void *elem, const yaml_node_t *body, const char *where)
{
    rb_kube_user *u = elem;
    if (fill(w, u, user_fields, NFIELDS(user_fields), body, where) < 0) return -1;
    yaml_node_t *ex = map_get(w, body, "exec"), *ap = map_get(w, body, "auth-provider");
    if (!is_null(ex)) {
        u->has_exec = 1;
        if (fill(w, &u->exec, exec_fields, NFIELDS(exec_fields), ex, where) < 0 ||
            parse_exec_args(w, &u->exec, map_get(w, ex, "args"), where) < 0 ||
            parse_exec_env(w, &u->exec, map_get(w, ex, "env"), where) < 0)
            return -1;
    }
    if (!is_null(ap)) {
        yaml_node_t *nm = map_get(w, ap, "name");
        u->auth_provider = !is_null(nm) && nm->type == YAML_SCALAR_NODE
            ? dup_n((const char *)nm->data.scalar.value, nm->data.scalar.length) : dup_n("unnamed", 7);
        if (!u->auth_provider) return FAIL(w, "out of memory");
    }
    return 0;
}

/* Parses root[list] = [{name, inner: {...}}, ...] into *arr. */
static int parse_list(walk *w, const yaml_node_t *root, const char *list, const char *inner,
                      void **arr, size_t *n, size_t size, entry_fn fn)
{
    yaml_node_t *seq = map_get(w, root, list);
    if (is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE) return FAIL(w, "%s must be a list", list);
    size_t idx = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++, idx++) {
        yaml_node_t *item = node_at(w, *it), *nm = map_get(w, item, "name");
        char where[300];
        if (!item || item->type != YAML_MAPPING_NODE) return FAIL(w, "%s[%zu] must be a mapping", list, idx);
        if (is_null(nm) || nm->type != YAML_SCALAR_NODE) return FAIL(w, "%s[%zu] has no name", list, idx);
        snprintf(where, sizeof where, "%s \"%.*s\"", inner, (int)(nm->data.scalar.length > 200 ? 200 : nm->data.scalar.length),
                 (const char *)nm->data.scalar.value);
        char *name = dup_n((const char *)nm->data.scalar.value, nm->data.scalar.length);
        if (!name) return FAIL(w, "out of memory");
        char **elem = append(arr, n, size);
        if (!elem) { free(name); return FAIL(w, "out of memory"); }
        *elem = name;
        if (fn(w, elem, map_get(w, item, inner), where) < 0) return -1;
    }
    const char *dup = duplicate_name(*arr, *n, size);
    if (dup == NOMEM) return FAIL(w, "out of memory");
    if (dup) return FAIL(w, "duplicate name in %s: %s \"%.200s\"", list, inner, dup);
    return 0;
}

static int parse_root(walk *w, const yaml_node_t *root, rb_kubeconfig *kc)
{
    if (root->type != YAML_MAPPING_NODE) return FAIL(w, "a kubeconfig must be a mapping");
    yaml_node_t *cur = map_get(w, root, "current-context");
    if (!is_null(cur)) {
        if (want_scalar(w, cur, "config", "current-context") < 0) return -1;
        if (!(kc->current_context = dup_n((const char *)cur->data.scalar.value, cur->data.scalar.length)))
            return FAIL(w, "out of memory");
    }
    if (parse_list(w, root, "clusters", "cluster", (void **)&kc->clusters, &kc->nclusters,
                   sizeof *kc->clusters, parse_cluster) < 0 ||
        parse_list(w, root, "users", "user", (void **)&kc->users, &kc->nusers,
                   sizeof *kc->users, parse_user) < 0 ||
        parse_list(w, root, "contexts", "context", (void **)&kc->contexts, &kc->ncontexts,
                   sizeof *kc->contexts, parse_context) < 0)
        return -1;
    return 0;
}

/* A first pass over the events: nesting deeper than MAX_DEPTH is refused
 * before libyaml's loader sees it (its scanner does work per open flow
 * level for every token, which deep nesting makes quadratic). Stops at the
 * first level too deep, so it reads at most MAX_DEPTH levels' worth. */
static int check_depth(const char *data, size_t len, const char *origin, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&parser)) return failf(err, errlen, origin, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    for (int done = 0; !done && rc == 0;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = failf(err, errlen, origin, "YAML error at line %zu: %s", parser.problem_mark.line + 1,
                       parser.problem ? parser.problem : "unknown");
            break;
        }
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) depth++;
        else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) depth--;
        if (depth > MAX_DEPTH)
            rc = failf(err, errlen, origin, "nested deeper than %d levels at line %zu (a kubeconfig is not)",
                       MAX_DEPTH, ev.start_mark.line + 1);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int rb_kubeconfig_parse(const char *data, size_t len, const char *base_dir, const char *origin,
                        rb_kubeconfig *kc, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    walk w = {&doc, base_dir, origin, err, errlen, BUDGET_PER_BYTE * len + 4096};
    memset(kc, 0, sizeof *kc);
    if (check_depth(data, len, origin, err, errlen) < 0) return -1;
    if (!yaml_parser_initialize(&parser)) return failf(err, errlen, origin, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        failf(err, errlen, origin, "YAML error at line %zu: %s", parser.problem_mark.line + 1,
              parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = is_null(root) ? 0 : parse_root(&w, root, kc);
    if (w.budget == 0)   /* whatever else failed, this is why */
        rc = FAIL(&w, "too many mapping entries to look at (aliases?): more than %d per input byte", BUDGET_PER_BYTE);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0) rb_kubeconfig_free(kc);
    return rc;
}

/* --- files -------------------------------------------------------------- */

/* Absolute directory of path, as kubectl anchors relative references. */
static char *dir_of(const char *path)
{
    char cwd[4096];
    const char *slash = strrchr(path, '/');
    if (path[0] == '/') return dup_n(path, slash == path ? 1 : (size_t)(slash - path));
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    if (!slash) return dup_n(cwd, strlen(cwd));
    char *rel = dup_n(path, (size_t)(slash - path));
    char *out = rel ? resolve_path(cwd, rel, strlen(rel)) : NULL;
    free(rel);
    return out;
}

int rb_kubeconfig_load_file(const char *path, rb_kubeconfig *kc, char *err, size_t errlen)
{
    memset(kc, 0, sizeof *kc);
    FILE *f = fopen(path, "rb");
    if (!f) return failf(err, errlen, path, "%s", strerror(errno));
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > MAX_FILE) {
        free(buf);
        return failf(err, errlen, path, !buf ? "out of memory" : bad ? "read error" : "larger than 16 MiB");
    }
    char *dir = dir_of(path);
    int rc = dir ? rb_kubeconfig_parse(buf, n, dir, path, kc, err, errlen) : failf(err, errlen, path, "cannot resolve its directory");
    free(dir);
    free(buf);
    return rc;
}

/* Names in src are unique (parse_list checks), so only dst's names, sorted
 * once and searched in O(log n), decide: merging stays O(n log n). */
static int move_entries(void **dst, size_t *dn, void **src, size_t *sn, size_t size, void (*free_one)(void *))
{
    size_t had = *dn;
    const char **names = sorted_names(*dst, had, size);
    int rc = names ? 0 : -1;
    for (size_t i = 0; i < *sn; i++) {
        char *elem = (char *)*src + i * size;
        void *slot = NULL;
        int taken = !names || (had && bsearch(elem, names, had, sizeof *names, cmp_name));
        if (!taken && !(slot = append(dst, dn, size)))
            rc = -1;
        if (slot) memcpy(slot, elem, size);
        else free_one(elem); /* an earlier file has this name: it wins */
    }
    free(names);
    free(*src);
    *src = NULL;
    *sn = 0;
    return rc;
}

int rb_kubeconfig_merge(rb_kubeconfig *dst, rb_kubeconfig *src)
{
    int rc = 0;
    rc |= move_entries((void **)&dst->clusters, &dst->nclusters, (void **)&src->clusters, &src->nclusters,
                       sizeof *dst->clusters, free_cluster);
    rc |= move_entries((void **)&dst->users, &dst->nusers, (void **)&src->users, &src->nusers,
                       sizeof *dst->users, free_user);
    rc |= move_entries((void **)&dst->contexts, &dst->ncontexts, (void **)&src->contexts, &src->ncontexts,
                       sizeof *dst->contexts, free_context);
    if (!dst->current_context && src->current_context && src->current_context[0]) {
        dst->current_context = src->current_context;
        src->current_context = NULL;
    }
    rb_kubeconfig_free(src);
    return rc ? -1 : 0;
}

/* Merges path into kc; a missing file is skipped when skip_missing. */
static int merge_file(rb_kubeconfig *kc, const char *path, int skip_missing, char *err, size_t errlen)
{
    struct stat st;
    rb_kubeconfig one;
    if (skip_missing && stat(path, &st) != 0 && errno == ENOENT) return 0;
    if (rb_kubeconfig_load_file(path, &one, err, errlen) < 0) return -1;
    if (rb_kubeconfig_merge(kc, &one) < 0) return failf(err, errlen, path, "out of memory");
    return 0;
}

int rb_kubeconfig_load_list(const char *list, rb_kubeconfig *kc, char *err, size_t errlen)
{
    memset(kc, 0, sizeof *kc);
    char *copy = dup_n(list, strlen(list));
    if (!copy) return failf(err, errlen, NULL, "out of memory");
    int rc = 0;
    for (char *p = copy, *next; p && rc == 0; p = next) {
        char *colon = strchr(p, ':');
        next = colon ? colon + 1 : NULL;
        if (colon) *colon = '\0';
        if (!*p) continue;
        int seen = 0; /* an earlier occurrence already merged this file */
        for (char *q = copy; q < p; q += strlen(q) + 1)
            seen = seen || strcmp(q, p) == 0;
        if (!seen) rc = merge_file(kc, p, 1, err, errlen);
    }
    free(copy);
    if (rc < 0) rb_kubeconfig_free(kc);
    return rc;
}

int rb_kubeconfig_load(const char *explicit_path, const char *env_list, const char *home,
                       rb_kubeconfig *kc, char *err, size_t errlen)
{
    if (explicit_path && *explicit_path) return rb_kubeconfig_load_file(explicit_path, kc, err, errlen);
    if (env_list && *env_list) return rb_kubeconfig_load_list(env_list, kc, err, errlen);
    memset(kc, 0, sizeof *kc);
    if (!home || !*home) return 0;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/.kube/config", home) >= sizeof path)
        return failf(err, errlen, NULL, "HOME is too long");
    return merge_file(kc, path, 1, err, errlen);
}

/* --- in-cluster ---------------------------------------------------------- */

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* The first line of a small file, trimmed; NULL when unreadable or empty. */
static char *read_small(const char *path)
{
    char buf[512];
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) n--;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] ? dup_n(buf, strlen(buf)) : NULL;
}

static char *sa_path(const char *dir, const char *file)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path) return NULL;
    return dup_n(path, strlen(path));
}

static int fill_in_cluster(const char *host, const char *port, const char *pod_namespace, const char *dir,
                           rb_kubeconfig *kc, char *err, size_t errlen)
{
    rb_kube_cluster *c = append((void **)&kc->clusters, &kc->nclusters, sizeof *c);
    rb_kube_user *u = c ? append((void **)&kc->users, &kc->nusers, sizeof *u) : NULL;
    rb_kube_context *x = u ? append((void **)&kc->contexts, &kc->ncontexts, sizeof *x) : NULL;
    if (!x) return failf(err, errlen, "in-cluster", "out of memory");
    size_t len = strlen(host) + strlen(port) + 16;
    if (!(c->server = malloc(len))) return failf(err, errlen, "in-cluster", "out of memory");
    snprintf(c->server, len, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    c->name = dup_n("in-cluster", 10);
    c->certificate_authority = sa_path(dir, "ca.crt");
    u->name = dup_n("in-cluster", 10);
    u->token_file = sa_path(dir, "token");
    x->name = dup_n("in-cluster", 10);
    x->cluster = dup_n("in-cluster", 10);
    x->user = dup_n("in-cluster", 10);
    kc->current_context = dup_n("in-cluster", 10);
    if (pod_namespace && *pod_namespace) {
        x->namespace_ = dup_n(pod_namespace, strlen(pod_namespace));
    } else {
        char *nsfile = sa_path(dir, "namespace");
        x->namespace_ = nsfile ? read_small(nsfile) : NULL;
        free(nsfile);
        if (!x->namespace_) x->namespace_ = dup_n("default", 7);
    }
    if (!c->name || !c->certificate_authority || !u->name || !u->token_file || !x->name || !x->cluster ||
        !x->user || !x->namespace_ || !kc->current_context)
        return failf(err, errlen, "in-cluster", "out of memory");
    /* the token is read on each use (it is rotated); here only check it is there */
    FILE *f = fopen(u->token_file, "r");
    int empty = !f || fgetc(f) == EOF;
    if (f) fclose(f);
    if (empty) return failf(err, errlen, "in-cluster", "cannot read the service account token %s", u->token_file);
    return 0;
}

int rb_kubeconfig_in_cluster_dir(const char *host, const char *port, const char *pod_namespace, const char *dir,
                                 rb_kubeconfig *kc, char *err, size_t errlen)
{
    memset(kc, 0, sizeof *kc);
    if (!host || !*host || !port || !*port)
        return failf(err, errlen, NULL, "not in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset) and no kubeconfig: give --kubeconfig or the config's kubeconfig, or set KUBECONFIG or ~/.kube/config");
    if (fill_in_cluster(host, port, pod_namespace, dir && *dir ? dir : SA_DIR, kc, err, errlen) < 0) {
        rb_kubeconfig_free(kc);
        return -1;
    }
    return 0;
}

int rb_kubeconfig_in_cluster(const char *host, const char *port, const char *pod_namespace, const char *root,
                             rb_kubeconfig *kc, char *err, size_t errlen)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s" SA_DIR, root && strcmp(root, "/") != 0 ? root : "") >= sizeof dir) {
        memset(kc, 0, sizeof *kc);
        return failf(err, errlen, "in-cluster", "service account path too long");
    }
    return rb_kubeconfig_in_cluster_dir(host, port, pod_namespace, dir, kc, err, errlen);
}

/* --- lookup and resolution ------------------------------------------------ */

const rb_kube_cluster *rb_kubeconfig_cluster(const rb_kubeconfig *kc, const char *name)
{
    return find_named(kc->clusters, kc->nclusters, sizeof *kc->clusters, name);
}

const rb_kube_user *rb_kubeconfig_user(const rb_kubeconfig *kc, const char *name)
{
    return find_named(kc->users, kc->nusers, sizeof *kc->users, name);
}

const rb_kube_context *rb_kubeconfig_context(const rb_kubeconfig *kc, const char *name)
{
    return find_named(kc->contexts, kc->ncontexts, sizeof *kc->contexts, name);
}

static int check_cluster(const rb_kube_cluster *c, char *err, size_t errlen)
{
    if (!c->server || !*c->server) return failf(err, errlen, NULL, "no server found for cluster \"%s\"", c->name);
    if (strncmp(c->server, "https://", 8) != 0 && strncmp(c->server, "http://", 7) != 0)
        return failf(err, errlen, NULL, "cluster \"%s\": server must be an http:// or https:// URL", c->name);
    if (c->insecure_skip_tls_verify && (c->certificate_authority || c->certificate_authority_data.data))
        return failf(err, errlen, NULL, "cluster \"%s\": specifying a root certificates file with the insecure flag is not allowed", c->name);
    if (c->certificate_authority && c->certificate_authority_data.data)
        return failf(err, errlen, NULL, "certificate-authority-data and certificate-authority are both specified for %s", c->name);
    return 0;
}

static int check_exec(const rb_kube_user *u, char *err, size_t errlen)
{
    const rb_kube_exec *e = &u->exec;
    if (!e->command || !*e->command)
        return failf(err, errlen, NULL, "command must be specified for %s to use exec authentication plugin", u->name);
    if (!e->api_version || !*e->api_version)
        return failf(err, errlen, NULL, "apiVersion must be specified for %s to use exec authentication plugin", u->name);
    if (e->interactive_mode && strcmp(e->interactive_mode, "Never") != 0 &&
        strcmp(e->interactive_mode, "IfAvailable") != 0 && strcmp(e->interactive_mode, "Always") != 0)
        return failf(err, errlen, NULL, "invalid interactiveMode for %s: must be Never, IfAvailable or Always", u->name);
    return 0;
}

static int check_user(const rb_kube_user *u, char *err, size_t errlen)
{
    int cert = u->client_certificate || u->client_certificate_data.data;
    int key = u->client_key || u->client_key_data.data;
    if (u->client_certificate && u->client_certificate_data.data)
        return failf(err, errlen, NULL, "client-cert-data and client-cert are both specified for %s", u->name);
    if (u->client_key && u->client_key_data.data)
        return failf(err, errlen, NULL, "client-key-data and client-key are both specified for %s", u->name);
    if (cert && !key)
        return failf(err, errlen, NULL, "client-key-data or client-key must be specified for %s to use the clientCert authentication method", u->name);
    if (key && !cert)
        return failf(err, errlen, NULL, "client-cert-data or client-cert must be specified for %s to use the clientCert authentication method", u->name);
    if ((u->token || u->token_file) && (u->username || u->password))
        return failf(err, errlen, NULL, "more than one authentication method found for %s; found [token basicAuth], only one is allowed", u->name);
    if (u->has_exec) return check_exec(u, err, errlen);
    return 0;
}

int rb_kubeconfig_resolve(const rb_kubeconfig *kc, const char *context_name, rb_kube_resolved *out,
                          char *err, size_t errlen)
{
    const char *name = context_name && *context_name ? context_name : kc->current_context;
    memset(out, 0, sizeof *out);
    if (!name || !*name) return failf(err, errlen, NULL, "current-context is not set and no context was given");
    const rb_kube_context *ctx = rb_kubeconfig_context(kc, name);
    if (!ctx) return failf(err, errlen, NULL, "context \"%s\" does not exist", name);
    if (!ctx->cluster) return failf(err, errlen, NULL, "context \"%s\" names no cluster", name);
    const rb_kube_cluster *cl = rb_kubeconfig_cluster(kc, ctx->cluster);
    if (!cl) return failf(err, errlen, NULL, "cluster \"%s\" was not found for context \"%s\"", ctx->cluster, name);
    if (check_cluster(cl, err, errlen) < 0) return -1;
    const rb_kube_user *u = NULL;
    if (ctx->user) {
        if (!(u = rb_kubeconfig_user(kc, ctx->user)))
            return failf(err, errlen, NULL, "user \"%s\" was not found for context \"%s\"", ctx->user, name);
        if (check_user(u, err, errlen) < 0) return -1;
    }
    out->context = ctx;
    out->cluster = cl;
    out->user = u;
    out->namespace_ = ctx->namespace_ && *ctx->namespace_ ? ctx->namespace_ : "default";
    return 0;
}
