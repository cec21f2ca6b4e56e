/* pprof.c — decoder for Go's profile.proto (gzip or raw), see pprof.h.
 *
 * Hand-written rather than generated: protobuf-c is not among the project's
 * dependencies, and a schema-specific decoder can stream. The gzip input is
 * inflated through a window that only ever holds one top-level field (one
 * sample, one location, one string), and each field is decoded straight into
 * the flat arrays of rb_pprof, so memory is the decoded profile plus one field,
 * never the whole inflated message. The protobuf rules honoured: fields in any
 * order (Go writes string_table last, so string indices are checked only at
 * the end), repeated scalars packed or unpacked, unknown fields skipped by wire
 * type. Every index is checked in validate() before anyone uses it.
 * Uses zlib for gzip. */
#include "core/pprof.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define WINDOW_MIN   (64 * 1024)
/* Decoded memory may exceed the inflated size by at most this factor (plus
 * the slack): genuine profiles decode to 3-6 times their size, a bomb made of
 * tiny records (an empty Mapping is 2 bytes, 48 decoded) to 24 or more, and
 * is refused as soon as it shows it, long before max_memory. */
#define AMPLIFY      12
#define AMPLIFY_SLACK ((size_t)64 << 20)

/* ---- growable arrays ---------------------------------------------------- */

/* The capacity (doubling from cap, at least 16) that holds need; 0 on overflow. */
static size_t next_cap(size_t cap, size_t need, size_t elem)
{
    size_t ncap = cap ? cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return 0;
        ncap *= 2;
    }
    return ncap;
}

static int vec_reserve(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t ncap = next_cap(*cap, need, elem);
    void *nv = ncap ? realloc(*v, ncap * elem) : NULL;
    if (!nv)
        return 0;
    *v = nv;
    *cap = ncap;
    return 1;
}

/* ---- decoder state and the memory budget -------------------------------- */

typedef struct {
    rb_pprof *p;
    char *err;
    size_t errlen;
    rb_pprof_limits lim;
    size_t mem;           /* bytes of decoded arrays allocated so far */
    size_t inflated;      /* bytes of input decoded from so far */
} dec;

static int fail(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(dec *d, const char *fmt, ...)
{
    if (d->err[0])
        return 0;  /* keep the first, most specific reason */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, d->errlen, fmt, ap);
    va_end(ap);
    return 0;
}

/* Charges `bytes` of decoded memory to the budget (limits.max_memory). */
static int charge(dec *d, size_t bytes)
{
    if (bytes > d->lim.max_memory - d->mem)
        return fail(d, "decoding needs more than %zu bytes of memory (max_memory): not a profile "
                    "this engine will hold; raise max_memory if it is genuine", d->lim.max_memory);
    if (d->mem + bytes > AMPLIFY_SLACK + AMPLIFY * d->inflated)
        return fail(d, "%zu bytes decode to more than %zu bytes of memory (over %d times their size): "
                    "a decompression bomb, not a profile", d->inflated, d->mem + bytes, AMPLIFY);
    d->mem += bytes;
    return 1;
}

/* vec_reserve with the growth charged to the budget before it is allocated. */
static int grow(dec *d, void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t ncap = next_cap(*cap, need, elem);
    if (!ncap)
        return fail(d, "out of memory");
    if (!charge(d, (ncap - *cap) * elem))
        return 0;
    return vec_reserve(v, cap, need, elem) || fail(d, "out of memory");
}

