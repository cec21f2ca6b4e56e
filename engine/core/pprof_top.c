/* pprof_top.c — function-level aggregation of a profile (see pprof_top.h).
 *
 * Mirrors google/pprof's graph building for `-top` at the default
 * "functions" granularity: each frame (inlined ones included) becomes the
 * node of its function name; a sample adds its value to the cum of every
 * distinct node on its stack and to the flat of its innermost frame; the
 * percentage base is the sum of absolute sample values. Uses pprof.h. */
#include "core/pprof_top.h"
#include <stdlib.h>
#include <string.h>

/* ---- node names: string -> id, open addressing -------------------------- */

typedef struct { uint32_t *slot; size_t mask; } namemap;  /* slot: id + 1, 0 free */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int namemap_grow(namemap *m, const rb_pprof_frames *f)
{
    size_t cap = m->slot ? (m->mask + 1) * 2 : 64;
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return 0;
    for (size_t i = 0; i < f->nnames; i++) {
        size_t j = hash_str(f->names[i]) & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = (uint32_t)i + 1;
    }
    free(m->slot);
    m->slot = slot;
    m->mask = cap - 1;
    return 1;
}

/* The id of name, adding it if new. */
static int node_of(rb_pprof_frames *f, namemap *m, const char *name, uint32_t *out)
{
    if ((f->nnames + 1) * 2 > (m->slot ? m->mask + 1 : 0) && !namemap_grow(m, f))
        return 0;
    size_t j = hash_str(name) & m->mask;
    while (m->slot[j]) {
        if (strcmp(f->names[m->slot[j] - 1], name) == 0) {
            *out = m->slot[j] - 1;
            return 1;
        }
        j = (j + 1) & m->mask;
    }
    if (f->nnames == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 64;
        char **nn = realloc(f->names, ncap * sizeof *nn);
        if (!nn)
            return 0;
        f->names = nn;
        f->cap = ncap;
    }
    char *copy = strdup(name);
    if (!copy)
        return 0;
    f->names[f->nnames] = copy;
    m->slot[j] = (uint32_t)f->nnames + 1;
    *out = (uint32_t)f->nnames++;
    return 1;
}

/* Name of a frame without a function name: "[base of objfile]" or "<unknown>". */
static int anon_node(const rb_pprof *p, const rb_pprof_loc *l, rb_pprof_frames *f,
                     namemap *m, uint32_t *out)
{
    const char *file = l->mapping == RB_PPROF_NONE ? ""
                     : rb_pprof_str(p, p->maps.v[l->mapping].filename);
    if (!*file)
        return node_of(f, m, "<unknown>", out);
    const char *base = strrchr(file, '/');
    base = base && base[1] ? base + 1 : file;
    size_t n = strlen(base) + 3;
    char *buf = malloc(n);
    if (!buf)
        return 0;
    snprintf(buf, n, "[%s]", base);
    int ok = node_of(f, m, buf, out);
    free(buf);
    return ok;
}

static int frame_node(const rb_pprof *p, const rb_pprof_loc *l, const rb_pprof_line *ln,
                      const uint32_t *func_node, rb_pprof_frames *f, namemap *m, uint32_t *out)
{
    if (ln && ln->function != RB_PPROF_NONE && func_node[ln->function] != RB_PPROF_NONE) {
        *out = func_node[ln->function];
        return 1;
    }
    return anon_node(p, l, f, m, out);
}

static int build_locs(const rb_pprof *p, rb_pprof_frames *f, namemap *m, const uint32_t *func_node)
{
    size_t total = 0;
    for (size_t i = 0; i < p->locs.n; i++)
        total += p->locs.v[i].nline ? p->locs.v[i].nline : 1;
    f->off = malloc((p->locs.n + 1) * sizeof *f->off);
    f->cnt = malloc((p->locs.n + 1) * sizeof *f->cnt);
    f->node = malloc((total + 1) * sizeof *f->node);
    if (!f->off || !f->cnt || !f->node)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < p->locs.n; i++) {
        const rb_pprof_loc *l = &p->locs.v[i];
        f->off[i] = k;
        f->cnt[i] = l->nline ? l->nline : 1;
        for (size_t j = 0; j < f->cnt[i]; j++) {
            const rb_pprof_line *ln = l->nline ? &p->lines.v[l->line_off + j] : NULL;
            if (!frame_node(p, l, ln, func_node, f, m, &f->node[k++]))
                return 0;
        }
    }
    return 1;
}

int rb_pprof_frames_build(const rb_pprof *p, rb_pprof_frames *f)
{
    memset(f, 0, sizeof *f);
    namemap m = {0};
    uint32_t *func_node = malloc((p->funcs.n + 1) * sizeof *func_node);
    int ok = func_node != NULL;
    for (size_t i = 0; ok && i < p->funcs.n; i++) {
        const char *name = rb_pprof_str(p, p->funcs.v[i].name);
        func_node[i] = RB_PPROF_NONE;
        if (*name)
            ok = node_of(f, &m, name, &func_node[i]);
    }
    ok = ok && build_locs(p, f, &m, func_node);
    free(func_node);
    free(m.slot);
    if (!ok)
        rb_pprof_frames_free(f);
    return ok;
}

void rb_pprof_frames_free(rb_pprof_frames *f)
{
    for (size_t i = 0; i < f->nnames; i++)
        free(f->names[i]);
    free(f->names);
    free(f->off);
    free(f->cnt);
    free(f->node);
    memset(f, 0, sizeof *f);
}

