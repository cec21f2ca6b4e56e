/* goroutine.c — streaming grouper for Go goroutine dumps (see goroutine.h).
 *
 * Reads line by line; only the goroutine (debug=2) or record (debug=1) being
 * read is held, as pointers into the input (copied only when a chunk ends
 * mid-record), and is folded into its group when the next one starts; a
 * record is first compared with its predecessor's group, since Go prints
 * goroutines in creation order and alike ones tend to be neighbours. This
 * keeps the pass near memchr speed. Forms understood, old and new Go alike:
 *   debug=1  "goroutine profile: total N", "N @ 0x.. 0x..", "# labels: {...}",
 *            "#\t0xADDR\tpkg.fn+0xOFF\tfile:line" (tabwriter pads with runs of tabs)
 *   debug=2  "goroutine ID [state, N minutes, locked to thread]:" (newer Go may
 *            insert "gp=0x.. m=.." before the bracket), frames "pkg.fn(args)"
 *            followed by "\tfile:line +0x..", "created by pkg.fn" with Go 1.21's
 *            " in goroutine N", "...additional frames elided..." and Go 1.21's
 *            "...N frames elided...", "goroutine running on other thread; stack
 *            unavailable", and GODEBUG=tracebackancestors' "[originating from
 *            goroutine N]:" (the ancestors' frames are not the goroutine's).
 * Anything else (panic messages, register dumps) is skipped. Uses libc only. */
#include "core/goroutine.h"
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')  /* locale-free, and inlined */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A piece of the input: points into the chunk being read, the carried line,
 * or p->hold (the current record's pieces, copied when a chunk ends). */
typedef struct { const char *s; size_t n; } span;

enum { K_STATE, K_TOP, K_ENTRY, K_CREATED, K_LABELS, NKEY };

struct rb_gor_parser {
    char *carry;                 /* a line split across two chunks */
    size_t ncarry;
    char *hold;
    int oom, debug;
    long header_total;
    size_t total, overflow;
    rb_gor_group *groups;
    uint64_t *ghash;
    size_t (*glen)[NKEY];        /* key lengths per group */
    size_t ngroups, gcap;
    uint32_t *slot;              /* hash table: group index + 1, 0 free */
    size_t mask;
    long prev;                   /* group of the previous record: neighbours often share it */
    /* the goroutine or record being read */
    int in_g, locked, elided;
    int ancestors;               /* past "[originating from goroutine N]:": not this goroutine's frames */
    size_t count;
    uint64_t id;
    long wait;
    span state, created, labels, first, top, last;
    span frames[RB_GOR_MAX_STACK];
    size_t nframes;
};

static const span EMPTY = { "", 0 };

/* Names are cut at NAME_MAX bytes: enough for any real Go symbol, and it
 * bounds what a group keeps. */
#define NAME_MAX_LEN 1024
static span mkspan(const char *s, size_t n) { return (span){ s, n < NAME_MAX_LEN ? n : NAME_MAX_LEN }; }

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* Frames of the scheduler and of runtime hooks in other packages
 * (sync.runtime_SemacquireMutex, internal/poll.runtime_pollWait): never the
 * "top" a person wants to see. */
static int is_runtime(span f)
{
    if (starts(f.s, f.n, "runtime."))
        return 1;
    /* ".runtime_" found from its '_', which is rare in Go names (memmem is slower here) */
    for (const char *q = f.s, *end = f.s + f.n; (q = memchr(q, '_', (size_t)(end - q))) != NULL; q++)
        if (q - f.s >= 8 && memcmp(q - 8, ".runtime", 8) == 0)
            return 1;
    return 0;
}

static char *dup_span(span s)
{
    char *d = malloc(s.n + 1);
    if (d) {
        if (s.n)
            memcpy(d, s.s, s.n);
        d[s.n] = '\0';
    }
    return d;
}

/* ---- groups ------------------------------------------------------------- */

static uint64_t hash_span(uint64_t h, span s)
{
    const unsigned char *q = (const unsigned char *)s.s;
    size_t n = s.n;
    for (; n >= 8; q += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    if (n)
        memcpy(&w, q, n);
    h = (h ^ w ^ ((uint64_t)s.n << 56)) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 32);
}

static uint64_t key_hash(const span *key)
{
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < NKEY; k++)
        h = hash_span(h, key[k]);
    return h;
}

