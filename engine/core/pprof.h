/* pprof.h — Go profiles (profile.proto, gzip or raw) decoded into C structs.
 *
 * rb_pprof_parse() turns the bytes of a /debug/pprof/{profile,heap,allocs,
 * block,mutex,...} response into an rb_pprof whose indices have all been
 * checked: every string index is inside the string table, every location id
 * a sample names exists, every function id a line names exists, and every
 * sample has one value per sample type. Consumers (pprof_top.c, pprof_flame.c,
 * the Lua binding) can therefore index without checking again.
 * No Lua here: bytes in, structs out, so it can be unit-tested and fuzzed. */
#ifndef RB_PPROF_H
#define RB_PPROF_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RB_PPROF_VEC(T) struct { T *v; size_t n, cap; }
#define RB_PPROF_NONE   UINT32_MAX  /* "no function" / "no mapping" */

typedef struct { int64_t type, unit; } rb_pprof_vtype;          /* string indices */
typedef struct { int64_t key, str, num, num_unit; } rb_pprof_label;
typedef struct {
    size_t loc_off, nloc;      /* into sample_locs: location indices, innermost first */
    size_t val_off, nval;      /* into sample_vals: one per sample type */
    size_t label_off, nlabel;  /* into labels */
} rb_pprof_sample;
typedef struct { uint64_t function; int64_t line; } rb_pprof_line; /* function: index or NONE */
typedef struct {
    uint64_t id, mapping, address;  /* mapping: index or NONE after parse */
    size_t line_off, nline;         /* into lines; lines[0] is the innermost inlined frame */
} rb_pprof_loc;
typedef struct { uint64_t id; int64_t name, system_name, filename, start_line; } rb_pprof_func;
typedef struct { uint64_t id, start, limit, offset; int64_t filename, build_id; } rb_pprof_map;

typedef struct rb_pprof {
    RB_PPROF_VEC(rb_pprof_vtype) sample_types;
    RB_PPROF_VEC(rb_pprof_sample) samples;
    RB_PPROF_VEC(uint64_t) sample_locs;
    RB_PPROF_VEC(int64_t) sample_vals;
    RB_PPROF_VEC(rb_pprof_label) labels;
    RB_PPROF_VEC(rb_pprof_loc) locs;
    RB_PPROF_VEC(rb_pprof_line) lines;
    RB_PPROF_VEC(rb_pprof_func) funcs;
    RB_PPROF_VEC(rb_pprof_map) maps;
    RB_PPROF_VEC(size_t) str_off;  /* offsets into str_buf, each string NUL-terminated */
    RB_PPROF_VEC(char) str_buf;
    RB_PPROF_VEC(int64_t) comments;
    rb_pprof_vtype period_type;
    int64_t drop_frames, keep_frames, time_nanos, duration_nanos, period;
    int64_t default_sample_type;   /* string index, 0 = none */
    size_t input_bytes;            /* decompressed size of the message */
} rb_pprof;

/* Bounds on the work hostile input can cause. A real Go profile is a few MB
 * inflated, tens of thousands of samples, tens of MB decoded; the defaults
 * also take bench/pprof.sh's 500,000-stack heap profile (33 MB inflated,
 * about 190 MB decoded). max_memory counts every decoded array and index
 * (what the decoder allocates, beyond the input and one field's inflate
 * window), so peak memory is about max_memory + the largest field. Beside
 * these, decoded memory may not pass 64 MiB + 12 times the bytes inflated so
 * far: a bomb of tiny records is refused early (see pprof.c). */
typedef struct {
    size_t max_bytes;    /* inflated message (and raw input) size */
    size_t max_samples;  /* Sample messages */
    size_t max_memory;   /* decoded arrays and id maps */
} rb_pprof_limits;
#define RB_PPROF_MAX_BYTES   ((size_t)64 << 20)
#define RB_PPROF_MAX_SAMPLES ((size_t)1000000)
#define RB_PPROF_MAX_MEMORY  ((size_t)256 << 20)
extern const rb_pprof_limits rb_pprof_default_limits;

/* Parses gzip-compressed or raw profile.proto bytes within the default
 * limits. Returns NULL and writes a one-line reason into err (errlen bytes)
 * on malformed input, a limit passed (the reason names it), or no memory. */
rb_pprof *rb_pprof_parse(const void *data, size_t len, char *err, size_t errlen);
rb_pprof *rb_pprof_parse_limited(const void *data, size_t len, const rb_pprof_limits *lim,
                                 char *err, size_t errlen);
void rb_pprof_free(rb_pprof *p);

/* String idx of the table (parse guarantees idx is in range for every index it stored). */
const char *rb_pprof_str(const rb_pprof *p, int64_t idx);
/* Index of the sample type called name, or -1. */
int rb_pprof_type_index(const rb_pprof *p, const char *name);
/* The type `go tool pprof` shows by default: default_sample_type, else the last. -1 if none. */
int rb_pprof_default_type(const rb_pprof *p);
#endif