/* Appends one zeroed element; evaluates to a pointer to it or NULL. */
#define VEC_PUSH(d, vec) \
    (grow(d, (void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof *(vec).v) \
         ? memset(&(vec).v[(vec).n++], 0, sizeof *(vec).v) : NULL)

/* ---- protobuf wire cursor ----------------------------------------------- */

typedef struct { const unsigned char *p, *end; } pb;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static int pb_varint(pb *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            return 0;
        unsigned char b = *c->p++;
        if (shift == 63 && b > 1)
            return 0;  /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static int pb_tag(pb *c, uint32_t *field, int *wire)
{
    uint64_t t;
    if (!pb_varint(c, &t) || (t >> 3) == 0 || (t >> 3) > UINT32_MAX)
        return 0;
    *field = (uint32_t)(t >> 3);
    *wire = (int)(t & 7);
    return 1;
}

/* The payload of a length-delimited field as a sub-cursor. */
static int pb_bytes(pb *c, pb *sub)
{
    uint64_t n;
    if (!pb_varint(c, &n) || n > (uint64_t)(c->end - c->p))
        return 0;
    sub->p = c->p;
    sub->end = c->p + n;
    c->p += n;
    return 1;
}

static int pb_skip(pb *c, int wire)
{
    uint64_t v;
    pb sub;
    switch (wire) {
    case WT_VARINT: return pb_varint(c, &v);
    case WT_LEN:    return pb_bytes(c, &sub);
    case WT_I64:
        if (c->end - c->p < 8) return 0;
        c->p += 8;
        return 1;
    case WT_I32:
        if (c->end - c->p < 4) return 0;
        c->p += 4;
        return 1;
    default:        return 0;  /* groups (3, 4) are not used by profile.proto */
    }
}

/* One scalar of an int64/uint64 field; fails on a non-varint wire type. */
static int pb_int(pb *c, int wire, int64_t *out)
{
    uint64_t v;
    if (wire != WT_VARINT || !pb_varint(c, &v))
        return 0;
    *out = (int64_t)v;
    return 1;
}

/* Appends the integers of a packed run to an array of 8-byte integers. */
static int pb_packed(dec *d, pb *sub, void **v, size_t *n, size_t *cap)
{
    while (sub->p < sub->end) {
        uint64_t x;
        if (!pb_varint(sub, &x) || !grow(d, v, cap, *n + 1, sizeof x))
            return 0;
        memcpy((char *)*v + *n * sizeof x, &x, sizeof x);
        (*n)++;
    }
    return 1;
}

/* A repeated integer field: one unpacked element or a packed run. */
static int pb_repeated(dec *d, pb *c, int wire, void **v, size_t *n, size_t *cap)
{
    pb sub = *c;
    if (wire == WT_VARINT) {
        const unsigned char *start = c->p;
        uint64_t x;
        if (!pb_varint(c, &x))
            return 0;
        sub.p = start;
        sub.end = c->p;
    } else if (wire != WT_LEN || !pb_bytes(c, &sub)) {
        return 0;
    }
    return pb_packed(d, &sub, v, n, cap);
}
#define PB_REPEATED(d, c, w, vec) pb_repeated(d, c, w, (void **)&(vec).v, &(vec).n, &(vec).cap)

/* ---- messages ----------------------------------------------------------- */

/* Walks the fields of a message; `on` decodes the ones it knows (returns 1
 * when handled, 0 on error, -1 to have the field skipped). */
typedef int (*field_fn)(dec *d, pb *c, uint32_t field, int wire, void *obj);

static int walk(dec *d, pb *c, field_fn on, void *obj, const char *what)
{
    while (c->p < c->end) {
        uint32_t field;
        int wire;
        if (!pb_tag(c, &field, &wire))
            return fail(d, "bad field tag in %s", what);
        int r = on(d, c, field, wire, obj);
        if (r == 0 || (r < 0 && !pb_skip(c, wire)))
            return fail(d, "malformed field %u in %s", field, what);
    }
    return 1;
}

static int on_vtype(dec *d, pb *c, uint32_t f, int w, void *obj)
{
    rb_pprof_vtype *t = obj;
    if (f == 1) return pb_int(c, w, &t->type);
    if (f == 2) return pb_int(c, w, &t->unit);
    return -1;
}

static int on_label(dec *d, pb *c, uint32_t f, int w, void *obj)
{
    rb_pprof_label *l = obj;
    switch (f) {
    case 1: return pb_int(c, w, &l->key);
    case 2: return pb_int(c, w, &l->str);
    case 3: return pb_int(c, w, &l->num);
    case 4: return pb_int(c, w, &l->num_unit);
    default: return -1;
    }
}

static int on_sample(dec *d, pb *c, uint32_t f, int w, void *obj)
{
    rb_pprof *p = d->p;
    rb_pprof_sample *s = obj;
    if (f == 1) {
        if (!PB_REPEATED(d, c, w, p->sample_locs)) return 0;
        s->nloc = p->sample_locs.n - s->loc_off;
        return 1;
    }
    if (f == 2) {
        if (!PB_REPEATED(d, c, w, p->sample_vals)) return 0;
        s->nval = p->sample_vals.n - s->val_off;
        return 1;
    }
    if (f == 3) {
        pb sub;
        rb_pprof_label *l;
        if (w != WT_LEN || !pb_bytes(c, &sub) || !(l = VEC_PUSH(d, p->labels)))
            return 0;
        s->nlabel = p->labels.n - s->label_off;
        return walk(d, &sub, on_label, l, "label");
    }
    return -1;
}

static int on_line(dec *d, pb *c, uint32_t f, int w, void *obj)
{
    rb_pprof_line *l = obj;
    if (f == 1) return pb_int(c, w, (int64_t *)&l->function);
    if (f == 2) return pb_int(c, w, &l->line);
    return -1;
}

static int on_location(dec *d, pb *c, uint32_t f, int w, void *obj)
{
    rb_pprof *p = d->p;
    rb_pprof_loc *l = obj;
    switch (f) {
    case 1: return pb_int(c, w, (int64_t *)&l->id);
    case 2: return pb_int(c, w, (int64_t *)&l->mapping);
    case 3: return pb_int(c, w, (int64_t *)&l->address);
    case 4: {
        pb sub;
        rb_pprof_line *ln;
        if (w != WT_LEN || !pb_bytes(c, &sub) || !(ln = VEC_PUSH(d, p->lines)))
            return 0;
        l->nline = p->lines.n - l->line_off;
        return walk(d, &sub, on_line, ln, "line");
    }
    default: return -1;
    }
}

static int on_function(dec *d, pb *c, uint32_t f, int w, void *obj)
{
    rb_pprof_func *fn = obj;
    switch (f) {
    case 1: return pb_int(c, w, (int64_t *)&fn->id);
    case 2: return pb_int(c, w, &fn->name);
    case 3: return pb_int(c, w, &fn->system_name);
    case 4: return pb_int(c, w, &fn->filename);
    case 5: return pb_int(c, w, &fn->start_line);
    default: return -1;
    }
}

static int on_mapping(dec *d, pb *c, uint32_t f, int w, void *obj)
{
    rb_pprof_map *m = obj;
    switch (f) {
    case 1: return pb_int(c, w, (int64_t *)&m->id);
    case 2: return pb_int(c, w, (int64_t *)&m->start);
    case 3: return pb_int(c, w, (int64_t *)&m->limit);
    case 4: return pb_int(c, w, (int64_t *)&m->offset);
    case 5: return pb_int(c, w, &m->filename);
    case 6: return pb_int(c, w, &m->build_id);
    default: return -1;
    }
}

static int add_string(dec *d, pb *s)
{
    rb_pprof *p = d->p;
    size_t n = (size_t)(s->end - s->p);
    if (!VEC_PUSH(d, p->str_off) ||
        !grow(d, (void **)&p->str_buf.v, &p->str_buf.cap, p->str_buf.n + n + 1, 1))
        return 0;
    p->str_off.v[p->str_off.n - 1] = p->str_buf.n;
    if (n)
        memcpy(p->str_buf.v + p->str_buf.n, s->p, n);
    p->str_buf.v[p->str_buf.n + n] = '\0';
    p->str_buf.n += n + 1;
    return 1;
}

/* A message-typed top-level field: appends an element and decodes into it. */
#define SUBMSG(vec, fn, what, init) do {                                \
        void *e_ = VEC_PUSH(d, vec);                                    \
        if (!e_) return fail(d, "out of memory");                       \
        init;                                                           \
        return walk(d, &sub, fn, e_, what);                             \
    } while (0)

/* One top-level Profile field whose payload is entirely in `c`. */
static int top_field(dec *d, pb *c, uint32_t f, int w)
{
    rb_pprof *p = d->p;
    if (w == WT_VARINT) {
        int64_t v;
        if (!pb_int(c, w, &v)) return fail(d, "bad varint in profile field %u", f);
        switch (f) {
        case 7:  p->drop_frames = v; break;
        case 8:  p->keep_frames = v; break;
        case 9:  p->time_nanos = v; break;
        case 10: p->duration_nanos = v; break;
        case 12: p->period = v; break;
        case 13: if (!VEC_PUSH(d, p->comments)) return fail(d, "out of memory");
                 p->comments.v[p->comments.n - 1] = v; break;
        case 14: p->default_sample_type = v; break;
        default: break;
        }
        return 1;
    }
    if (w != WT_LEN) {
        if (f >= 1 && f <= 14) return fail(d, "wrong wire type %d for profile field %u", w, f);
        return pb_skip(c, w) ? 1 : fail(d, "truncated profile field %u", f);
    }
    pb sub;
    if (!pb_bytes(c, &sub)) return fail(d, "truncated profile field %u", f);
    switch (f) {
    case 1: SUBMSG(p->sample_types, on_vtype, "sample_type", (void)0);
    case 2:
        if (p->samples.n >= d->lim.max_samples)
            return fail(d, "more than %zu samples (max_samples): not a profile this engine will "
                        "hold; raise max_samples if it is genuine", d->lim.max_samples);
        SUBMSG(p->samples, on_sample, "sample", {
                rb_pprof_sample *s_ = e_;
                s_->loc_off = p->sample_locs.n;
                s_->val_off = p->sample_vals.n;
                s_->label_off = p->labels.n; });
    case 3: SUBMSG(p->maps, on_mapping, "mapping", (void)0);
    case 4: SUBMSG(p->locs, on_location, "location",
                ((rb_pprof_loc *)e_)->line_off = p->lines.n);
    case 5: SUBMSG(p->funcs, on_function, "function", (void)0);
    case 6: return add_string(d, &sub) ? 1 : fail(d, "out of memory");
    case 11: return walk(d, &sub, on_vtype, &p->period_type, "period_type");
    case 13: return pb_packed(d, &sub, (void **)&p->comments.v, &p->comments.n, &p->comments.cap)
               || fail(d, "bad comment list");
    default: return 1;  /* unknown: already consumed */
    }
}

/* ---- input window: raw bytes or inflated gzip ---------------------------- */

typedef struct {
    const unsigned char *in;
    size_t inlen;
    int gz, zend;
    z_stream z;
    unsigned char *own;        /* inflate window (gzip only) */
    const unsigned char *win;  /* own, or in for raw input */
    size_t cap, pos, end, total;
} src;

static int src_open(src *s, const unsigned char *in, size_t len, dec *d)
{
    memset(s, 0, sizeof *s);
    s->in = in;
    s->inlen = len;
    s->gz = len >= 2 && in[0] == 0x1f && in[1] == 0x8b;
    if (!s->gz) {
        s->win = in;
        s->end = s->total = d->inflated = len;
        s->zend = 1;
        return 1;
    }
    s->z.next_in = (unsigned char *)in;  /* zlib's API is not const-correct */
    s->z.avail_in = len > UINT_MAX ? UINT_MAX : (unsigned)len;
    if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
        return fail(d, "cannot start gzip decoder");
    return 1;
}

static void src_close(src *s)
{
    if (s->gz)
        inflateEnd(&s->z);
    free(s->own);
}

/* Makes at least `need` bytes available from pos, or everything that is left. */
static int src_fill(src *s, size_t need, dec *d)
{
    if (s->end - s->pos >= need || s->zend)
        return 1;
    size_t have = s->end - s->pos;
    if (s->pos) {
        memmove(s->own, s->own + s->pos, have);
        s->pos = 0;
        s->end = have;
    }
    size_t want = need < WINDOW_MIN ? WINDOW_MIN : need;
    if (!vec_reserve((void **)&s->own, &s->cap, want, 1))
        return fail(d, "out of memory (field of %zu bytes)", need);
    s->win = s->own;
    while (s->end < need && !s->zend) {
        size_t room = s->cap - s->end;
        s->z.next_out = s->own + s->end;
        s->z.avail_out = room > UINT_MAX ? UINT_MAX : (unsigned)room;
        if (s->z.avail_in == 0) {  /* feed the rest of a >4 GB input */
            size_t used = (size_t)(s->z.next_in - s->in), left = s->inlen - used;
            s->z.avail_in = left > UINT_MAX ? UINT_MAX : (unsigned)left;
        }
        int rc = inflate(&s->z, Z_NO_FLUSH);
        size_t got = room - s->z.avail_out;
        s->end += got;
        s->total += got;
        d->inflated = s->total;
        if (s->total > d->lim.max_bytes)
            return fail(d, "inflated profile larger than %zu bytes (max_bytes): a gzip bomb or not a "
                        "profile this engine will hold; raise max_bytes if it is genuine", d->lim.max_bytes);
        if (rc == Z_STREAM_END)
            s->zend = 1;
        else if (rc == Z_BUF_ERROR || (rc == Z_OK && got == 0 && s->z.avail_in == 0))
            return fail(d, "truncated gzip data");
        else if (rc != Z_OK)
            return fail(d, "bad gzip data: %s", s->z.msg ? s->z.msg : "inflate failed");
    }
    return 1;
}

/* Reads every top-level field, one window-full at a time. */
static int decode(dec *d, src *s)
{
    for (;;) {
        if (!src_fill(s, 20, d))  /* a tag and a length: at most 20 bytes */
            return 0;
        if (s->pos == s->end)
            return 1;
        pb c = { s->win + s->pos, s->win + s->end };
        uint32_t f;
        int w;
        if (!pb_tag(&c, &f, &w))
            return fail(d, "bad field tag at byte %zu", s->pos);
        size_t hdr = (size_t)(c.p - (s->win + s->pos));
        if (w == WT_LEN) {
            uint64_t n;
            if (!pb_varint(&c, &n))
                return fail(d, "bad length at byte %zu", s->pos);
            size_t lenlen = (size_t)(c.p - (s->win + s->pos)) - hdr;
            if (n > d->lim.max_bytes)
                return fail(d, "field %u claims %llu bytes, more than max_bytes (%zu)", f,
                            (unsigned long long)n, d->lim.max_bytes);
            size_t whole = hdr + lenlen + (size_t)n;
            if (!src_fill(s, whole, d))
                return 0;
            if (s->end - s->pos < whole)
                return fail(d, "truncated profile: field %u needs %zu bytes, %zu left",
                            f, whole, s->end - s->pos);
            c.p = s->win + s->pos + hdr;
            c.end = s->win + s->pos + whole;
        }
        if (!top_field(d, &c, f, w))
            return 0;
        s->pos = (size_t)(c.p - s->win);
    }
}

/* ---- index checks ------------------------------------------------------- */

/* id -> array index, open addressing; ids are never 0 (0 marks a free slot). */
typedef struct { uint64_t *key; size_t *val; size_t mask; } idmap;

static int idmap_init(dec *d, idmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    if (!charge(d, cap * (sizeof *m->key + sizeof *m->val)))
        return 0;
    m->mask = cap - 1;
    m->key = calloc(cap, sizeof *m->key);
    m->val = calloc(cap, sizeof *m->val);
    return m->key && m->val;
}

static void idmap_free(idmap *m) { free(m->key); free(m->val); }

static size_t idmap_slot(const idmap *m, uint64_t id)
{
    size_t i = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & m->mask;
    while (m->key[i] && m->key[i] != id)
        i = (i + 1) & m->mask;
    return i;
}

static int idmap_put(idmap *m, uint64_t id, size_t v)
{
    size_t i = idmap_slot(m, id);
    if (m->key[i])
        return 0;
    m->key[i] = id;
    m->val[i] = v;
    return 1;
}

/* Resolves id to an index; 0 resolves to RB_PPROF_NONE. Returns 0 if unknown. */
static int idmap_get(const idmap *m, uint64_t id, uint64_t *out)
{
    if (id == 0) {
        *out = RB_PPROF_NONE;
        return 1;
    }
    size_t i = idmap_slot(m, id);
    if (!m->key[i])
        return 0;
    *out = m->val[i];
    return 1;
}

static int str_ok(const rb_pprof *p, int64_t i) { return i >= 0 && (uint64_t)i < p->str_off.n; }

/* Checks a list of string indices; `what` names the owner in the error. */
static int check_strs(dec *d, const char *what, size_t n, const int64_t *idx)
{
    for (size_t i = 0; i < n; i++)
        if (!str_ok(d->p, idx[i]))
            return fail(d, "%s: string index %lld out of range (%zu strings)",
                        what, (long long)idx[i], d->p->str_off.n);
    return 1;
}

/* Builds the id map of one table; ids must be non-zero and unique. */
#define BUILD_IDMAP(m, vec, what) do {                                          \
        if (!idmap_init(d, &(m), (vec).n)) { ok = fail(d, "out of memory"); goto out; } \
        for (size_t i_ = 0; i_ < (vec).n; i_++)                                 \
            if (!(vec).v[i_].id || !idmap_put(&(m), (vec).v[i_].id, i_)) {      \
                ok = fail(d, "%s id %llu is zero or repeated", what,            \
                          (unsigned long long)(vec).v[i_].id);                  \
                goto out;                                                       \
            }                                                                   \
    } while (0)