static int same_key(const rb_gor_parser *p, size_t i, const span *key)
{
    const rb_gor_group *g = &p->groups[i];
    const char *str[NKEY] = { g->state, g->top, g->entry, g->created_by, g->labels };
    for (int k = 0; k < NKEY; k++)
        if (p->glen[i][k] != key[k].n || (key[k].n && memcmp(str[k], key[k].s, key[k].n)))
            return 0;
    return 1;
}

static int rehash(rb_gor_parser *p)
{
    size_t cap = p->slot ? (p->mask + 1) * 2 : 256;
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return 0;
    for (size_t i = 0; i < p->ngroups; i++) {
        size_t j = p->ghash[i] & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = (uint32_t)i + 1;
    }
    free(p->slot);
    p->slot = slot;
    p->mask = cap - 1;
    return 1;
}

static int grow_groups(rb_gor_parser *p)
{
    size_t ncap = p->gcap ? p->gcap * 2 : 64;
    rb_gor_group *g = realloc(p->groups, ncap * sizeof *g);
    if (!g)
        return 0;
    p->groups = g;
    uint64_t *gh = realloc(p->ghash, ncap * sizeof *gh);
    if (!gh)
        return 0;
    p->ghash = gh;
    size_t (*gl)[NKEY] = realloc(p->glen, ncap * sizeof *gl);
    if (!gl)
        return 0;
    p->glen = gl;
    p->gcap = ncap;
    return 1;
}

static int new_group(rb_gor_parser *p, uint64_t h, const span *key, size_t *out)
{
    if (p->ngroups == p->gcap && !grow_groups(p))
        return 0;
    size_t i = p->ngroups++;
    rb_gor_group *g = &p->groups[i];
    memset(g, 0, sizeof *g);
    g->max_wait = -1;
    g->first_id = p->id;
    g->state = dup_span(key[K_STATE]);
    g->top = dup_span(key[K_TOP]);
    g->entry = dup_span(key[K_ENTRY]);
    g->created_by = dup_span(key[K_CREATED]);
    g->labels = dup_span(key[K_LABELS]);
    p->ghash[i] = h;
    for (int k = 0; k < NKEY; k++)
        p->glen[i][k] = key[k].n;
    *out = i;
    if (!g->state || !g->top || !g->entry || !g->created_by || !g->labels)
        return 0;
    for (size_t f = 0; f < p->nframes && f < RB_GOR_MAX_STACK; f++)
        if (!(g->stack[g->nstack++] = dup_span(p->frames[f])))
            return 0;
    return 1;
}

/* The group of key: found, created, or -1 past the cap (or out of memory). */
static long find_group(rb_gor_parser *p, const span *key)
{
    if (p->prev >= 0 && same_key(p, (size_t)p->prev, key))
        return p->prev;
    uint64_t h = key_hash(key);
    if ((p->ngroups + 1) * 2 > (p->slot ? p->mask + 1 : 0) && !rehash(p))
        return p->oom = 1, -1;
    size_t j = h & p->mask;
    for (; p->slot[j]; j = (j + 1) & p->mask) {
        size_t i = p->slot[j] - 1;
        if (p->ghash[i] == h && same_key(p, i, key))
            return p->prev = (long)i;
    }
    if (p->ngroups >= RB_GOR_MAX_GROUPS)
        return -1;
    size_t i;
    if (!new_group(p, h, key, &i))
        return p->oom = 1, -1;
    p->slot[j] = (uint32_t)i + 1;
    return p->prev = (long)i;
}

