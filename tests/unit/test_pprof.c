/* test_pprof.c — core/pprof.c decoding and core/pprof_top.c aggregation on
 * profiles encoded here by hand (so every protobuf form is exercised: packed
 * and unpacked, string table last, unknown fields, gzip), malformed input,
 * and the SVG flame graph. Real Go profiles are compared with `go tool pprof`
 * in tests/e2e/pprof.sh. */
#include "core/pprof.h"
#include "core/pprof_flame.h"
#include "core/pprof_top.h"
#include "tap.h"
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

/* ---- a minimal protobuf writer ------------------------------------------ */

typedef struct { unsigned char b[8192]; size_t n; } buf;

static void put_varint(buf *o, uint64_t v)
{
    while (v >= 0x80) {
        o->b[o->n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    o->b[o->n++] = (unsigned char)v;
}
static void put_int(buf *o, int field, uint64_t v) { put_varint(o, (uint64_t)field << 3); put_varint(o, v); }
static void put_bytes(buf *o, int field, const void *p, size_t n)
{
    put_varint(o, (uint64_t)field << 3 | 2);
    put_varint(o, n);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put_msg(buf *o, int field, const buf *m) { put_bytes(o, field, m->b, m->n); }
static void put_str(buf *o, const char *s) { put_bytes(o, 6, s, strlen(s)); }
static void put_packed(buf *o, int field, const uint64_t *v, size_t n)
{
    buf m = {0};
    for (size_t i = 0; i < n; i++) put_varint(&m, v[i]);
    put_msg(o, field, &m);
}

/* Strings: 0 "", 1 samples, 2 count, 3 cpu, 4 nanoseconds, 5 main.a, 6 main.b,
 * 7 main.c, 8 a.go, 9 handler, 10 /api, 11 bytes, 12 /bin/app */
static const char *strs[] = { "", "samples", "count", "cpu", "nanoseconds", "main.a", "main.b",
                              "main.c", "a.go", "handler", "/api", "bytes", "/bin/app" };

static void vtype(buf *o, int field, int type, int unit)
{
    buf m = {0};
    put_int(&m, 1, (uint64_t)type);
    put_int(&m, 2, (uint64_t)unit);
    put_msg(o, field, &m);
}

static void function(buf *o, int id, int name)
{
    buf m = {0};
    put_int(&m, 1, (uint64_t)id);
    put_int(&m, 2, (uint64_t)name);
    put_int(&m, 4, 8);
    put_msg(o, 5, &m);
}

/* location id with the given function ids as lines, innermost first */
static void location(buf *o, int id, const int *fns, int n, int mapping)
{
    buf m = {0};
    put_int(&m, 1, (uint64_t)id);
    if (mapping) put_int(&m, 2, (uint64_t)mapping);
    for (int i = 0; i < n; i++) {
        buf l = {0};
        put_int(&l, 2, 10 + (uint64_t)i);   /* line before function: any order */
        put_int(&l, 1, (uint64_t)fns[i]);
        put_msg(&m, 4, &l);
    }
    put_msg(o, 4, &m);
}

/* The profile most tests use:
 *   loc 1 = main.c inlined into main.a; loc 2 = main.b; loc 3 = no lines, mapping /bin/app
 *   sample A: stack [1, 2] (c,a called from b)  values (1, 10)  packed, label handler=/api
 *   sample B: stack [2]                          values (1, 5)   unpacked, label bytes=512
 *   sample C: stack [2, 2] (recursion)           values (1, 7)
 *   sample D: stack [3]                          values (1, 3)
 * cpu: flat c=10 b=5+7=12 [app]=3; cum b=10+5+7=22 (once per sample), a=10, c=10 */
static void make_profile(buf *o, int with_strings)
{
    o->n = 0;
    put_int(o, 99, 12345);                     /* unknown varint field */
    put_bytes(o, 98, "ignored", 7);            /* unknown length-delimited field */
    vtype(o, 1, 1, 2);
    vtype(o, 1, 3, 4);
    buf s = {0}, l = {0};
    uint64_t locs[] = { 1, 2 }, vals[] = { 1, 10 };
    put_packed(&s, 1, locs, 2);
    put_packed(&s, 2, vals, 2);
    put_int(&l, 1, 9); put_int(&l, 2, 10);
    put_msg(&s, 3, &l);
    put_msg(o, 2, &s);
    s.n = l.n = 0;
    put_int(&s, 2, 1);                         /* values before locations, unpacked */
    put_int(&s, 1, 2);
    put_int(&s, 2, 5);
    put_int(&l, 1, 11); put_int(&l, 3, 512); put_int(&l, 4, 11);
    put_msg(&s, 3, &l);
    put_msg(o, 2, &s);
    s.n = 0;
    put_int(&s, 1, 2); put_int(&s, 1, 2);
    put_int(&s, 2, 1); put_int(&s, 2, 7);
    put_msg(o, 2, &s);
    s.n = 0;
    put_int(&s, 1, 3);
    put_int(&s, 2, 1); put_int(&s, 2, 3);
    put_msg(o, 2, &s);
    int l1[] = { 3, 1 }, l2[] = { 2 };
    location(o, 1, l1, 2, 0);
    location(o, 2, l2, 1, 0);
    location(o, 3, NULL, 0, 1);
    buf m = {0};
    put_int(&m, 1, 1); put_int(&m, 5, 12);
    put_msg(o, 3, &m);
    function(o, 1, 5);
    function(o, 2, 6);
    function(o, 3, 7);
    put_int(o, 10, 2000000000);
    vtype(o, 11, 3, 4);
    put_int(o, 12, 10000000);
    if (with_strings)
        for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) put_str(o, strs[i]);
}

static size_t gzip(const buf *in, unsigned char *out, size_t cap)
{
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)in->b;
    z.avail_in = (unsigned)in->n;
    z.next_out = out;
    z.avail_out = (unsigned)cap;
    deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static const rb_pprof_row *row(const rb_pprof_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].name, name)) return &t->rows[i];
    return NULL;
}

