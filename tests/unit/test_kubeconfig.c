/* test_kubeconfig.c — core/kubeconfig.h: parsing every field kubectl reads,
 * relative-path and base64 handling, kubectl's checks when a context is
 * resolved, and KUBECONFIG merging (first file wins per name and for
 * current-context) over real files in a temporary directory; hostile input
 * (deep nesting, long lists, alias fan-out) rejected or parsed within a
 * second. */
#include "core/kubeconfig.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char full[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: lab\n"
    "clusters:\n"
    "- name: lab\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443\n"
    "    certificate-authority: certs/ca.crt\n"
    "    tls-server-name: kubernetes\n"
    "- name: data\n"
    "  cluster:\n"
    "    server: https://10.0.0.1\n"
    "    certificate-authority-data: LS0tLS1CRUdJTg==\n"
    "    proxy-url: http://127.0.0.1:3128\n"
    "- name: insecure\n"
    "  cluster: {server: 'https://h:1', insecure-skip-tls-verify: true}\n"
    "users:\n"
    "- name: tok\n"
    "  user: {token: s3cr3t-token}\n"
    "- name: file\n"
    "  user: {tokenFile: /var/run/token}\n"
    "- name: rel\n"
    "  user: {tokenFile: token.txt}\n"
    "- name: cert\n"
    "  user:\n"
    "    client-certificate-data: aGVsbG8=\n"
    "    client-key-data: |\n"
    "      a2V5\n"
    "      LWRhdGE=\n"
    "- name: plugin\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      command: ./bin/creds.sh\n"
    "      args: [get, --cluster, lab]\n"
    "      env:\n"
    "      - {name: MODE, value: test}\n"
    "      - {name: EMPTY}\n"
    "      provideClusterInfo: yes\n"
    "      interactiveMode: Never\n"
    "- name: onpath\n"
    "  user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}}\n"
    "- name: gcp\n"
    "  user: {auth-provider: {name: gcp, config: {cmd-path: gcloud}}}\n"
    "contexts:\n"
    "- name: lab\n"
    "  context: {cluster: lab, user: tok, namespace: tmi}\n"
    "- name: nons\n"
    "  context: {cluster: data, user: cert}\n"
    "- name: anon\n"
    "  context: {cluster: insecure}\n"
    "- name: plug\n"
    "  context: {cluster: lab, user: plugin}\n";

static int parse(const char *text, rb_kubeconfig *kc, char *err, size_t errlen)
{
    return rb_kubeconfig_parse(text, strlen(text), "/etc/kube", "test", kc, err, errlen);
}