static int check_strings(dec *d)
{
    rb_pprof *p = d->p;
    if (p->str_off.n == 0 || p->str_buf.v[0] != '\0')
        return fail(d, "string table is empty or does not start with \"\" (not a profile)");
    for (size_t i = 0; i < p->sample_types.n; i++) {
        int64_t s[2] = { p->sample_types.v[i].type, p->sample_types.v[i].unit };
        if (!check_strs(d, "sample_type", 2, s)) return 0;
    }
    for (size_t i = 0; i < p->labels.n; i++) {
        rb_pprof_label *l = &p->labels.v[i];
        int64_t s[3] = { l->key, l->str, l->num_unit };
        if (!check_strs(d, "label", 3, s)) return 0;
    }
    for (size_t i = 0; i < p->funcs.n; i++) {
        rb_pprof_func *f = &p->funcs.v[i];
        int64_t s[3] = { f->name, f->system_name, f->filename };
        if (!check_strs(d, "function", 3, s)) return 0;
    }
    for (size_t i = 0; i < p->maps.n; i++) {
        int64_t s[2] = { p->maps.v[i].filename, p->maps.v[i].build_id };
        if (!check_strs(d, "mapping", 2, s)) return 0;
    }
    int64_t s[4] = { p->period_type.type, p->period_type.unit, p->drop_frames, p->keep_frames };
    return check_strs(d, "profile", 4, s) &&
           check_strs(d, "default_sample_type", 1, &p->default_sample_type) &&
           check_strs(d, "comment", p->comments.n, p->comments.v);
}