/* ---- aggregation -------------------------------------------------------- */

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

/* Adds one sample to flat/cum; seen[] holds the stamp of the last sample per node. */
static void add_sample(const rb_pprof *p, const rb_pprof_frames *f, const rb_pprof_sample *s,
                       int64_t v, size_t stamp, size_t *seen, rb_pprof_row *rows)
{
    for (size_t j = 0; j < s->nloc; j++) {
        size_t loc = (size_t)p->sample_locs.v[s->loc_off + j];
        for (size_t k = 0; k < f->cnt[loc]; k++) {
            uint32_t n = f->node[f->off[loc] + k];
            if (seen[n] != stamp) {
                seen[n] = stamp;
                rows[n].cum += v;
            }
        }
    }
    size_t leaf = (size_t)p->sample_locs.v[s->loc_off];
    rows[f->node[f->off[leaf]]].flat += v;
}

int rb_pprof_aggregate(const rb_pprof *p, int type, rb_pprof_table *t)
{
    memset(t, 0, sizeof *t);
    if (!rb_pprof_frames_build(p, &t->frames))
        return 0;
    size_t nn = t->frames.nnames;
    size_t *seen = calloc(nn + 1, sizeof *seen);
    t->rows = calloc(nn + 1, sizeof *t->rows);
    if (!seen || !t->rows) {
        free(seen);
        rb_pprof_table_free(t);
        return 0;
    }
    for (size_t i = 0; i < p->samples.n; i++) {
        const rb_pprof_sample *s = &p->samples.v[i];
        int64_t v = p->sample_vals.v[s->val_off + (size_t)type];
        t->total += abs64(v);
        if (v == 0 || s->nloc == 0)
            continue;
        t->node_sum += v;
        add_sample(p, &t->frames, s, v, i + 1, seen, t->rows);
    }
    free(seen);
    for (size_t i = 0; i < nn; i++) {
        t->rows[i].name = t->frames.names[i];
        if (t->rows[i].flat || t->rows[i].cum)
            t->rows[t->n++] = t->rows[i];
    }
    return 1;
}

void rb_pprof_table_free(rb_pprof_table *t)
{
    rb_pprof_frames_free(&t->frames);
    free(t->rows);
    memset(t, 0, sizeof *t);
}

void rb_pprof_trim(rb_pprof_table *t, double fraction)
{
    int64_t cutoff = abs64((int64_t)((double)t->node_sum * fraction));
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++)
        if (abs64(t->rows[i].cum) >= cutoff)
            t->rows[k++] = t->rows[i];
    t->n = k;
}

static int cmp_i64desc(int64_t a, int64_t b) { return a > b ? -1 : a < b; }

static int by_flat(const void *x, const void *y)
{
    const rb_pprof_row *a = x, *b = y;
    int c = cmp_i64desc(abs64(a->flat), abs64(b->flat));
    if (!c) c = strcmp(a->name, b->name);
    return c ? c : cmp_i64desc(abs64(a->cum), abs64(b->cum));
}

static int by_cum(const void *x, const void *y)
{
    const rb_pprof_row *a = x, *b = y;
    int c = cmp_i64desc(abs64(a->cum), abs64(b->cum));
    if (!c) c = strcmp(a->name, b->name);
    return c ? c : cmp_i64desc(abs64(a->flat), abs64(b->flat));
}

void rb_pprof_sort(rb_pprof_table *t, int cum)
{
    qsort(t->rows, t->n, sizeof *t->rows, cum ? by_cum : by_flat);
}

/* ---- before/after ------------------------------------------------------- */

static int by_name(const void *x, const void *y)
{
    return strcmp(((const rb_pprof_row *)x)->name, ((const rb_pprof_row *)y)->name);
}

static int by_change(const void *x, const void *y)
{
    const rb_pprof_delta *a = x, *b = y;
    int c = cmp_i64desc(abs64(a->after_flat - a->before_flat), abs64(b->after_flat - b->before_flat));
    if (!c) c = cmp_i64desc(abs64(a->after_cum - a->before_cum), abs64(b->after_cum - b->before_cum));
    return c ? c : strcmp(a->name, b->name);
}

int rb_pprof_diff(const rb_pprof_table *a, const rb_pprof_table *b, rb_pprof_delta **out, size_t *n)
{
    rb_pprof_row *ra = malloc((a->n + 1) * sizeof *ra), *rb = malloc((b->n + 1) * sizeof *rb);
    rb_pprof_delta *d = malloc((a->n + b->n + 1) * sizeof *d);
    if (!ra || !rb || !d) {
        free(ra); free(rb); free(d);
        return 0;
    }
    memcpy(ra, a->rows, a->n * sizeof *ra);
    memcpy(rb, b->rows, b->n * sizeof *rb);
    qsort(ra, a->n, sizeof *ra, by_name);
    qsort(rb, b->n, sizeof *rb, by_name);
    size_t i = 0, j = 0, k = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(ra[i].name, rb[j].name);
        rb_pprof_delta *e = &d[k++];
        memset(e, 0, sizeof *e);
        if (c <= 0) {
            e->name = ra[i].name;
            e->before_flat = ra[i].flat;
            e->before_cum = ra[i++].cum;
        }
        if (c >= 0) {
            e->name = rb[j].name;
            e->after_flat = rb[j].flat;
            e->after_cum = rb[j++].cum;
        }
    }
    free(ra);
    free(rb);
    qsort(d, k, sizeof *d, by_change);
    *out = d;
    *n = k;
    return 1;
}