static void test_fields(void)
{
    rb_kubeconfig kc;
    char err[256] = "";
    TAP_EQ_INT(parse(full, &kc, err, sizeof err), 0, "full kubeconfig parses");
    if (err[0]) printf("# %s\n", err);
    TAP_EQ_INT(kc.nclusters, 3, "3 clusters");
    TAP_EQ_INT(kc.nusers, 7, "7 users");
    TAP_EQ_INT(kc.ncontexts, 4, "4 contexts");
    TAP_EQ_STR(kc.current_context, "lab", "current-context");

    const rb_kube_cluster *c = rb_kubeconfig_cluster(&kc, "lab");
    TAP_OK(c != NULL, "cluster lab found");
    TAP_EQ_STR(c->server, "https://127.0.0.1:6443", "server");
    TAP_EQ_STR(c->certificate_authority, "/etc/kube/certs/ca.crt", "relative CA path anchored at the file's directory");
    TAP_EQ_STR(c->tls_server_name, "kubernetes", "tls-server-name");
    TAP_EQ_INT(c->insecure_skip_tls_verify, 0, "secure by default");
    c = rb_kubeconfig_cluster(&kc, "data");
    TAP_EQ_STR((const char *)c->certificate_authority_data.data, "-----BEGIN", "CA data base64-decoded");
    TAP_EQ_INT(c->certificate_authority_data.len, 10, "CA data length");
    TAP_EQ_STR(c->proxy_url, "http://127.0.0.1:3128", "proxy-url");
    TAP_EQ_INT(rb_kubeconfig_cluster(&kc, "insecure")->insecure_skip_tls_verify, 1, "insecure-skip-tls-verify");

    TAP_EQ_STR(rb_kubeconfig_user(&kc, "tok")->token, "s3cr3t-token", "token");
    TAP_EQ_STR(rb_kubeconfig_user(&kc, "file")->token_file, "/var/run/token", "absolute tokenFile kept");
    TAP_EQ_STR(rb_kubeconfig_user(&kc, "rel")->token_file, "/etc/kube/token.txt", "relative tokenFile anchored");
    const rb_kube_user *u = rb_kubeconfig_user(&kc, "cert");
    TAP_EQ_STR((const char *)u->client_certificate_data.data, "hello", "client-certificate-data decoded");
    TAP_EQ_STR((const char *)u->client_key_data.data, "key-data", "client-key-data decoded across lines");
    u = rb_kubeconfig_user(&kc, "plugin");
    TAP_EQ_INT(u->has_exec, 1, "exec plugin present");
    TAP_EQ_STR(u->exec.api_version, "client.authentication.k8s.io/v1", "exec apiVersion");
    TAP_EQ_STR(u->exec.command, "/etc/kube/./bin/creds.sh", "exec command with a slash is anchored");
    TAP_EQ_INT(u->exec.nargs, 3, "exec args");
    TAP_EQ_STR(u->exec.args[1], "--cluster", "exec arg order kept");
    TAP_EQ_INT(u->exec.nenv, 2, "exec env");
    TAP_EQ_STR(u->exec.env[0].value, "test", "exec env value");
    TAP_EQ_STR(u->exec.env[1].value, "", "exec env without value is empty");
    TAP_EQ_INT(u->exec.provide_cluster_info, 1, "provideClusterInfo (YAML 1.1 yes)");
    TAP_EQ_STR(u->exec.interactive_mode, "Never", "interactiveMode");
    TAP_EQ_STR(rb_kubeconfig_user(&kc, "onpath")->exec.command, "aws", "bare exec command left for PATH");
    TAP_EQ_STR(rb_kubeconfig_user(&kc, "gcp")->auth_provider, "gcp", "auth-provider name kept");
    TAP_EQ_STR(rb_kubeconfig_context(&kc, "lab")->namespace_, "tmi", "context namespace");
    TAP_OK(rb_kubeconfig_cluster(&kc, "nope") == NULL, "unknown cluster is NULL");
    rb_kubeconfig_free(&kc);
}

static void test_resolve(void)
{
    rb_kubeconfig kc;
    rb_kube_resolved r;
    char err[256];
    parse(full, &kc, err, sizeof err);
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, NULL, &r, err, sizeof err), 0, "current context resolves");
    TAP_EQ_STR(r.context->name, "lab", "current-context used");
    TAP_EQ_STR(r.cluster->name, "lab", "its cluster");
    TAP_EQ_STR(r.user->name, "tok", "its user");
    TAP_EQ_STR(r.namespace_, "tmi", "its namespace");
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, "nons", &r, err, sizeof err), 0, "--context wins");
    TAP_EQ_STR(r.namespace_, "default", "namespace defaults to default");
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, "anon", &r, err, sizeof err), 0, "context without a user");
    TAP_OK(r.user == NULL, "anonymous user is NULL");
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, "plug", &r, err, sizeof err), 0, "exec user resolves");
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, "missing", &r, err, sizeof err), -1, "unknown context fails");
    TAP_EQ_STR(err, "context \"missing\" does not exist", "kubectl's wording");
    rb_kubeconfig_free(&kc);
}

