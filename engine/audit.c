/* audit.c — append to and verify the hash-chained audit log (see audit.h). */
#include "audit.h"
#include "audit_pg.h"
#include "core/safefile.h"
#include "redact.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define HASH_TAIL ",\"hash\":\""

void rb_audit_timestamp(char out[32])
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void rb_audit_default_path(char *out, size_t outsz)
{
    const char *e = getenv("RUNBOOK_AUDIT"), *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
    if (e && *e) snprintf(out, outsz, "%s", e);
    else if (x && *x) snprintf(out, outsz, "%s/runbook/audit.jsonl", x);
    else if (h && *h) snprintf(out, outsz, "%s/.local/state/runbook/audit.jsonl", h);
    else snprintf(out, outsz, "runbook-audit.jsonl");
}

/* hex SHA-256 of prev followed by body[0..len) */
static void chain_hash(const char *prev, const char *body, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, prev, 64);
    EVP_DigestUpdate(c, body, len);
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || n > left) return 0;
    unsigned char lo = 0x80, hi = 0xbf;  /* the second byte's range */
    if (c == 0xe0) lo = 0xa0;
    else if (c == 0xed) hi = 0x9f;
    else if (c == 0xf0) lo = 0x90;
    else if (c == 0xf4) hi = 0x8f;
    if (n > 1 && (s[1] < lo || s[1] > hi)) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* Every byte that is not part of well-formed UTF-8 becomes \\xHH in the
 * JSON text (once decoded: a backslash, x and two hex digits), so each line
 * is strict UTF-8 JSON and the byte stays visible. Such bytes can only stand
 * inside JSON strings (the members are JSON text). Returns a malloc'd copy,
 * or NULL when out of memory. */
static char *escape_invalid_utf8(const char *s, size_t len, size_t *outlen)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t bad = 0;
    for (size_t i = 0, k; i < len; i += k ? k : 1)
        if (!(k = utf8_seq(u + i, len - i))) bad++;
    char *out = malloc(len + 4 * bad + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0, k; i < len; i += k ? k : 1) {
        if ((k = utf8_seq(u + i, len - i))) { memcpy(o, s + i, k); o += k; }
        else o += sprintf(o, "\\\\x%02x", u[i]);
    }
    *o = 0;
    *outlen = (size_t)(o - out);
    return out;
}

/* Reads the file's last line into a malloc'd buffer (NULL if the file is empty). */
static char *last_line(int fd, int *incomplete)
{
    off_t end = lseek(fd, 0, SEEK_END);
    *incomplete = 0;
    if (end <= 0) return NULL;
    size_t want = 4096;
    for (;;) {
        size_t take = (off_t)want > end ? (size_t)end : want;
        char *buf = malloc(take + 1);
        if (!buf || pread(fd, buf, take, end - (off_t)take) != (ssize_t)take) { free(buf); return NULL; }
        buf[take] = 0;
        size_t stop = take;
        if (buf[take - 1] == '\n') stop--; else *incomplete = 1;
        size_t i = stop;
        while (i > 0 && buf[i - 1] != '\n') i--;
        if (i > 0 || (off_t)take == end) {
            memmove(buf, buf + i, stop - i);
            buf[stop - i] = 0;
            return buf;
        }
        free(buf);
        want *= 4;
    }
}

/* Extracts seq and hash from a well-formed line; -1 if it is not one. */
static int line_seq_hash(const char *line, long *seq, char hash[65])
{
    if (sscanf(line, "{\"seq\":%ld,", seq) != 1) return -1;
    const char *h = strstr(line, HASH_TAIL);
    if (!h) return -1;
    const char *last;
    while ((last = strstr(h + 1, HASH_TAIL))) h = last;
    h += sizeof HASH_TAIL - 1;
    if (strlen(h) != 66 || h[64] != '"' || h[65] != '}') return -1;
    memcpy(hash, h, 64);
    hash[64] = 0;
    return 0;
}

char *rb_audit_build_line(long seq, const char *prev, const char *members, size_t len, size_t *outlen)
{
    char ts[32], hash[65];
    rb_audit_timestamp(ts);
    size_t cap = len + 256;
    char *line = malloc(cap);
    if (!line) return NULL;
    int n = snprintf(line, cap, "{\"seq\":%ld,\"ts\":\"%s\",", seq, ts);
    memcpy(line + n, members, len);
    size_t at = (size_t)n + len;
    at += (size_t)snprintf(line + at, cap - at, ",\"prev\":\"%s\"", prev);
    line[at] = '}';
    chain_hash(prev, line, at + 1, hash);
    at += (size_t)snprintf(line + at, cap - at, HASH_TAIL "%s\"}\n", hash);
    *outlen = at;
    return line;
}