static int check_samples(dec *d, const idmap *locs)
{
    rb_pprof *p = d->p;
    for (size_t i = 0; i < p->samples.n; i++) {
        rb_pprof_sample *s = &p->samples.v[i];
        if (s->nval != p->sample_types.n)
            return fail(d, "sample %zu has %zu values for %zu sample types",
                        i, s->nval, p->sample_types.n);
        for (size_t j = 0; j < s->nloc; j++) {
            uint64_t *l = &p->sample_locs.v[s->loc_off + j];
            if (*l == 0 || !idmap_get(locs, *l, l))
                return fail(d, "sample %zu names unknown location id %llu", i,
                            (unsigned long long)*l);
        }
    }
    return 1;
}

/* Replaces ids by indices everywhere, checking each. */
static int check_ids(dec *d)
{
    rb_pprof *p = d->p;
    idmap fm = {0}, mm = {0}, lm = {0};
    int ok = 1;
    BUILD_IDMAP(fm, p->funcs, "function");
    BUILD_IDMAP(mm, p->maps, "mapping");
    BUILD_IDMAP(lm, p->locs, "location");
    for (size_t i = 0; ok && i < p->locs.n; i++) {
        rb_pprof_loc *l = &p->locs.v[i];
        if (!idmap_get(&mm, l->mapping, &l->mapping))
            ok = fail(d, "location %llu names unknown mapping", (unsigned long long)l->id);
    }
    for (size_t i = 0; ok && i < p->lines.n; i++)
        if (!idmap_get(&fm, p->lines.v[i].function, &p->lines.v[i].function))
            ok = fail(d, "line names unknown function id %llu",
                      (unsigned long long)p->lines.v[i].function);
    ok = ok && check_samples(d, &lm);
out:
    idmap_free(&fm);
    idmap_free(&mm);
    idmap_free(&lm);
    return ok;
}