/* Folds the goroutine (or debug=1 record) just read into its group. */
static void end_record(rb_gor_parser *p)
{
    if (!p->in_g)
        return;
    p->in_g = 0;
    span top = p->top.n ? p->top : p->first.n ? p->first : mkspan("(no frames)", 11);
    span key[NKEY] = { p->state, top, p->last, p->created, p->labels };
    long i = find_group(p, key);
    p->total += p->count;
    if (i < 0) {
        p->overflow += p->count;
        return;
    }
    rb_gor_group *g = &p->groups[i];
    g->count += p->count;
    g->locked += p->locked ? p->count : 0;
    g->elided += p->elided ? p->count : 0;
    if (p->wait > g->max_wait)
        g->max_wait = p->wait;
}

static void begin_record(rb_gor_parser *p, uint64_t id, size_t count)
{
    end_record(p);
    free(p->hold);
    p->hold = NULL;
    p->in_g = 1;
    p->id = id;
    p->count = count;
    p->locked = p->elided = p->ancestors = 0;
    p->wait = -1;
    p->nframes = 0;
    p->state = p->top = p->first = p->last = p->created = p->labels = EMPTY;
}

/* Copies the pieces of the current record out of a chunk that is about to go. */
static void hold_record(rb_gor_parser *p)
{
    span *all[6 + RB_GOR_MAX_STACK] = { &p->state, &p->created, &p->labels, &p->first, &p->top, &p->last };
    size_t n = 6, need = 1;
    for (size_t f = 0; f < p->nframes && f < RB_GOR_MAX_STACK; f++)
        all[n++] = &p->frames[f];
    for (size_t k = 0; k < n; k++)
        need += all[k]->n;
    char *h = malloc(need), *q = h;
    if (!h) {
        p->oom = 1;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (all[k]->n)
            memcpy(q, all[k]->s, all[k]->n);
        all[k]->s = q;
        q += all[k]->n;
    }
    free(p->hold);
    p->hold = h;
}

static void add_frame(rb_gor_parser *p, const char *fn, size_t n)
{
    if (n == 14 && memcmp(fn, "runtime.goexit", 14) == 0)
        return;  /* the bottom of every stack: says nothing about the goroutine */
    span f = mkspan(fn, n);
    p->last = f;
    if (!p->first.n)
        p->first = f;
    if (!p->top.n && !is_runtime(f))
        p->top = f;
    if (p->nframes < RB_GOR_MAX_STACK)
        p->frames[p->nframes] = f;
    p->nframes++;
}

/* ---- debug=2 ------------------------------------------------------------ */

static int parse_u64(const char **s, const char *end, uint64_t *out)
{
    const char *q = *s;
    uint64_t v = 0;
    while (q < end && IS_DIGIT(*q) && v < UINT64_MAX / 10)
        v = v * 10 + (uint64_t)(*q++ - '0');
    if (q == *s)
        return 0;
    *s = q;
    *out = v;
    return 1;
}

/* One item of "[state, 12 minutes, locked to thread]". */
static void header_item(rb_gor_parser *p, const char *s, size_t n, int first)
{
    const char *q = s;
    uint64_t v;
    if (first)
        p->state = mkspan(s, n);
    else if (starts(s, n, "locked to thread"))
        p->locked = 1;
    else if (parse_u64(&q, s + n, &v) && starts(q, (size_t)(s + n - q), " minute"))
        p->wait = v > 0x7fffffff ? 0x7fffffff : (long)v;
}

/* "goroutine 18 [chan receive, 5 minutes]:" (maybe "goroutine 18 gp=... m=... [...]:") */
static void g_header(rb_gor_parser *p, const char *s, size_t n)
{
    const char *end = s + n, *q = s + 10;
    uint64_t id = 0;
    parse_u64(&q, end, &id);
    begin_record(p, id, 1);
    p->debug = 2;
    const char *open = memchr(q, '[', (size_t)(end - q));
    const char *close = end;
    while (close > q && close[-1] != ']')
        close--;
    if (!open || close <= open + 1)
        return;
    close--;  /* at ']' */
    int first = 1;
    for (const char *it = open + 1; it < close;) {
        const char *comma = it;
        while (comma < close && !(comma[0] == ',' && comma + 1 < close && comma[1] == ' '))
            comma++;
        header_item(p, it, (size_t)(comma - it), first);
        first = 0;
        it = comma < close ? comma + 2 : close;
    }
}

