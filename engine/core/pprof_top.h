/* pprof_top.h — per-function totals of a decoded profile, as `go tool pprof
 * -top` computes them (granularity "functions"), and before/after deltas.
 *
 * A node is a function name (inlined frames are nodes of their own); flat is
 * the value of samples whose innermost frame is the node, cum the value of
 * samples with the node anywhere on the stack, counted once per sample.
 * Frames without a function are named like pprof does: "[objfile]" or
 * "<unknown>". Uses pprof.h; no Lua. */
#ifndef RB_PPROF_TOP_H
#define RB_PPROF_TOP_H
#include "core/pprof.h"

/* Per location, the node ids of its frames, innermost first. */
typedef struct {
    size_t *off, *cnt;      /* per location */
    uint32_t *node;         /* frames of all locations */
    char **names;           /* node id -> name */
    size_t nnames, cap;
} rb_pprof_frames;

int  rb_pprof_frames_build(const rb_pprof *p, rb_pprof_frames *f);  /* 0: out of memory */
void rb_pprof_frames_free(rb_pprof_frames *f);

typedef struct { const char *name; int64_t flat, cum; } rb_pprof_row;
typedef struct {
    rb_pprof_frames frames;  /* owns the names the rows point to */
    rb_pprof_row *rows;      /* one per node with a non-zero flat or cum */
    size_t n;
    int64_t total;           /* sum of |value| over samples: the percentage base */
    int64_t node_sum;        /* sum of flat: what pprof's node cutoff is a fraction of */
} rb_pprof_table;

/* Aggregates sample type `type` (0 <= type < sample_types.n). 0: out of memory. */
int  rb_pprof_aggregate(const rb_pprof *p, int type, rb_pprof_table *t);
void rb_pprof_table_free(rb_pprof_table *t);
/* Drops rows whose |cum| is below fraction * node_sum (pprof -nodefraction,
 * 0.005 by default) — the nodes `go tool pprof` reports as "Dropped". */
void rb_pprof_trim(rb_pprof_table *t, double fraction);
/* pprof's orders: by flat (then name, then cum) or by cum (then name, then flat). */
void rb_pprof_sort(rb_pprof_table *t, int by_cum);

typedef struct { const char *name; int64_t before_flat, after_flat, before_cum, after_cum; } rb_pprof_delta;
/* Joins two tables by name; sorted by |flat change| descending, then |cum
 * change|, then name. Names point into a and b. *out is malloc'd. */
int rb_pprof_diff(const rb_pprof_table *a, const rb_pprof_table *b, rb_pprof_delta **out, size_t *n);
#endif