/* resolve_fails: the "x" context of text must fail with want in err. */
static void resolve_fails(const char *text, const char *want, const char *name)
{
    rb_kubeconfig kc;
    rb_kube_resolved r;
    char err[256] = "";
    int rc = parse(text, &kc, err, sizeof err);
    if (rc == 0) rc = rb_kubeconfig_resolve(&kc, "x", &r, err, sizeof err);
    TAP_OK(rc == -1 && strstr(err, want) != NULL, "%s", name);
    if (rc != -1 || !strstr(err, want)) printf("#   rc %d, err \"%s\", want \"%s\"\n", rc, err, want);
    rb_kubeconfig_free(&kc);
}

#define CTX "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
#define CL "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"

static void test_checks(void)
{
    resolve_fails(CL "users: [{name: u, user: {token: t}}]\n", "context \"x\" does not exist", "no such context");
    resolve_fails(CTX "users: [{name: u, user: {token: t}}]\n", "cluster \"c\" was not found for context \"x\"", "missing cluster");
    resolve_fails(CTX CL, "user \"u\" was not found for context \"x\"", "missing user");
    resolve_fails(CTX "clusters: [{name: c, cluster: {}}]\nusers: [{name: u}]\n", "no server found for cluster \"c\"", "cluster without server");
    resolve_fails(CTX "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: true, certificate-authority: /ca}}]\nusers: [{name: u}]\n",
                  "root certificates file with the insecure flag", "CA with insecure");
    resolve_fails(CTX "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: /ca, certificate-authority-data: YQ==}}]\nusers: [{name: u}]\n",
                  "both specified", "CA file and data");
    resolve_fails(CTX CL "users: [{name: u, user: {client-certificate: /c}}]\n", "client-key-data or client-key must be specified", "cert without key");
    resolve_fails(CTX CL "users: [{name: u, user: {client-key-data: YQ==}}]\n", "client-cert-data or client-cert must be specified", "key without cert");
    resolve_fails(CTX CL "users: [{name: u, user: {client-certificate: /c, client-certificate-data: YQ==, client-key: /k}}]\n",
                  "client-cert-data and client-cert are both specified", "cert file and data");
    resolve_fails(CTX CL "users: [{name: u, user: {token: t, username: a, password: b}}]\n", "more than one authentication method", "token and basic auth");
    resolve_fails(CTX CL "users: [{name: u, user: {exec: {command: x}}}]\n", "apiVersion must be specified", "exec without apiVersion");
    resolve_fails(CTX CL "users: [{name: u, user: {exec: {apiVersion: v1}}}]\n", "command must be specified", "exec without command");
    resolve_fails(CTX CL "users: [{name: u, user: {exec: {apiVersion: v1, command: x, interactiveMode: Sometimes}}}]\n", "invalid interactiveMode", "bad interactiveMode");
    resolve_fails(CTX "clusters: [{name: c, cluster: {server: 'ftp://h'}}]\nusers: [{name: u}]\n", "must be an http", "server not a URL");
    resolve_fails("contexts: [{name: x, context: {user: u}}]\n", "names no cluster", "context without cluster");
}

static void parse_fails(const char *text, const char *want, const char *name)
{
    rb_kubeconfig kc;
    char err[256] = "";
    int rc = parse(text, &kc, err, sizeof err);
    TAP_OK(rc == -1 && strstr(err, want) != NULL, "%s", name);
    if (rc != -1 || !strstr(err, want)) printf("#   rc %d, err \"%s\", want \"%s\"\n", rc, err, want);
    TAP_OK(kc.nclusters == 0 && kc.nusers == 0 && kc.clusters == NULL, "%s: config left empty", name);
}

