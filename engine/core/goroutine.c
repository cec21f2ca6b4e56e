/* goroutine.c — streaming grouper for Go goroutine dumps (see goroutine.h).
 *
 * Reads line by line; only the goroutine (debug=2) or record (debug=1) being
 * read is held, in fixed-size buffers, and is folded into its group when the
 * next one starts. Forms understood, old and new Go alike:
 *   debug=1  "goroutine profile: total N", "N @ 0x.. 0x..", "# labels: {...}",
 *            "#\t0xADDR\tpkg.fn+0xOFF\tfile:line" (tabwriter pads with runs of tabs)
 *   debug=2  "goroutine ID [state, N minutes, locked to thread]:" (newer Go may
 *            insert "gp=0x.. m=.." before the bracket), frames "pkg.fn(args)"
 *            followed by "\tfile:line +0x..", "created by pkg.fn" with Go 1.21's
 *            " in goroutine N", "...additional frames elided..." and Go 1.21's
 *            "...N frames elided...", "goroutine running on other thread; stack
 *            unavailable".
 * Anything else (panic messages, register dumps) is skipped. Uses libc only. */
#include "core/goroutine.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FN_MAX 512

struct rb_gor_parser {
    char *carry;                 /* a line split across two chunks */
    size_t ncarry;
    int oom, debug;
    long header_total;
    size_t total, overflow;
    rb_gor_group *groups;
    uint64_t *ghash;
    size_t ngroups, gcap;
    uint32_t *slot;              /* hash table: group index + 1, 0 free */
    size_t mask;
    /* the goroutine or record being read */
    int in_g, locked, elided;
    size_t count;
    uint64_t id;
    long wait;
    char state[FN_MAX], top[FN_MAX], first[FN_MAX], last[FN_MAX], created[FN_MAX];
    char labels[FN_MAX];
    char frames[RB_GOR_MAX_STACK][FN_MAX];
    size_t nframes;
};