static void check_top(const rb_pprof *p, const char *what)
{
    rb_pprof_table t;
    TAP_OK(rb_pprof_aggregate(p, rb_pprof_default_type(p), &t), "%s: aggregate", what);
    TAP_EQ_INT(t.total, 25, "total = sum of cpu values");
    const rb_pprof_row *b = row(&t, "main.b"), *c = row(&t, "main.c"), *a = row(&t, "main.a");
    const rb_pprof_row *app = row(&t, "[app]");
    TAP_OK(a && b && c && app, "nodes for main.a, main.b, main.c (inlined) and [app] (no function)");
    if (a && b && c && app) {
        TAP_EQ_INT(c->flat, 10, "flat goes to the innermost inlined frame");
        TAP_EQ_INT(a->flat, 0, "the caller an inlined frame sits in has no flat");
        TAP_EQ_INT(a->cum, 10, "cum of the inlining caller");
        TAP_EQ_INT(b->flat, 12, "flat of main.b");
        TAP_EQ_INT(b->cum, 22, "cum counted once per sample under recursion");
        TAP_EQ_INT(app->flat, 3, "a location without lines is named [objfile base]");
    }
    rb_pprof_sort(&t, 0);
    TAP_EQ_STR(t.rows[0].name, "main.b", "by flat: main.b first");
    TAP_EQ_STR(t.rows[1].name, "main.c", "by flat: then main.c");
    rb_pprof_sort(&t, 1);
    TAP_EQ_STR(t.rows[0].name, "main.b", "by cum: main.b first");
    TAP_EQ_STR(t.rows[1].name, "main.a", "by cum: ties broken by name (main.a before main.c)");
    rb_pprof_trim(&t, 0.2);
    TAP_EQ_INT(t.n, 3, "node_fraction 0.2 drops the node with cum 3 < 5");
    rb_pprof_table_free(&t);
}

static void test_decode(void)
{
    buf o;
    make_profile(&o, 1);
    char err[200];
    rb_pprof *p = rb_pprof_parse(o.b, o.n, err, sizeof err);
    TAP_OK(p != NULL, "raw profile parses (err: %s)", p ? "" : err);
    if (!p) return;
    TAP_EQ_INT(p->sample_types.n, 2, "two sample types");
    TAP_EQ_STR(rb_pprof_str(p, p->sample_types.v[1].unit), "nanoseconds", "unit of the second type");
    TAP_EQ_INT(rb_pprof_default_type(p), 1, "default type = the last one when none is named");
    TAP_EQ_INT(p->samples.n, 4, "four samples");
    TAP_EQ_INT(p->duration_nanos, 2000000000, "duration");
    TAP_EQ_INT(p->period, 10000000, "period");
    TAP_EQ_STR(rb_pprof_str(p, p->period_type.type), "cpu", "period type");
    TAP_EQ_INT(p->labels.n, 2, "two labels");
    TAP_EQ_STR(rb_pprof_str(p, p->labels.v[0].str), "/api", "string label value");
    TAP_EQ_INT(p->labels.v[1].num, 512, "numeric label value");
    TAP_EQ_STR(rb_pprof_str(p, p->labels.v[1].num_unit), "bytes", "numeric label unit");
    TAP_EQ_INT(p->locs.v[0].nline, 2, "inlined lines kept");
    TAP_EQ_INT(p->lines.v[0].line, 10, "line number");
    check_top(p, "raw");
    rb_pprof_free(p);

    unsigned char gz[16384];
    size_t gn = gzip(&o, gz, sizeof gz);
    p = rb_pprof_parse(gz, gn, err, sizeof err);
    TAP_OK(p != NULL, "gzip profile parses");
    if (p) check_top(p, "gzip");
    rb_pprof_free(p);

    /* default_sample_type names the first type */
    put_int(&o, 14, 1);
    p = rb_pprof_parse(o.b, o.n, err, sizeof err);
    TAP_OK(p && rb_pprof_default_type(p) == 0, "default_sample_type is honoured");
    rb_pprof_free(p);
}

