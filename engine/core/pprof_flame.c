/* pprof_flame.c — SVG flame graph (see pprof_flame.h).
 *
 * Stacks are merged root-first into a tree keyed by (parent, function); a
 * frame's width is the value of the samples under it. Children are drawn in
 * name order, as flamegraph.pl does, so two graphs of the same program line
 * up. Frames narrower than a tenth of a pixel are not drawn (nor their
 * children): they would be invisible and only make the file large. */
#include "core/pprof_flame.h"
#include "core/pprof_top.h"
#include <stdlib.h>
#include <string.h>

#define WIDTH     1200.0
#define ROW       16
#define TOP_PAD   40
#define MAX_DEPTH 1024
#define MIN_PX    0.1

typedef struct { uint32_t node, first, next; int64_t value; } fnode;

typedef struct {
    fnode *n;
    size_t len, cap;
    uint64_t *hkey;   /* (parent + 1) << 32 | node; 0 = free */
    uint32_t *hval;
    size_t hmask;
    const rb_pprof_frames *f;
    FILE *out;
    double scale;
    int max_depth;
} tree;

static int tree_rehash(tree *t)
{
    size_t cap = t->hkey ? (t->hmask + 1) * 2 : 1024;
    uint64_t *k = calloc(cap, sizeof *k);
    uint32_t *v = calloc(cap, sizeof *v);
    if (!k || !v) {
        free(k); free(v);
        return 0;
    }
    for (size_t i = 0; t->hkey && i <= t->hmask; i++) {
        if (!t->hkey[i])
            continue;
        size_t j = (size_t)(t->hkey[i] * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
        while (k[j])
            j = (j + 1) & (cap - 1);
        k[j] = t->hkey[i];
        v[j] = t->hval[i];
    }
    free(t->hkey); free(t->hval);
    t->hkey = k; t->hval = v; t->hmask = cap - 1;
    return 1;
}

/* The child of parent for node, created on first use. UINT32_MAX: no memory. */
static uint32_t child(tree *t, uint32_t parent, uint32_t node)
{
    if ((t->len + 1) * 2 > (t->hkey ? t->hmask + 1 : 0) && !tree_rehash(t))
        return UINT32_MAX;
    uint64_t key = ((uint64_t)parent + 1) << 32 | node;
    size_t j = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & t->hmask;
    for (; t->hkey[j]; j = (j + 1) & t->hmask)
        if (t->hkey[j] == key)
            return t->hval[j];
    if (t->len == t->cap) {
        size_t ncap = t->cap * 2;
        fnode *nn = realloc(t->n, ncap * sizeof *nn);
        if (!nn)
            return UINT32_MAX;
        t->n = nn;
        t->cap = ncap;
    }
    uint32_t id = (uint32_t)t->len++;
    t->n[id] = (fnode){ node, UINT32_MAX, t->n[parent].first, 0 };
    t->n[parent].first = id;
    t->hkey[j] = key;
    t->hval[j] = id;
    return id;
}

static int add_stack(tree *t, const rb_pprof *p, const rb_pprof_sample *s, int64_t v)
{
    uint32_t cur = 0;
    t->n[0].value += v;
    for (size_t j = s->nloc; j-- > 0;) {
        size_t loc = (size_t)p->sample_locs.v[s->loc_off + j];
        for (size_t k = t->f->cnt[loc]; k-- > 0;) {
            cur = child(t, cur, t->f->node[t->f->off[loc] + k]);
            if (cur == UINT32_MAX)
                return 0;
            t->n[cur].value += v;
        }
    }
    return 1;
}

static void xml_text(FILE *out, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        switch (s[i]) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if ((unsigned char)s[i] >= 0x20) fputc(s[i], out);
        }
    }
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int by_name(const void *a, const void *b, void *arg)
{
    const tree *t = arg;
    const fnode *x = &t->n[*(const uint32_t *)a], *y = &t->n[*(const uint32_t *)b];
    return strcmp(t->f->names[x->node], t->f->names[y->node]);
}

static void draw(tree *t, uint32_t id, double x, int depth, int64_t total);