static void test_parse_errors(void)
{
    parse_fails("- a\n- b\n", "must be a mapping", "top level list");
    parse_fails("clusters: [a: b\n", "YAML error at line", "YAML syntax error");
    parse_fails("clusters: {a: b}\n", "clusters must be a list", "clusters not a list");
    parse_fails("clusters: [{cluster: {server: x}}]\n", "clusters[0] has no name", "entry without name");
    parse_fails(CL "clusters: []\nusers: [{name: u}, {name: u}]\n", "duplicate name in users", "duplicate user");
    parse_fails("clusters: [{name: c, cluster: {server: [1]}}]\n", "server must be a string", "server not a string");
    parse_fails("clusters: [{name: c, cluster: {insecure-skip-tls-verify: maybe}}]\n", "must be true or false", "bad boolean");
    parse_fails("users: [{name: u, user: {token: s3cr3t-token, client-key-data: '!!!'}}]\n", "client-key-data is not valid base64", "bad base64");
    rb_kubeconfig kc;
    char err[256] = "";
    parse("users: [{name: u, user: {token: s3cr3t-token, client-key-data: '!!!'}}]\n", &kc, err, sizeof err);
    TAP_OK(strstr(err, "s3cr3t") == NULL, "errors never quote a token");
    parse_fails("users: [{name: u, user: {exec: {apiVersion: v1, command: x, args: {a: b}}}}]\n", "exec.args must be a list", "exec args not a list");
}

