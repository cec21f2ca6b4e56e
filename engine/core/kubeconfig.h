/* kubeconfig.h — kubeconfig files parsed into structs (pure C on libyaml, no
 * Lua): clusters, users, contexts and current-context, merged over a
 * KUBECONFIG colon list the way kubectl merges it, and resolved to the
 * cluster, user and namespace of one context with kubectl's checks; also the
 * in-cluster (service account) configuration in the same structs.
 *
 *   clusters[].cluster: server, certificate-authority(-data),
 *       insecure-skip-tls-verify, tls-server-name, proxy-url
 *   users[].user: token, tokenFile, client-certificate(-data),
 *       client-key(-data), username/password, exec {apiVersion, command,
 *       args, env, installHint, provideClusterInfo, interactiveMode},
 *       auth-provider (its name only: not supported here)
 *   contexts[].context: cluster, user, namespace
 *
 * Relative file references (certificate-authority, client-certificate,
 * client-key, tokenFile, and an exec command that contains a '/') are made
 * absolute against the directory of the file they come from, as kubectl does.
 * *-data fields are base64-decoded. Strings are heap copies owned by the
 * rb_kubeconfig; rb_kubeconfig_free releases everything. Error texts name
 * fields and files, never a token, password or key. */
#ifndef RB_KUBECONFIG_H
#define RB_KUBECONFIG_H
#include <stddef.h>

typedef struct {
    unsigned char *data;    /* NULL when absent; NUL-terminated for convenience */
    size_t len;
} rb_kube_bytes;

typedef struct {
    char *name;
    char *server;
    char *certificate_authority;        /* absolute path or NULL */
    rb_kube_bytes certificate_authority_data;
    int insecure_skip_tls_verify;
    char *tls_server_name;
    char *proxy_url;
} rb_kube_cluster;

typedef struct {
    char *name, *value;
} rb_kube_env;

typedef struct {
    char *api_version;          /* client.authentication.k8s.io/v1 or v1beta1 */
    char *command;
    char **args;
    size_t nargs;
    rb_kube_env *env;
    size_t nenv;
    char *install_hint;
    int provide_cluster_info;
    char *interactive_mode;     /* Never | IfAvailable | Always, or NULL */
} rb_kube_exec;

typedef struct {
    char *name;
    char *token;
    char *token_file;                   /* absolute path or NULL */
    char *client_certificate;           /* absolute path or NULL */
    rb_kube_bytes client_certificate_data;
    char *client_key;                   /* absolute path or NULL */
    rb_kube_bytes client_key_data;
    char *username, *password;
    int has_exec;
    rb_kube_exec exec;
    char *auth_provider;                /* name of an auth-provider, or NULL */
} rb_kube_user;

typedef struct {
    char *name, *cluster, *user, *namespace_;
} rb_kube_context;

typedef struct {
    rb_kube_cluster *clusters;
    size_t nclusters;
    rb_kube_user *users;
    size_t nusers;
    rb_kube_context *contexts;
    size_t ncontexts;
    char *current_context;      /* NULL when no file sets it */
} rb_kubeconfig;

/* What a context resolves to; pointers into the rb_kubeconfig. */
typedef struct {
    const rb_kube_context *context;
    const rb_kube_cluster *cluster;
    const rb_kube_user *user;   /* NULL when the context names no user */
    const char *namespace_;     /* the context's, else "default" */
} rb_kube_resolved;

/* Parses one kubeconfig document (YAML or JSON) of len bytes into *kc, which
 * it initialises. base_dir anchors relative paths (NULL: left as written);
 * origin names the source in errors. An empty document is an empty config.
 * Returns 0, or -1 with *kc empty and a reason in err. */
int rb_kubeconfig_parse(const char *data, size_t len, const char *base_dir, const char *origin,
                        rb_kubeconfig *kc, char *err, size_t errlen);

/* Reads and parses one file (at most 16 MiB). A missing file is an error. */
int rb_kubeconfig_load_file(const char *path, rb_kubeconfig *kc, char *err, size_t errlen);

/* Moves into dst every cluster, user and context of src whose name dst does
 * not have yet, and src's current-context when dst has none: the first file
 * wins, per name and for current-context. src is left empty. Returns 0, or
 * -1 when out of memory (dst keeps what it had). */
int rb_kubeconfig_merge(rb_kubeconfig *dst, rb_kubeconfig *src);

/* Loads a KUBECONFIG value: colon-separated paths, empty entries and repeats
 * ignored, missing files skipped (as kubectl does), the rest merged in order.
 * Returns 0 (possibly an empty config) or -1 when a file cannot be read or
 * parsed. */
int rb_kubeconfig_load_list(const char *list, rb_kubeconfig *kc, char *err, size_t errlen);

/* kubectl's precedence: explicit (--kubeconfig; must exist), else the
 * KUBECONFIG list env_list when non-empty, else HOME/.kube/config when it
 * exists (home may be NULL), else an empty config. */
int rb_kubeconfig_load(const char *explicit_path, const char *env_list, const char *home,
                       rb_kubeconfig *kc, char *err, size_t errlen);

/* The in-cluster configuration of a pod, as client-go's InClusterConfig and
 * kubectl build it: server https://HOST:PORT (IPv6 bracketed) from
 * KUBERNETES_SERVICE_HOST/PORT (passed as host, port; either empty: not in a
 * cluster), CA ROOT/var/run/secrets/kubernetes.io/serviceaccount/ca.crt, the
 * token as tokenFile (re-read on use; it must be readable now), namespace
 * pod_namespace (POD_NAMESPACE) else the namespace file else "default". root
 * prefixes the paths (tests; NULL or "" for /). Fills *kc with cluster, user
 * and context "in-cluster", current. Returns 0 or -1 with a reason. */
int rb_kubeconfig_in_cluster(const char *host, const char *port, const char *pod_namespace, const char *root,
                             rb_kubeconfig *kc, char *err, size_t errlen);
/* The same with the service account directory itself (NULL or "": the
 * standard one); rb.k8s passes RUNBOOK_SA_ROOT here. */
int rb_kubeconfig_in_cluster_dir(const char *host, const char *port, const char *pod_namespace, const char *dir,
                                 rb_kubeconfig *kc, char *err, size_t errlen);

/* Picks context_name (NULL or "": current-context) and checks it as kubectl
 * does: the context, its cluster and its user must exist, the cluster needs a
 * server, a CA is not combined with insecure-skip-tls-verify, file and data
 * forms are not both given, and a user has one authentication method.
 * Returns 0 or -1 with a reason in err. */
int rb_kubeconfig_resolve(const rb_kubeconfig *kc, const char *context_name, rb_kube_resolved *out,
                          char *err, size_t errlen);

const rb_kube_cluster *rb_kubeconfig_cluster(const rb_kubeconfig *kc, const char *name);
const rb_kube_user *rb_kubeconfig_user(const rb_kubeconfig *kc, const char *name);
const rb_kube_context *rb_kubeconfig_context(const rb_kubeconfig *kc, const char *name);

void rb_kubeconfig_free(rb_kubeconfig *kc);
#endif