/* ---- API ---------------------------------------------------------------- */

const rb_pprof_limits rb_pprof_default_limits = {
    RB_PPROF_MAX_BYTES, RB_PPROF_MAX_SAMPLES, RB_PPROF_MAX_MEMORY
};

rb_pprof *rb_pprof_parse(const void *data, size_t len, char *err, size_t errlen)
{
    return rb_pprof_parse_limited(data, len, &rb_pprof_default_limits, err, errlen);
}

rb_pprof *rb_pprof_parse_limited(const void *data, size_t len, const rb_pprof_limits *lim,
                                 char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    rb_pprof *p = calloc(1, sizeof *p);
    dec d = { p, err, errlen, *lim, sizeof *p, 0 };
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (len == 0 || len > lim->max_bytes) {
        if (len) fail(&d, "profile of %zu bytes, more than max_bytes (%zu)", len, lim->max_bytes);
        else fail(&d, "empty input (not a profile)");
        rb_pprof_free(p);
        return NULL;
    }
    src s;
    int ok = src_open(&s, data, len, &d) && decode(&d, &s);
    p->input_bytes = s.total;
    src_close(&s);
    ok = ok && check_strings(&d) && check_ids(&d);
    if (!ok) {
        if (!err[0])
            fail(&d, "malformed profile");
        rb_pprof_free(p);
        return NULL;
    }
    return p;
}

void rb_pprof_free(rb_pprof *p)
{
    if (!p)
        return;
    free(p->sample_types.v);
    free(p->samples.v);
    free(p->sample_locs.v);
    free(p->sample_vals.v);
    free(p->labels.v);
    free(p->locs.v);
    free(p->lines.v);
    free(p->funcs.v);
    free(p->maps.v);
    free(p->str_off.v);
    free(p->str_buf.v);
    free(p->comments.v);
    free(p);
}

const char *rb_pprof_str(const rb_pprof *p, int64_t idx)
{
    return str_ok(p, idx) ? p->str_buf.v + p->str_off.v[idx] : "";
}

int rb_pprof_type_index(const rb_pprof *p, const char *name)
{
    for (size_t i = 0; i < p->sample_types.n; i++)
        if (strcmp(rb_pprof_str(p, p->sample_types.v[i].type), name) == 0)
            return (int)i;
    return -1;
}

int rb_pprof_default_type(const rb_pprof *p)
{
    if (p->default_sample_type) {
        int i = rb_pprof_type_index(p, rb_pprof_str(p, p->default_sample_type));
        if (i >= 0)
            return i;
    }
    return (int)p->sample_types.n - 1;
}