static void copy_str(char *dst, const char *s, size_t n)
{
    if (n >= FN_MAX)
        n = FN_MAX - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* Frames of the scheduler and of runtime hooks in other packages
 * (sync.runtime_SemacquireMutex, internal/poll.runtime_pollWait): never the
 * "top" a person wants to see. */
static int is_runtime(const char *fn)
{
    return strncmp(fn, "runtime.", 8) == 0 || strstr(fn, ".runtime_") != NULL;
}

/* ---- groups ------------------------------------------------------------- */

static uint64_t hash_add(uint64_t h, const char *s)
{
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return (h ^ 0x1f) * 1099511628211ull;
}

static uint64_t key_hash(const rb_gor_parser *p, const char *top, const char *entry)
{
    uint64_t h = 1469598103934665603ull;
    h = hash_add(h, p->state);
    h = hash_add(h, top);
    h = hash_add(h, entry);
    h = hash_add(h, p->created);
    return hash_add(h, p->labels);
}

static int same_key(const rb_gor_group *g, const rb_gor_parser *p, const char *top, const char *entry)
{
    return !strcmp(g->state, p->state) && !strcmp(g->top, top) && !strcmp(g->entry, entry) &&
           !strcmp(g->created_by, p->created) && !strcmp(g->labels, p->labels);
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

static int new_group(rb_gor_parser *p, uint64_t h, const char *top, const char *entry, size_t *out)
{
    if (p->ngroups == p->gcap) {
        size_t ncap = p->gcap ? p->gcap * 2 : 64;
        rb_gor_group *g = realloc(p->groups, ncap * sizeof *g);
        if (!g)
            return 0;
        p->groups = g;
        uint64_t *gh = realloc(p->ghash, ncap * sizeof *gh);
        if (!gh)
            return 0;
        p->ghash = gh;
        p->gcap = ncap;
    }
    rb_gor_group *g = &p->groups[p->ngroups];
    memset(g, 0, sizeof *g);
    g->max_wait = -1;
    g->first_id = p->id;
    g->state = strdup(p->state);
    g->top = strdup(top);
    g->entry = strdup(entry);
    g->created_by = strdup(p->created);
    g->labels = strdup(p->labels);
    p->ghash[p->ngroups] = h;
    *out = p->ngroups++;
    if (!g->state || !g->top || !g->entry || !g->created_by || !g->labels)
        return 0;
    for (size_t i = 0; i < p->nframes && i < RB_GOR_MAX_STACK; i++)
        if (!(g->stack[g->nstack++] = strdup(p->frames[i])))
            return 0;
    return 1;
}

/* The group of the current goroutine: found, created, or -1 past the cap. */
static long find_group(rb_gor_parser *p, const char *top, const char *entry)
{
    uint64_t h = key_hash(p, top, entry);
    if ((p->ngroups + 1) * 2 > (p->slot ? p->mask + 1 : 0) && !rehash(p))
        return p->oom = 1, -1;
    size_t j = h & p->mask;
    for (; p->slot[j]; j = (j + 1) & p->mask) {
        size_t i = p->slot[j] - 1;
        if (p->ghash[i] == h && same_key(&p->groups[i], p, top, entry))
            return (long)i;
    }
    if (p->ngroups >= RB_GOR_MAX_GROUPS)
        return -1;
    size_t i;
    if (!new_group(p, h, top, entry, &i))
        return p->oom = 1, -1;
    p->slot[j] = (uint32_t)i + 1;
    return (long)i;
}

/* Folds the goroutine (or debug=1 record) just read into its group. */
static void end_record(rb_gor_parser *p)
{
    if (!p->in_g)
        return;
    p->in_g = 0;
    const char *top = p->top[0] ? p->top : p->first[0] ? p->first : "(no frames)";
    long i = find_group(p, top, p->last);
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
    p->in_g = 1;
    p->id = id;
    p->count = count;
    p->locked = p->elided = 0;
    p->wait = -1;
    p->nframes = 0;
    p->state[0] = p->top[0] = p->first[0] = p->last[0] = p->created[0] = p->labels[0] = '\0';
}

static void add_frame(rb_gor_parser *p, const char *fn, size_t n)
{
    if (n == 14 && memcmp(fn, "runtime.goexit", 14) == 0)
        return;  /* the bottom of every stack: says nothing about the goroutine */
    copy_str(p->last, fn, n);
    if (!p->first[0])
        memcpy(p->first, p->last, FN_MAX);
    if (!p->top[0] && !is_runtime(p->last))
        memcpy(p->top, p->last, FN_MAX);
    if (p->nframes < RB_GOR_MAX_STACK)
        memcpy(p->frames[p->nframes], p->last, FN_MAX);
    p->nframes++;
}

/* ---- debug=2 ------------------------------------------------------------ */

static int parse_u64(const char **s, const char *end, uint64_t *out)
{
    const char *q = *s;
    uint64_t v = 0;
    while (q < end && isdigit((unsigned char)*q) && v < UINT64_MAX / 10)
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
        copy_str(p->state, s, n);
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
        copy_str(p->created, fn, (size_t)(end - fn));
    } else if (starts(s, n, "...")) {
        p->elided = 1;
    } else if (!starts(s, n, "[originating from goroutine")) {
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
    } else if (starts(s, n, "goroutine ") && n > 10 && isdigit((unsigned char)s[10])) {
        g_header(p, s, n);
    } else if (isdigit((unsigned char)s[0])) {
        if (!d1_record(p, s, n) && p->in_g && p->debug == 2)
            g_line(p, s, n);
    } else if (s[0] == '#') {
        if (starts(s, n, "# labels: ") && p->in_g)
            copy_str(p->labels, s + 10, n - 10);
        else if (p->in_g && p->debug == 1 && n > 1 && (s[1] == '\t' || s[1] == ' '))
            d1_frame(p, s, n);
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
        p->carry = malloc(RB_GOR_MAX_LINE);
        if (!p->carry) {
            free(p);
            return NULL;
        }
    }
    return p;
}

int rb_gor_feed(rb_gor_parser *p, const char *buf, size_t len)
{
    const char *end = buf + len;
    while (buf < end && !p->oom) {
        const char *nl = memchr(buf, '\n', (size_t)(end - buf));
        size_t n = (size_t)((nl ? nl : end) - buf);
        if (!nl || p->ncarry) {
            /* keep a partial line (cut at RB_GOR_MAX_LINE: only its start matters) */
            size_t room = RB_GOR_MAX_LINE - p->ncarry, k = n < room ? n : room;
            memcpy(p->carry + p->ncarry, buf, k);
            p->ncarry += k;
            if (nl) {
                line(p, p->carry, p->ncarry);
                p->ncarry = 0;
            }
        } else {
            line(p, buf, n);
        }
        buf += n + (nl != NULL);
    }
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
    p->state[0] = p->created[0] = p->labels[0] = '\0';
    p->nframes = 0;
    p->id = 0;
    size_t i;
    uint64_t h = 0;
    if (!new_group(p, h, "(groups past the limit)", "", &i))
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
    free(p->slot);
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