/* "pkg.(*T).fn(0xc0000, {0x1, 0x2})" -> "pkg.(*T).fn" */
static size_t strip_args(const char *s, size_t n)
{
    if (n == 0 || s[n - 1] != ')')
        return n;
    int depth = 0;
    for (size_t i = n; i-- > 0;) {
        if (s[i] == ')')
            depth++;
        else if (s[i] == '(' && --depth == 0)
            return i;
    }
    return n;
}

static void g_line(rb_gor_parser *p, const char *s, size_t n)
{
    if (s[0] == '\t' || s[0] == ' ')
        return;  /* file:line, or "goroutine running on other thread" */
    if (starts(s, n, "created by ")) {
        const char *fn = s + 11, *end = s + n;
        for (const char *q = fn; q + 14 <= end; q++)
            if (memcmp(q, " in goroutine ", 14) == 0) {
                end = q;
                break;
            }
        p->created = mkspan(fn, (size_t)(end - fn));
    } else if (starts(s, n, "...")) {
        p->elided = 1;
    } else if (starts(s, n, "[originating from goroutine")) {
        p->ancestors = 1;  /* GODEBUG=tracebackancestors: the creators' stacks follow */
    } else if (!p->ancestors) {
        add_frame(p, s, strip_args(s, n));
    }
}

/* ---- debug=1 ------------------------------------------------------------ */

/* "#\t0x4657c4\truntime/pprof.writeGoroutine+0x24\t/usr/...go:846" */
static void d1_frame(rb_gor_parser *p, const char *s, size_t n)
{
    const char *end = s + n, *q = s + 1;
    while (q < end && (*q == '\t' || *q == ' ')) q++;
    while (q < end && *q != '\t' && *q != ' ') q++;   /* address */
    while (q < end && (*q == '\t' || *q == ' ')) q++;
    const char *fn = q;
    while (q < end && *q != '\t') q++;
    const char *fe = q;
    for (const char *k = fe; k > fn; k--)
        if (k[-1] == '+') {
            fe = k - 1;
            break;
        }
    if (fe > fn)
        add_frame(p, fn, (size_t)(fe - fn));
}

/* "3 @ 0x43b2f6 0x407e5b" starts a record of 3 goroutines. */
static int d1_record(rb_gor_parser *p, const char *s, size_t n)
{
    const char *q = s;
    uint64_t count;
    if (!parse_u64(&q, s + n, &count) || !starts(q, (size_t)(s + n - q), " @"))
        return 0;
    begin_record(p, 0, (size_t)count);
    p->debug = 1;
    return 1;
}

/* "goroutine profile: total 25" */
static int d1_header(rb_gor_parser *p, const char *s, size_t n)
{
    const char *k = memchr(s, ':', n);
    if (!k || k - s < 8 || memcmp(k - 8, " profile", 8) != 0 || !starts(k, (size_t)(s + n - k), ": total "))
        return 0;
    const char *q = k + 8;
    uint64_t v;
    if (parse_u64(&q, s + n, &v))
        p->header_total = v > 0x7fffffff ? 0x7fffffff : (long)v;
    p->debug = 1;
    return 1;
}

/* ---- lines -------------------------------------------------------------- */

static void line(rb_gor_parser *p, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        n--;
    if (n == 0) {
        end_record(p);
        return;
    }
    char c = s[0];
    if (c == '\t' || c == ' ')
        return;  /* debug=2 "\tfile:line +0x..": half of all lines, nothing in them we need */
    if (c == 'g' && n > 10 && IS_DIGIT(s[10]) && starts(s, n, "goroutine ")) {
        g_header(p, s, n);
    } else if (c == '#') {
        if (starts(s, n, "# labels: ") && p->in_g)
            p->labels = mkspan(s + 10, n - 10);
        else if (p->in_g && p->debug == 1 && n > 1 && (s[1] == '\t' || s[1] == ' '))
            d1_frame(p, s, n);
    } else if (IS_DIGIT(c) && d1_record(p, s, n)) {
        return;
    } else if (p->in_g && p->debug == 2) {
        g_line(p, s, n);
    } else if (!p->in_g) {
        d1_header(p, s, n);
    }
}