static int append_locked(int fd, const char *members, size_t len, int sync, char *err, size_t errsz)
{
    int incomplete;
    long seq = 0;
    char prev[65] = ZERO_HASH;
    char *last = last_line(fd, &incomplete);
    if (last && (incomplete || line_seq_hash(last, &seq, prev) < 0)) {
        free(last);
        snprintf(err, errsz, "the last line of the audit file is damaged; refusing to extend a broken chain");
        return -1;
    }
    free(last);
    size_t n;
    char *line = rb_audit_build_line(seq + 1, prev, members, len, &n);
    if (!line) { snprintf(err, errsz, "out of memory"); return -1; }
    ssize_t w = write(fd, line, n);
    free(line);
    if (w != (ssize_t)n) { snprintf(err, errsz, "write: %s", strerror(errno)); return -1; }
    if (sync && fsync(fd) < 0) { snprintf(err, errsz, "fsync: %s", strerror(errno)); return -1; }
    return 0;
}

int rb_audit_append(const char *path, const char *members, size_t len, int sync, char *err, size_t errsz)
{
    size_t n;
    char *red = rb_redact(members, len, &n), *clean = red ? escape_invalid_utf8(red, n, &n) : NULL;
    free(red);
    if (!clean) { snprintf(err, errsz, "out of memory"); return -1; }
    if (rb_audit_pg_url(path)) {   /* --audit postgres://... (audit_pg.h) */
        int prc = rb_audit_pg_append(path, clean, n, err, errsz);
        free(clean);
        return prc;
    }
    int fd = rb_safefile_open(path, RB_SAFE_RDAPPEND, 1, "audit file", err, errsz);
    int rc = -1;
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) snprintf(err, errsz, "flock %s: %s", path, strerror(errno));
    else if (fd >= 0) rc = append_locked(fd, clean, n, sync, err, errsz);
    if (fd >= 0) close(fd);
    free(clean);
    return rc;
}

/* Checks one line against the previous hash and seq; fills why on failure. */
int rb_audit_verify_line(char *line, size_t len, long want_seq, char prev[65], char *why, size_t whysz)
{
    long seq;
    char hash[65], calc[65];
    if (line_seq_hash(line, &seq, hash) < 0) {
        snprintf(why, whysz, "not an audit event (malformed or truncated)");
        return -1;
    }
    if (seq != want_seq) {
        snprintf(why, whysz, "seq %ld where %ld was expected (a line was deleted, inserted or reordered)", seq, want_seq);
        return -1;
    }
    char *tail = line + len - (sizeof HASH_TAIL - 1) - 66;
    char *p = tail - 74;   /* ,"prev":"<64 hex>" stands right before the hash */
    if (p < line || strncmp(p, ",\"prev\":\"", 9) != 0 || strncmp(p + 9, prev, 64) != 0) {
        snprintf(why, whysz, "prev does not match the hash of the line before (chain broken)");
        return -1;
    }
    char save = tail[0];
    tail[0] = '}';
    chain_hash(prev, line, (size_t)(tail - line) + 1, calc);
    tail[0] = save;
    if (strcmp(calc, hash) != 0) {
        snprintf(why, whysz, "hash does not match the line's content (line altered)");
        return -1;
    }
    memcpy(prev, hash, 65);
    return 0;
}

int rb_audit_verify(const char *path, long *nlines, long *bad_line, char *why, size_t whysz)
{
    if (rb_audit_pg_url(path)) return rb_audit_pg_verify(path, nlines, bad_line, why, whysz);
    FILE *f = fopen(path, "re");
    if (!f) { snprintf(why, whysz, "cannot open %s: %s", path, strerror(errno)); return -1; }
    char *line = NULL, prev[65] = ZERO_HASH;
    size_t cap = 0;
    ssize_t n;
    long no = 0;
    int rc = 0;
    *bad_line = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        no++;
        int complete = line[n - 1] == '\n';
        if (complete) line[--n] = 0;
        if (!complete) { snprintf(why, whysz, "last line is truncated (no newline)"); rc = 1; break; }
        if (rb_audit_verify_line(line, (size_t)n, no, prev, why, whysz) < 0) { rc = 1; break; }
    }
    if (rc) *bad_line = no;
    *nlines = no;
    free(line);
    fclose(f);
    return rc;
}