static void expect_error(const void *data, size_t n, const char *want, const char *name)
{
    char err[200] = "";
    rb_pprof *p = rb_pprof_parse(data, n, err, sizeof err);
    TAP_OK(!p && strstr(err, want), "%s -> parse error \"%s\"", name, err);
    rb_pprof_free(p);
}

static void test_malformed(void)
{
    buf o;
    expect_error("", 0, "empty", "empty input");
    unsigned char varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    expect_error(varint, sizeof varint, "varint", "an 11-byte varint");
    make_profile(&o, 0);
    expect_error(o.b, o.n, "string table", "no string table");
    make_profile(&o, 1);
    expect_error(o.b, o.n - 3, "truncated", "raw profile cut short");
    unsigned char gz[16384];
    size_t gn = gzip(&o, gz, sizeof gz);
    expect_error(gz, gn / 2, "truncated gzip", "gzip cut in half");
    gz[gn / 2] ^= 0xff;
    gz[gn / 2 + 1] ^= 0xff;
    char err[200];
    rb_pprof *p = rb_pprof_parse(gz, gn, err, sizeof err);
    TAP_OK(p == NULL, "corrupted gzip body is an error: %s", p ? "" : err);
    rb_pprof_free(p);

    buf bad = o;
    vtype(&bad, 1, 40, 2);  /* sample type naming string 40 */
    expect_error(bad.b, bad.n, "string index 40 out of range", "string index out of range");
    bad = o;
    buf s = {0};
    put_int(&s, 1, 77); put_int(&s, 2, 1); put_int(&s, 2, 1);
    put_msg(&bad, 2, &s);
    expect_error(bad.b, bad.n, "unknown location id 77", "sample naming an unknown location");
    bad = o;
    s.n = 0;
    put_int(&s, 1, 1); put_int(&s, 2, 1);
    put_msg(&bad, 2, &s);
    expect_error(bad.b, bad.n, "1 values for 2 sample types", "sample with too few values");
    bad = o;
    int fn[] = { 42 };
    location(&bad, 9, fn, 1, 0);
    expect_error(bad.b, bad.n, "unknown function id 42", "line naming an unknown function");
    bad = o;
    location(&bad, 1, fn, 0, 0);
    expect_error(bad.b, bad.n, "location id 1 is zero or repeated", "repeated location id");
    bad = o;
    location(&bad, 8, NULL, 0, 5);
    expect_error(bad.b, bad.n, "unknown mapping", "location naming an unknown mapping");
    unsigned char group[] = { 0x0b, 0x0c };  /* field 1 wire type 3 */
    expect_error(group, sizeof group, "wire type", "group wire type");
    unsigned char biglen[] = { 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f };
    expect_error(biglen, sizeof biglen, "claims 4294967295 bytes", "absurd length");
    unsigned char shortlen[] = { 0x12, 0x10, 0x08 };
    expect_error(shortlen, sizeof shortlen, "truncated", "length past the end");

    /* random bytes: never a crash (ASan/UBSan in `make asan`), never a bogus success */
    srand(7);
    int crashes_avoided = 0;
    for (int i = 0; i < 2000; i++) {
        unsigned char r[256];
        size_t n = (size_t)(rand() % (int)sizeof r);
        for (size_t k = 0; k < n; k++) r[k] = (unsigned char)rand();
        if (i % 2) { r[0] = 0x1f; if (n > 1) r[1] = 0x8b; }
        rb_pprof *q = rb_pprof_parse(r, n, err, sizeof err);
        crashes_avoided += q == NULL && err[0];
        rb_pprof_free(q);
    }
    TAP_EQ_INT(crashes_avoided, 2000, "2000 random inputs: each a parse error with a reason");
}