static void test_forms(void)
{
    rb_kubeconfig kc;
    char err[256];
    const char *json = "{\"apiVersion\":\"v1\",\"clusters\":[{\"name\":\"j\",\"cluster\":{\"server\":\"https://j\"}}],"
                       "\"current-context\":\"jc\",\"contexts\":[{\"name\":\"jc\",\"context\":{\"cluster\":\"j\"}}]}";
    TAP_EQ_INT(parse(json, &kc, err, sizeof err), 0, "JSON kubeconfig parses");
    TAP_EQ_STR(rb_kubeconfig_cluster(&kc, "j")->server, "https://j", "JSON cluster");
    rb_kubeconfig_free(&kc);
    TAP_EQ_INT(parse("", &kc, err, sizeof err), 0, "empty document is an empty config");
    TAP_OK(kc.ncontexts == 0 && kc.current_context == NULL, "nothing in it");
    rb_kubeconfig_free(&kc);
    TAP_EQ_INT(parse("current-context: ''\nclusters: ~\nusers:\n", &kc, err, sizeof err), 0, "null lists are empty");
    rb_kubeconfig_free(&kc);
    const char *anchors = "users:\n- name: a\n  user: &creds {token: shared}\n- name: b\n  user: *creds\n";
    TAP_EQ_INT(parse(anchors, &kc, err, sizeof err), 0, "anchors and aliases");
    TAP_EQ_STR(rb_kubeconfig_user(&kc, "b")->token, "shared", "alias resolved");
    rb_kubeconfig_free(&kc);
    const char *nobase = "users: [{name: u, user: {tokenFile: t}}]";
    TAP_EQ_INT(rb_kubeconfig_parse(nobase, strlen(nobase), NULL, NULL, &kc, err, sizeof err), 0, "no base dir");
    TAP_EQ_STR(kc.users[0].token_file, "t", "relative path kept without a base dir");
    rb_kubeconfig_free(&kc);
}

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_merge(void)
{
    rb_kubeconfig kc;
    rb_kube_resolved r;
    char err[256], list[512];
    strcpy(dir, "/tmp/rb-kubeconfig.XXXXXX");
    if (!mkdtemp(dir)) { TAP_OK(0, "mkdtemp"); return; }
    write_file("a", "current-context: ca\n"
                    "clusters: [{name: shared, cluster: {server: 'https://a', certificate-authority: ca.crt}}]\n"
                    "contexts: [{name: ca, context: {cluster: shared, user: ua}}]\n"
                    "users: [{name: ua, user: {token: ta}}]\n");
    write_file("b", "current-context: cb\n"
                    "clusters: [{name: shared, cluster: {server: 'https://b'}}, {name: onlyb, cluster: {server: 'https://ob'}}]\n"
                    "contexts: [{name: cb, context: {cluster: onlyb, user: ua, namespace: nb}}]\n"
                    "users: [{name: ua, user: {token: tb}}]\n");
    write_file("broken", "clusters: [\n");

    snprintf(list, sizeof list, "%s/a:%s/b", dir, dir);
    TAP_EQ_INT(rb_kubeconfig_load_list(list, &kc, err, sizeof err), 0, "a:b loads");
    TAP_EQ_STR(rb_kubeconfig_cluster(&kc, "shared")->server, "https://a", "first file wins for a cluster name");
    TAP_EQ_STR(rb_kubeconfig_user(&kc, "ua")->token, "ta", "first file wins for a user name");
    TAP_OK(rb_kubeconfig_cluster(&kc, "onlyb") != NULL, "names only in the second file are added");
    TAP_EQ_STR(kc.current_context, "ca", "first file wins for current-context");
    char want[128];
    snprintf(want, sizeof want, "%s/ca.crt", dir);
    TAP_EQ_STR(rb_kubeconfig_cluster(&kc, "shared")->certificate_authority, want, "paths anchored at their own file");
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, "cb", &r, err, sizeof err), 0, "context from the second file resolves");
    TAP_EQ_STR(r.user->token, "ta", "...with the first file's user of that name");
    rb_kubeconfig_free(&kc);

    snprintf(list, sizeof list, "::%s/nonexistent:%s/b:%s/a:%s/b", dir, dir, dir, dir);
    TAP_EQ_INT(rb_kubeconfig_load_list(list, &kc, err, sizeof err), 0, "missing files and empty entries skipped");
    TAP_EQ_STR(rb_kubeconfig_cluster(&kc, "shared")->server, "https://b", "b first now");
    TAP_EQ_STR(kc.current_context, "cb", "b's current-context");
    TAP_EQ_INT(kc.nclusters, 2, "repeated file merged once");
    rb_kubeconfig_free(&kc);

    snprintf(list, sizeof list, "%s/a:%s/broken", dir, dir);
    TAP_EQ_INT(rb_kubeconfig_load_list(list, &kc, err, sizeof err), -1, "a broken file in the list fails");
    TAP_OK(strstr(err, "/broken: YAML error") != NULL, "error names the file");
    TAP_OK(kc.nclusters == 0, "nothing half-loaded");

    snprintf(list, sizeof list, "%s/nonexistent", dir);
    TAP_EQ_INT(rb_kubeconfig_load(list, "ignored", NULL, &kc, err, sizeof err), -1, "--kubeconfig must exist");
    snprintf(list, sizeof list, "%s/b", dir);
    TAP_EQ_INT(rb_kubeconfig_load(list, "/nonexistent", NULL, &kc, err, sizeof err), 0, "--kubeconfig beats KUBECONFIG");
    TAP_EQ_STR(kc.current_context, "cb", "explicit file loaded");
    rb_kubeconfig_free(&kc);
    snprintf(list, sizeof list, "%s/a", dir);
    TAP_EQ_INT(rb_kubeconfig_load(NULL, list, "/nonexistent", &kc, err, sizeof err), 0, "KUBECONFIG beats HOME");
    TAP_EQ_STR(kc.current_context, "ca", "KUBECONFIG file loaded");
    rb_kubeconfig_free(&kc);
    char kube[128];
    snprintf(kube, sizeof kube, "%s/.kube", dir);
    mkdir(kube, 0700);
    write_file(".kube/config", "current-context: home\n");
    TAP_EQ_INT(rb_kubeconfig_load(NULL, "", dir, &kc, err, sizeof err), 0, "HOME/.kube/config");
    TAP_EQ_STR(kc.current_context, "home", "home config loaded");
    rb_kubeconfig_free(&kc);
    TAP_EQ_INT(rb_kubeconfig_load(NULL, NULL, "/nonexistent", &kc, err, sizeof err), 0, "no config at all is empty");
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, NULL, &r, err, sizeof err), -1, "...and resolving it fails");
    TAP_EQ_STR(err, "current-context is not set and no context was given", "with a clear reason");

    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
        TAP_EQ_INT(rb_kubeconfig_load_file("a", &kc, err, sizeof err), 0, "relative kubeconfig path");
        TAP_EQ_STR(rb_kubeconfig_cluster(&kc, "shared")->certificate_authority, want, "anchored at the cwd");
        rb_kubeconfig_free(&kc);
        if (chdir(cwd) != 0) TAP_OK(0, "chdir back");
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
}