rb_gor_parser *rb_gor_new(void)
{
    rb_gor_parser *p = calloc(1, sizeof *p);
    if (p) {
        p->header_total = -1;
        p->prev = -1;
        p->carry = malloc(RB_GOR_MAX_LINE);
        if (!p->carry) {
            free(p);
            return NULL;
        }
    }
    return p;
}

/* Keeps the start of a partial line (cut at RB_GOR_MAX_LINE: only the start matters). */
static void carry(rb_gor_parser *p, const char *s, size_t n)
{
    size_t room = RB_GOR_MAX_LINE - p->ncarry, k = n < room ? n : room;
    if (k)
        memcpy(p->carry + p->ncarry, s, k);
    p->ncarry += k;
}

int rb_gor_feed(rb_gor_parser *p, const char *buf, size_t len)
{
    const char *end = buf + len;
    if (p->ncarry && len) {
        const char *nl = memchr(buf, '\n', len);
        carry(p, buf, (size_t)((nl ? nl : end) - buf));
        if (!nl)
            return !p->oom;
        line(p, p->carry, p->ncarry);
        p->ncarry = 0;
        buf = nl + 1;
    }
    while (buf < end && !p->oom) {
        const char *nl = memchr(buf, '\n', (size_t)(end - buf));
        if (!nl)
            break;
        line(p, buf, (size_t)(nl - buf));
        buf = nl + 1;
    }
    if (p->in_g)
        hold_record(p);  /* before the carried line is overwritten, and the chunk goes */
    if (buf < end)
        carry(p, buf, (size_t)(end - buf));
    return !p->oom;
}

static void free_group(rb_gor_group *g)
{
    free(g->state);
    free(g->top);
    free(g->entry);
    free(g->created_by);
    free(g->labels);
    for (size_t i = 0; i < g->nstack; i++)
        free(g->stack[i]);
}

/* The goroutines past RB_GOR_MAX_GROUPS, as one last group. */
static int overflow_group(rb_gor_parser *p)
{
    span key[NKEY] = { EMPTY, mkspan("(groups past the limit)", 23), EMPTY, EMPTY, EMPTY };
    size_t i;
    p->nframes = 0;
    p->id = 0;
    if (!new_group(p, 0, key, &i))
        return 0;
    p->groups[i].count = p->overflow;
    return 1;
}

rb_gor_dump *rb_gor_finish(rb_gor_parser *p, char *err, size_t errlen)
{
    if (p->ncarry && !p->oom)
        line(p, p->carry, p->ncarry);
    end_record(p);
    rb_gor_dump *d = NULL;
    if (p->oom)
        snprintf(err, errlen, "out of memory");
    else if (!p->debug || (p->total == 0 && p->header_total < 0))
        snprintf(err, errlen, "no goroutine found: not a goroutine dump (debug=1 or debug=2 text)");
    else if (p->overflow && !overflow_group(p))
        snprintf(err, errlen, "out of memory");
    else if ((d = calloc(1, sizeof *d)) == NULL)
        snprintf(err, errlen, "out of memory");
    if (d) {
        d->debug = p->debug;
        d->total = p->total;
        d->header_total = p->header_total;
        d->ngroups = p->ngroups;
        d->groups = p->groups;
        d->overflow = p->overflow;
        p->groups = NULL;
    } else {
        for (size_t i = 0; i < p->ngroups; i++)
            free_group(&p->groups[i]);
        free(p->groups);
    }
    free(p->ghash);
    free(p->glen);
    free(p->slot);
    free(p->hold);
    free(p->carry);
    free(p);
    return d;
}

void rb_gor_dump_free(rb_gor_dump *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->ngroups; i++)
        free_group(&d->groups[i]);
    free(d->groups);
    free(d);
}