static void draw_children(tree *t, uint32_t id, double x, int depth, int64_t total)
{
    size_t nkids = 0;
    for (uint32_t c = t->n[id].first; c != UINT32_MAX; c = t->n[c].next)
        nkids++;
    uint32_t *kids = malloc((nkids + 1) * sizeof *kids);
    if (!kids)
        return;
    nkids = 0;
    for (uint32_t c = t->n[id].first; c != UINT32_MAX; c = t->n[c].next)
        kids[nkids++] = c;
    qsort_r(kids, nkids, sizeof *kids, by_name, t);
    for (size_t i = 0; i < nkids; i++) {
        draw(t, kids[i], x, depth + 1, total);
        x += (double)t->n[kids[i]].value * t->scale;
    }
    free(kids);
}

static void draw(tree *t, uint32_t id, double x, int depth, int64_t total)
{
    const fnode *n = &t->n[id];
    double w = (double)n->value * t->scale;
    if (w < MIN_PX || depth > MAX_DEPTH)
        return;
    const char *name = id == 0 ? "all" : t->f->names[n->node];
    uint32_t h = name_hash(name);
    int y = TOP_PAD + (t->max_depth - depth) * ROW;
    fprintf(t->out, "<g><title>");
    xml_text(t->out, name, 4096);
    fprintf(t->out, " (%lld, %.2f%%)</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
            "fill=\"rgb(%u,%u,%u)\" rx=\"2\"/>", (long long)n->value,
            total ? 100.0 * (double)n->value / (double)total : 0.0, x, y, w, ROW - 1,
            205 + h % 50, 60 + (h >> 8) % 170, (h >> 16) % 60);
    size_t fit = (size_t)(w / 7);
    if (fit >= 3) {
        fprintf(t->out, "<text x=\"%.2f\" y=\"%d\">", x + 3, y + ROW - 4);
        size_t len = strlen(name);
        xml_text(t->out, name, len <= fit ? len : fit - 2);
        fputs(len <= fit ? "" : "..", t->out);
        fputs("</text>", t->out);
    }
    fputs("</g>\n", t->out);
    draw_children(t, id, x, depth, total);
}

static int depth_of(const tree *t, uint32_t id, int d)
{
    int best = d;
    for (uint32_t c = t->n[id].first; c != UINT32_MAX && d < MAX_DEPTH; c = t->n[c].next) {
        int k = depth_of(t, c, d + 1);
        if (k > best)
            best = k;
    }
    return best;
}

static int build(tree *t, const rb_pprof *p, int type)
{
    t->cap = 1024;
    t->n = malloc(t->cap * sizeof *t->n);
    if (!t->n)
        return 0;
    t->n[0] = (fnode){ 0, UINT32_MAX, UINT32_MAX, 0 };
    t->len = 1;
    for (size_t i = 0; i < p->samples.n; i++) {
        const rb_pprof_sample *s = &p->samples.v[i];
        int64_t v = p->sample_vals.v[s->val_off + (size_t)type];
        if (v > 0 && !add_stack(t, p, s, v))
            return 0;
    }
    return 1;
}

int rb_pprof_flamegraph(const rb_pprof *p, int type, const char *title, FILE *out,
                        char *err, size_t errlen)
{
    rb_pprof_frames f;
    tree t = {0};
    if (!rb_pprof_frames_build(p, &f)) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    t.f = &f;
    t.out = out;
    int ok = build(&t, p, type);
    if (ok) {
        int64_t total = t.n[0].value;
        t.scale = total > 0 ? (WIDTH - 20) / (double)total : 0;
        t.max_depth = depth_of(&t, 0, 0);
        int height = TOP_PAD + (t.max_depth + 2) * ROW;
        fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" font-family=\"monospace\" font-size=\"11\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"#fdf6e3\"/>\n"
                "<text x=\"%d\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">",
                (int)WIDTH, height, (int)WIDTH, height, (int)WIDTH / 2);
        xml_text(out, title ? title : "", 200);
        fputs("</text>\n", out);
        if (total > 0)
            draw(&t, 0, 10, 0, total);
        fputs("</svg>\n", out);
        if (ferror(out))
            ok = 0, snprintf(err, errlen, "write failed");
    } else {
        snprintf(err, errlen, "out of memory");
    }
    free(t.n);
    free(t.hkey);
    free(t.hval);
    rb_pprof_frames_free(&f);
    return ok;
}
