/* k8s_url.h — the URL of a Kubernetes API request, built by parsing (libcurl's
 * URL API, CURLU), never by pasting strings. Plain C, no Lua.
 *
 * A caller's path must start with '/', and may not hold '#' (a fragment is
 * never sent: whatever followed it, dryRun=All included, would vanish), '?'
 * (the query is its own argument), a space or control character, nor a '.'
 * or '..' segment (the server would resolve it to another object than the one
 * shown). The query may not hold '#', '?', a space or a control character.
 * dryRun=All is appended with CURLU_APPENDQUERY and verified on the final URL:
 * rb_k8s_url_is_dry() is what a binding checks before sending a planned write. */
#ifndef RB_K8S_URL_H
#define RB_K8S_URL_H
#include <stddef.h>

typedef struct {
    char *url;      /* server + path + query, canonical (what apply sends) */
    char *target;   /* path[?query] of url: the request's identity beside the server */
    char *dry_url;  /* url with dryRun=All appended (what plan sends, once rb_k8s_url_is_dry holds:
                       a caller's own dryRun parameter makes it fail) */
} rb_k8s_url;

/* server: the cluster's base URL (http or https, no query, fragment or
 * userinfo; a path prefix is kept). query: percent-encoded, or NULL/"".
 * Returns 0, or -1 with err naming what is wrong (and *out empty). */
int rb_k8s_url_build(const char *server, const char *path, const char *query, rb_k8s_url *out,
                     char *err, size_t errlen);

/* 1 when url parses, has no fragment, and its query has a dryRun parameter
 * and every dryRun parameter (names percent-decoded) is exactly "All". */
int rb_k8s_url_is_dry(const char *url);

void rb_k8s_url_free(rb_k8s_url *u);
#endif
