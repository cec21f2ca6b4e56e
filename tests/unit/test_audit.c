/* test_audit.c — the audit chain: append, verify, and each way a log can be
 * damaged (altered, deleted, reordered, truncated lines), plus concurrent
 * appenders from separate processes keeping one valid chain. */
#include "audit.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/rb-test-audit.XXXXXX";

static void path_of(char *out, const char *name) { snprintf(out, 512, "%s/%s", dir, name); }

static int append_n(const char *path, int n, const char *who)
{
    char m[256], err[256];
    for (int i = 0; i < n; i++) {
        int len = snprintf(m, sizeof m, "\"event\":\"note\",\"who\":\"%s\",\"i\":%d", who, i);
        if (rb_audit_append(path, m, (size_t)len, 0, err, sizeof err) < 0) return -1;
    }
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*len + 1);
    if (fread(b, 1, *len, f) != *len) { free(b); fclose(f); return NULL; }
    b[*len] = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
}

/* Returns the line number verify reports (0 = valid). */
static long verify_bad(const char *path)
{
    long n, bad;
    char why[256];
    int rc = rb_audit_verify(path, &n, &bad, why, sizeof why);
    return rc == 0 ? 0 : rc < 0 ? -1 : bad;
}

/* Copies the 5-line base log with a transformation applied to its lines. */
static long damaged(const char *base, const char *name, void (*fn)(char **lines, int *n))
{
    size_t len;
    char *b = slurp(base, &len), *lines[16], out[512];
    int n = 0;
    for (char *p = strtok(b, "\n"); p && n < 16; p = strtok(NULL, "\n")) lines[n++] = p;
    fn(lines, &n);
    path_of(out, name);
    FILE *f = fopen(out, "wb");
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    fclose(f);
    free(b);
    return verify_bad(out);
}

static void alter(char **l, int *n) { (void)n; char *p = strstr(l[2], "\"i\":2"); if (p) p[4] = '7'; }
static void drop(char **l, int *n) { for (int i = 1; i < *n - 1; i++) l[i] = l[i + 1]; (*n)--; }
static void swap(char **l, int *n) { (void)n; char *t = l[2]; l[2] = l[3]; l[3] = t; }

int main(void)
{
    char base[512], p[512], err[256];
    if (!mkdtemp(dir)) return 1;
    path_of(base, "sub/dir/audit.jsonl");

    TAP_OK(append_n(base, 5, "a") == 0, "append creates the file and its directories");
    TAP_EQ_INT(verify_bad(base), 0, "a fresh chain verifies");
    size_t len;
    char *text = slurp(base, &len);
    TAP_OK(text && strncmp(text, "{\"seq\":1,\"ts\":\"", 15) == 0, "first line starts with seq 1 and ts");
    TAP_OK(text && strstr(text, "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\""),
           "first prev is 64 zeros");
    free(text);

    TAP_EQ_INT(damaged(base, "altered", alter), 3, "an altered line is reported with its number");
    TAP_EQ_INT(damaged(base, "deleted", drop), 2, "a deleted line is reported where the gap is");
    TAP_EQ_INT(damaged(base, "reordered", swap), 3, "reordered lines are reported");

    text = slurp(base, &len);
    path_of(p, "truncated");
    spit(p, text, len - 10);
    TAP_EQ_INT(verify_bad(p), 5, "a truncated last line is reported");
    TAP_OK(rb_audit_append(p, "\"event\":\"x\"", 11, 0, err, sizeof err) < 0 && strstr(err, "damaged"),
           "appending to a damaged chain is refused: %s", err);
    free(text);

    path_of(p, "missing");
    TAP_EQ_INT(verify_bad(p), -1, "a missing file is an error, not a valid chain");

    /* 20 processes x 10 events on one file */
    path_of(p, "concurrent.jsonl");
    for (int i = 0; i < 20; i++) {
        if (fork() == 0) { char who[8]; snprintf(who, sizeof who, "p%d", i); _exit(append_n(p, 10, who) ? 1 : 0); }
    }
    int bad_children = 0, st;
    while (wait(&st) > 0) bad_children += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    TAP_EQ_INT(bad_children, 0, "20 concurrent appenders all succeed");
    long n, bad;
    char why[256];
    TAP_EQ_INT(rb_audit_verify(p, &n, &bad, why, sizeof why), 0, "concurrent appends leave a valid chain");
    TAP_EQ_INT(n, 200, "and every event is there");

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return TAP_DONE();
}