static void test_diff_and_flame(void)
{
    buf o;
    make_profile(&o, 1);
    rb_pprof *a = rb_pprof_parse(o.b, o.n, NULL, 0);
    buf s = {0};
    put_int(&s, 1, 1); put_int(&s, 2, 1); put_int(&s, 2, 40);  /* main.c gets 40 more */
    put_msg(&o, 2, &s);
    rb_pprof *b = rb_pprof_parse(o.b, o.n, NULL, 0);
    TAP_OK(a && b, "before and after parse");
    if (!a || !b) return;
    rb_pprof_table ta, tb;
    rb_pprof_aggregate(a, 1, &ta);
    rb_pprof_aggregate(b, 1, &tb);
    rb_pprof_delta *d;
    size_t n;
    TAP_OK(rb_pprof_diff(&ta, &tb, &d, &n), "diff");
    TAP_EQ_STR(d[0].name, "main.c", "largest flat change first");
    TAP_EQ_INT(d[0].after_flat - d[0].before_flat, 40, "its flat change");
    free(d);
    rb_pprof_table_free(&ta);
    rb_pprof_table_free(&tb);

    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    char err[100];
    TAP_OK(rb_pprof_flamegraph(b, 1, "cpu <test>", f, err, sizeof err), "flame graph written");
    fclose(f);
    TAP_OK(strstr(svg, "<svg") && strstr(svg, "</svg>"), "it is an SVG document");
    TAP_OK(strstr(svg, "main.b (22,") != NULL, "frames carry name and value in a tooltip");
    TAP_OK(strstr(svg, "cpu &lt;test&gt;") != NULL, "title is XML-escaped");
    TAP_OK(strstr(svg, "<script") == NULL && strstr(svg, "href") == NULL, "self-contained");
    free(svg);
    rb_pprof_free(a);
    rb_pprof_free(b);
}

/* ---- hostile input: gzip bombs ------------------------------------------ */

/* gzip of `unit` repeated `count` times (streamed: the inflated size is never held). */
static unsigned char *gzip_repeat(const void *unit, size_t ulen, size_t count, size_t *outlen)
{
    z_stream z = {0};
    size_t cap = 1 << 22;
    unsigned char *out = malloc(cap), chunk[1 << 16];
    size_t per = sizeof chunk / ulen;
    for (size_t i = 0; i < per; i++) memcpy(chunk + i * ulen, unit, ulen);
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
    z.next_out = out;
    z.avail_out = (unsigned)cap;
    for (size_t done = 0; done < count;) {
        size_t k = count - done < per ? count - done : per;
        done += k;
        z.next_in = chunk;
        z.avail_in = (unsigned)(k * ulen);
        while (z.avail_in) deflate(&z, Z_NO_FLUSH);
    }
    deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    return out;
}

/* CPU seconds: the bound is on the work a bomb causes, not on a loaded machine's wall clock. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A bomb must be rejected, naming the limit, within a second. */
static void bomb(const void *unit, size_t ulen, size_t count, const rb_pprof_limits *lim,
                 const char *want, const char *name)
{
    size_t n;
    unsigned char *gz = gzip_repeat(unit, ulen, count, &n);
    char err[512] = "";
    double t0 = now();
    rb_pprof *p = rb_pprof_parse_limited(gz, n, lim ? lim : &rb_pprof_default_limits, err, sizeof err);
    double dt = now() - t0;
    TAP_OK(!p && strstr(err, want), "%s (%zu KB of gzip, %zu MB inflated) is rejected: %s", name,
           n >> 10, (ulen * count) >> 20, err);
    TAP_OK(dt < 1.0, "%s: rejected in %.3f s of CPU (< 1 s)", name, dt);
    rb_pprof_free(p);
    free(gz);
}

static void test_bombs(void)
{
    static const unsigned char empty_sample[] = { 0x12, 0x00 }, empty_mapping[] = { 0x1a, 0x00 };
    static unsigned char unknown[1 << 16];  /* field 15, 65530 zero bytes */
    size_t u = 0;
    unknown[u++] = 15 << 3 | 2;
    unknown[u++] = 0xfa; unknown[u++] = 0xff; unknown[u++] = 0x03;  /* varint 65530 */
    size_t ulen = u + 65530;
    bomb(empty_sample, 2, 50u << 20, NULL, "max_samples", "50M empty samples");
    bomb(unknown, ulen, 4096, NULL, "max_bytes", "256 MB of skipped fields");
    rb_pprof_limits small = { RB_PPROF_MAX_BYTES, RB_PPROF_MAX_SAMPLES, 16u << 20 };
    bomb(empty_mapping, 2, 30u << 20, &small, "max_memory", "30M empty mappings (max_memory 16 MB)");
    bomb(empty_mapping, 2, 200u << 20, NULL, "decompression bomb", "200M empty mappings (default limits)");
    unsigned char claim[] = { 15 << 3 | 2, 0x80, 0x80, 0x80, 0x80, 0x04 };  /* 1 GiB */
    bomb(claim, sizeof claim, 1, NULL, "more than max_bytes", "a field claiming 1 GiB");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    TAP_OK(ru.ru_maxrss < 300 * 1024, "peak RSS over every bomb: %ld MB (< 300 MB: max_memory 256 MB + window + test buffers)",
           ru.ru_maxrss >> 10);
}

int main(void)
{
    test_decode();
    test_malformed();
    test_diff_and_flame();
    test_bombs();
    return TAP_DONE();
}
