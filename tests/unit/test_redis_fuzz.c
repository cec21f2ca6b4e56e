/* test_redis_fuzz.c — rb.redis's pure parsers (core/redis_url.h,
 * core/redis_info.h, core/redis_cmd.h) on mutated and random input: a
 * deterministic, bounded fuzz (seeded PRNG) that checks they stay inside
 * their buffers and keep their invariants. Meant for `make asan` too. */
#include "core/redis_cmd.h"
#include "core/redis_info.h"
#include "core/redis_url.h"
#include "tap.h"
#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Mutates buf (NUL-terminated, capacity cap) in place: a few random
 * replacements, insertions and deletions, biased to the syntax's bytes. */
static void mutate(char *buf, size_t cap, const char *alphabet)
{
    size_t len = strlen(buf), alen = strlen(alphabet);
    int edits = 1 + (int)(next_rand() % 4);
    for (int e = 0; e < edits; e++) {
        uint32_t r = next_rand();
        size_t at = len ? r % (len + 1) : 0;
        char c = (r >> 8) % 4 ? alphabet[(r >> 12) % alen] : (char)(r >> 20);
        if (c == '\0') c = '%';
        switch ((r >> 4) % 3) {
        case 0: if (at < len) buf[at] = c; break;
        case 1:
            if (len + 1 < cap) {
                memmove(buf + at + 1, buf + at, len - at + 1);
                buf[at] = c;
                len++;
            }
            break;
        default:
            if (at < len) { memmove(buf + at, buf + at + 1, len - at); len--; }
        }
    }
}

static int url_sane(const rb_redis_url *u)
{
    return u->port >= 1 && u->port <= 65535 && u->db >= 0 &&
           memchr(u->host, '\0', sizeof u->host) && memchr(u->path, '\0', sizeof u->path) &&
           memchr(u->user, '\0', sizeof u->user) && u->password_len < sizeof u->password &&
           u->password[u->password_len] == '\0' && (!u->unix_socket || u->path[0] == '/');
}

static void fuzz_urls(void)
{
    static const char *const seeds[] = {
        "redis://127.0.0.1:6379/0", "redis://:pw@h:1/2?db=3", "redis://u:p%40ss@[::1]:7000",
        "unix:///tmp/r.sock?db=1", "redis+unix://:pw@/run/redis.sock", "rediss://h", "redis://h",
    };
    char buf[512], err[200];
    rb_redis_url u;
    int bad = 0, parsed = 0;
    for (int i = 0; i < 200000; i++) {
        snprintf(buf, sizeof buf, "%s", seeds[next_rand() % (sizeof seeds / sizeof seeds[0])]);
        mutate(buf, sizeof buf, ":/@?=&[]%0123456789abcdefAF.dbredis+unix");
        err[0] = '\0';
        int rc = rb_redis_url_parse(buf, &u, err, sizeof err);
        if (rc == 0) { parsed++; if (!url_sane(&u)) bad++; }
        else if (rc != -1 || err[0] == '\0') bad++;
    }
    TAP_EQ_INT(bad, 0, "200k mutated URLs: parsed ones sane, refused ones explained");
    TAP_OK(parsed > 1000, "the mutations still reach the parser's accepting paths (%d parsed)", parsed);
}

/* Walks one INFO text, checking every field stays in bounds and dict walks end. */
static int info_sane(const char *text, size_t len)
{
    rb_redis_info_iter it;
    rb_redis_info_field f;
    rb_redis_info_init(&it, text, len);
    int fields = 0;
    while (rb_redis_info_next(&it, &f)) {
        if (++fields > (int)len + 1) return 0;
        if (f.key < text || f.key + f.key_len > text + len || f.key_len == 0) return 0;
        if (f.value < text || f.value + f.value_len > text + len) return 0;
        if (memchr(f.key, '\n', f.key_len) || memchr(f.value, '\n', f.value_len)) return 0;
        rb_redis_info_is_number(f.value, f.value_len);
        if (rb_redis_info_is_dict(f.value, f.value_len)) {
            const char *p = f.value, *k, *v;
            size_t kl, vl, steps = 0;
            while (rb_redis_info_dict_next(&p, f.value + f.value_len, &k, &kl, &v, &vl)) {
                if (++steps > f.value_len + 1 || kl == 0 || v + vl > f.value + f.value_len) return 0;
            }
        }
    }
    return 1;
}

static void fuzz_info(void)
{
    static const char seed[] = "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\n"
                               "db0:keys=3,expires=1,avg_ttl=0\r\ncmdstat_get:calls=4,usec=9\r\nx:-1.5";
    char buf[1024];
    int bad = 0;
    for (int i = 0; i < 50000; i++) {
        snprintf(buf, sizeof buf, "%s", seed);
        for (int m = 0; m < 4; m++) mutate(buf, sizeof buf, "#:\r\n=, ab01.-");
        /* the parser takes a length, not a string: also cut it anywhere */
        size_t len = strlen(buf);
        if (!info_sane(buf, len) || !info_sane(buf, len ? next_rand() % len : 0)) bad++;
    }
    TAP_EQ_INT(bad, 0, "50k mutated INFO texts: fields in bounds, dict walks end");
}

static void fuzz_commands(void)
{
    char name[40];
    int bad = 0;
    for (int i = 0; i < 50000; i++) {
        size_t n = next_rand() % (sizeof name - 1);
        for (size_t j = 0; j < n; j++) name[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ _|-"[next_rand() % 30];
        name[n] = '\0';
        rb_redis_flags f = {0, 0, 0};
        rb_redis_flags_add(&f, name, n);
        rb_redis_cmd_kind k = rb_redis_cmd_decide(name, &f);
        if (k != RB_REDIS_READ && k != RB_REDIS_WRITE) bad++;
        if (rb_redis_cmd_fallback(name) > RB_REDIS_UNKNOWN) bad++;
        rb_redis_cmd_unsupported(name);
    }
    TAP_EQ_INT(bad, 0, "50k random command names: decide answers read or write");
}

int main(void)
{
    fuzz_urls();
    fuzz_info();
    fuzz_commands();
    return TAP_DONE();
}