static void test_in_cluster(void)
{
    rb_kubeconfig kc;
    rb_kube_resolved r;
    char err[256], root[64], path[256], want[256];
    strcpy(root, "/tmp/rb-incluster.XXXXXX");
    if (!mkdtemp(root)) { TAP_OK(0, "mkdtemp"); return; }
    TAP_EQ_INT(rb_kubeconfig_in_cluster("", "443", NULL, root, &kc, err, sizeof err), -1, "no KUBERNETES_SERVICE_HOST: not in a cluster");
    TAP_OK(strstr(err, "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset) and no kubeconfig: give --kubeconfig") != NULL, "says which variables");
    TAP_EQ_INT(rb_kubeconfig_in_cluster("10.96.0.1", "443", NULL, root, &kc, err, sizeof err), -1, "no token file fails");
    TAP_OK(strstr(err, "cannot read the service account token") != NULL, "says so");
    TAP_OK(kc.nclusters == 0, "nothing left behind");
    snprintf(path, sizeof path, "mkdir -p '%s/var/run/secrets/kubernetes.io/serviceaccount'", root);
    if (system(path) != 0) { TAP_OK(0, "mkdir"); return; }
    snprintf(path, sizeof path, "%s/var/run/secrets/kubernetes.io/serviceaccount/token", root);
    FILE *f = fopen(path, "w");
    fputs("sa-token\n", f);
    fclose(f);
    TAP_EQ_INT(rb_kubeconfig_in_cluster("10.96.0.1", "443", NULL, root, &kc, err, sizeof err), 0, "in-cluster config");
    TAP_EQ_INT(rb_kubeconfig_resolve(&kc, NULL, &r, err, sizeof err), 0, "it resolves");
    TAP_EQ_STR(r.cluster->server, "https://10.96.0.1:443", "server from host and port");
    snprintf(want, sizeof want, "%s/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", root);
    TAP_EQ_STR(r.cluster->certificate_authority, want, "service account CA");
    TAP_EQ_STR(r.user->token_file, path, "token as a file, re-read on use");
    TAP_EQ_STR(r.namespace_, "default", "no namespace file: default");
    rb_kubeconfig_free(&kc);
    snprintf(path, sizeof path, "%s/var/run/secrets/kubernetes.io/serviceaccount/namespace", root);
    f = fopen(path, "w");
    fputs("tmi\n", f);
    fclose(f);
    TAP_EQ_INT(rb_kubeconfig_in_cluster("fd00::1", "6443", NULL, root, &kc, err, sizeof err), 0, "IPv6 host");
    TAP_EQ_STR(kc.clusters[0].server, "https://[fd00::1]:6443", "IPv6 host bracketed");
    TAP_EQ_STR(kc.contexts[0].namespace_, "tmi", "namespace file read, newline trimmed");
    rb_kubeconfig_free(&kc);
    TAP_EQ_INT(rb_kubeconfig_in_cluster("h", "1", "from-env", root, &kc, err, sizeof err), 0, "POD_NAMESPACE given");
    TAP_EQ_STR(kc.contexts[0].namespace_, "from-env", "POD_NAMESPACE wins over the file");
    rb_kubeconfig_free(&kc);
    snprintf(path, sizeof path, "rm -rf '%s'", root);
    if (system(path) != 0) printf("# could not remove %s\n", root);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Parses buf[0..n), returns the seconds it took; *rc the result. */
static double timed_parse(const char *buf, size_t n, int *rc, char *err, size_t errlen)
{
    rb_kubeconfig kc;
    double t0 = seconds();
    *rc = rb_kubeconfig_parse(buf, n, NULL, "hostile", &kc, err, errlen);
    double dt = seconds() - t0;
    if (*rc == 0) rb_kubeconfig_free(&kc);
    return dt;
}

/* Sanitizer builds (make asan) run several times slower: smaller lists there. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#ifndef SLOW_BUILD
#define SLOW_BUILD 0
#endif

/* Linear time: what took 42 s (a deep list) is refused at once, and long
 * lists and alias fan-out stay within a second on 2 shared cores. */
static void test_hostile(void)
{
    enum { DEPTH = 200000, ITEMS = SLOW_BUILD ? 2500 : 10000, KEYS = 4000, ALIASES = 4000 };
    char *buf = malloc(64 * (size_t)DEPTH + 100), err[512];
    size_t o = 0;
    int rc;
    o += (size_t)sprintf(buf, "clusters: ");
    memset(buf + o, '[', DEPTH); o += DEPTH;
    memset(buf + o, ']', DEPTH); o += DEPTH;
    double dt = timed_parse(buf, o, &rc, err, sizeof err);
    TAP_OK(rc < 0 && strstr(err, "nested deeper than 32 levels"), "200000 nested flow lists refused (%s)", err);
    TAP_OK(dt < 1.0, "... within a second (%.3f s)", dt);

    o = (size_t)sprintf(buf, "users:\n");
    for (int i = 0; i < 40; i++) o += (size_t)sprintf(buf + o, "%*s- \n", i * 2, "");
    dt = timed_parse(buf, o, &rc, err, sizeof err);
    TAP_OK(rc < 0 && strstr(err, "nested deeper"), "40 nested block lists refused (%s)", err);

    o = (size_t)sprintf(buf, "clusters:\n");
    for (int i = 0; i < ITEMS; i++) o += (size_t)sprintf(buf + o, "- name: c%d\n  cluster: {server: 'https://h'}\n", i);
    o += (size_t)sprintf(buf + o, "users:\n- name: u\n  user:\n    exec:\n      command: x\n      args:\n");
    for (int i = 0; i < ITEMS; i++) o += (size_t)sprintf(buf + o, "      - a%d\n", i);
    dt = timed_parse(buf, o, &rc, err, sizeof err);
    TAP_EQ_INT(rc, 0, "10000 clusters and 10000 exec args parse (2500 in sanitizer builds)");
    TAP_OK(dt < 1.0, "... within a second (%.3f s)", dt);

    o = (size_t)sprintf(buf, "clusters:\n");
    for (int i = 0; i < ITEMS; i++) o += (size_t)sprintf(buf + o, "- name: same\n  cluster: {server: 'https://h'}\n");
    dt = timed_parse(buf, o, &rc, err, sizeof err);
    TAP_OK(rc < 0 && strstr(err, "duplicate name in clusters"), "10000 clusters of one name (2500 in sanitizer builds): duplicate (%s)", err);
    TAP_OK(dt < 1.0, "... found within a second (%.3f s)", dt);

    o = (size_t)sprintf(buf, "x: &big {");
    for (int i = 0; i < KEYS; i++) o += (size_t)sprintf(buf + o, "k%d: v, ", i);
    o += (size_t)sprintf(buf + o, "server: 'https://h'}\nclusters:\n");
    for (int i = 0; i < ALIASES; i++) o += (size_t)sprintf(buf + o, "- {name: c%d, cluster: *big}\n", i);
    dt = timed_parse(buf, o, &rc, err, sizeof err);
    TAP_OK(rc < 0 && strstr(err, "too many mapping entries"), "4000 aliases of a 4000-key mapping refused (%s)", err);
    TAP_OK(dt < 1.0, "... within a second (%.3f s)", dt);
    free(buf);
}

int main(void)
{
    test_fields();
    test_resolve();
    test_checks();
    test_parse_errors();
    test_forms();
    test_merge();
    test_in_cluster();
    test_hostile();
    return TAP_DONE();
}
