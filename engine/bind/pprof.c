/* bind/pprof.c — rb.pprof: Go profiles and goroutine dumps read by the engine.
 *
 *   pprof.parse(bytes, {max_bytes, max_samples, max_memory})
 *                             -> Profile | nil, err{kind = "parse"}
 *   pprof.goroutines(text|fn|file) -> {total, debug, groups = {...}} | nil, err{kind = "parse"}
 *   Profile:top{n, by, sample_type, node_fraction}, :total(type), :sample_types(),
 *   :info(), :labels{sample_type}, :diff(other, {sample_type, n}),
 *   :flamegraph{sample_type, title} -> SVG text, :close()
 *
 * The decoding, aggregation and SVG are the pure C of core/pprof*.c and
 * core/goroutine.c; this file only moves their structs into Lua values.
 * Fetching (pprof.fetch) is Lua in lualib/rb/pprof.lua on rb.http, which
 * holds the gate's ticket itself. Nothing here does I/O: a flame graph is
 * returned as text, never written to a path (a local write is a side effect
 * runbook code does not get). C memory that lives across calls which may
 * raise is held in a to-be-closed box (box.h), freed on return or raise. */
#include "core/goroutine.h"
#include "core/pprof.h"
#include "core/pprof_flame.h"
#include "core/pprof_top.h"
#include "box.h"
#include "errors.h"
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_MT "rb.pprof.Profile"
#define DEFAULT_NODE_FRACTION 0.005  /* go tool pprof -nodefraction */

typedef struct { rb_pprof *p; } Profile;

/* ---- what boxes free --------------------------------------------------- */

static void table_free(void *t)
{
    rb_pprof_table_free(t);
    free(t);
}

static void parser_discard(void *p)
{
    char err[8];
    rb_gor_dump_free(rb_gor_finish(p, err, sizeof err));
}

static void dump_free(void *d) { rb_gor_dump_free(d); }

/* ---- helpers ------------------------------------------------------------ */

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v && *v) {  /* empty means "not printed": leave the field nil */
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

static double pct(int64_t v, int64_t total)
{
    return total ? 100.0 * (double)v / (double)total : 0.0;
}

static Profile *check_profile(lua_State *L, int i)
{
    Profile *u = luaL_checkudata(L, i, PROFILE_MT);
    if (!u->p)
        luaL_argerror(L, i, "profile is closed");
    return u;
}

/* opts.sample_type (a name), else the type go tool pprof shows by default. */
static int opt_type(lua_State *L, const rb_pprof *p, int opts, int argn)
{
    if (p->sample_types.n == 0)
        luaL_error(L, "rb.pprof: the profile has no sample types");
    const char *name = NULL;
    if (lua_type(L, opts) == LUA_TTABLE) {
        lua_getfield(L, opts, "sample_type");
        name = luaL_optstring(L, -1, NULL);
        lua_pop(L, 1);
    } else if (lua_type(L, opts) == LUA_TSTRING) {
        name = lua_tostring(L, opts);
    }
    if (!name)
        return rb_pprof_default_type(p);
    int t = rb_pprof_type_index(p, name);
    if (t < 0) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < p->sample_types.n; i++) {
            luaL_addstring(&b, i ? ", " : "");
            luaL_addstring(&b, rb_pprof_str(p, p->sample_types.v[i].type));
        }
        luaL_pushresult(&b);
        return luaL_argerror(L, argn, lua_pushfstring(L, "no sample type '%s' (the profile has: %s)",
                                                      name, lua_tostring(L, -1)));
    }
    return t;
}

static lua_Number opt_field_num(lua_State *L, int opts, const char *k, lua_Number def)
{
    if (lua_type(L, opts) != LUA_TTABLE)
        return def;
    lua_getfield(L, opts, k);
    lua_Number v = luaL_optnumber(L, -1, def);
    lua_pop(L, 1);
    return v;
}

/* Aggregates into a boxed table left on the stack. */
static rb_pprof_table *aggregate(lua_State *L, const rb_pprof *p, int type)
{
    rb_box *b = rb_box_push(L, table_free);
    rb_pprof_table *t = b->ptr = calloc(1, sizeof *t);
    if (!t || !rb_pprof_aggregate(p, type, t))
        luaL_error(L, "rb.pprof: out of memory");  /* the box frees t */
    return t;
}

/* ---- module functions --------------------------------------------------- */

/* opts.k as a positive size, else def. */
static size_t opt_size(lua_State *L, int opts, const char *k, size_t def)
{
    lua_Number v = opt_field_num(L, opts, k, (lua_Number)def);
    if (!(v >= 1 && v <= 1e15))
        luaL_argerror(L, opts, lua_pushfstring(L, "%s must be a positive number", k));
    return (size_t)v;
}

/* parse(bytes, {max_bytes, max_samples, max_memory}) */
static int pp_parse(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    rb_pprof_limits lim = {
        opt_size(L, 2, "max_bytes", RB_PPROF_MAX_BYTES),
        opt_size(L, 2, "max_samples", RB_PPROF_MAX_SAMPLES),
        opt_size(L, 2, "max_memory", RB_PPROF_MAX_MEMORY),
    };
    Profile *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->p = NULL;  /* born closed */
    luaL_setmetatable(L, PROFILE_MT);
    char err[512];
    u->p = rb_pprof_parse_limited(s, len, &lim, err, sizeof err);
    if (!u->p)
        return rb_error_return(L, "parse", "pprof: %s", err);
    return 1;
}

static void push_group(lua_State *L, const rb_gor_group *g)
{
    lua_createtable(L, 0, 12);
    set_int(L, "count", (lua_Integer)g->count);
    set_str(L, "state", g->state);
    set_str(L, "top", g->top);
    set_str(L, "entry", g->entry);
    set_str(L, "created_by", g->created_by);
    set_str(L, "labels", g->labels);
    if (g->max_wait >= 0)
        set_int(L, "max_wait_minutes", g->max_wait);
    set_int(L, "locked", (lua_Integer)g->locked);
    set_int(L, "elided", (lua_Integer)g->elided);
    if (g->first_id)
        set_int(L, "id", (lua_Integer)g->first_id);
    lua_createtable(L, (int)g->nstack, 0);
    for (size_t i = 0; i < g->nstack; i++) {
        lua_pushstring(L, g->stack[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "stack");
}

static int by_count(const void *a, const void *b)
{
    const rb_gor_group *x = *(rb_gor_group *const *)a, *y = *(rb_gor_group *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x < y ? -1 : x > y;  /* then order of appearance */
}

static int push_dump(lua_State *L, const rb_gor_dump *d)
{
    const rb_gor_group **order = lua_newuserdatauv(L, (d->ngroups + 1) * sizeof *order, 0);
    for (size_t i = 0; i < d->ngroups; i++)
        order[i] = &d->groups[i];
    qsort(order, d->ngroups, sizeof *order, by_count);
    lua_createtable(L, 0, 5);
    set_int(L, "total", (lua_Integer)d->total);
    set_int(L, "debug", d->debug);
    if (d->header_total >= 0)
        set_int(L, "header_total", d->header_total);
    lua_createtable(L, (int)d->ngroups, 0);
    for (size_t i = 0; i < d->ngroups; i++) {
        push_group(L, order[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "groups");
    return 1;
}

/* Feeds the reader at index 1 to p: a function returning chunks then nil
 * (e.g. io.lines(path, 65536)), or an open file read in 1 MB blocks. */
static int feed_reader(lua_State *L, rb_gor_parser *p)
{
    luaL_Stream *fh = luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (fh) {
        if (!fh->closef)
            return luaL_argerror(L, 1, "file is closed");
        rb_box *b = rb_box_push(L, free);
        size_t cap = 1 << 20, n;
        char *buf = b->ptr = malloc(cap);
        if (!buf)
            return luaL_error(L, "rb.pprof: out of memory");
        int ok = 1;
        while (ok && (n = fread(buf, 1, cap, fh->f)) > 0)
            ok = rb_gor_feed(p, buf, n);
        return ok;
    }
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1))
            return 1;
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "rb.pprof.goroutines: the reader returned a %s, not a string",
                              luaL_typename(L, -1));
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n == 0)
            return 1;
        if (!rb_gor_feed(p, s, n))
            return 0;
        lua_pop(L, 1);
    }
}

/* goroutines(text | fn | file): a reader means a huge dump is never held whole. */
static int pp_goroutines(lua_State *L)
{
    int t = lua_type(L, 1);
    if (t != LUA_TFUNCTION && !luaL_testudata(L, 1, LUA_FILEHANDLE))
        luaL_argexpected(L, t == LUA_TSTRING, 1, "dump text, reader function or file");
    rb_box *b = rb_box_push(L, parser_discard);
    rb_gor_parser *p = b->ptr = rb_gor_new();
    if (!p)
        return luaL_error(L, "rb.pprof: out of memory");
    if (t == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, 1, &n);
        rb_gor_feed(p, s, n);
    } else {
        feed_reader(L, p);
    }
    char err[256];
    rb_box *db = rb_box_push(L, dump_free);  /* before finish: pushing may raise */
    rb_gor_dump *d = db->ptr = rb_gor_finish(rb_box_take(b), err, sizeof err);
    if (!d)
        return rb_error_return(L, "parse", "goroutine dump: %s", err);
    return push_dump(L, d);
}

/* _error(kind, message): the rb.Error constructor for lualib/rb/pprof.lua. */
static int pp_error(lua_State *L)
{
    rb_error_push(L, luaL_checkstring(L, 1), "%s", luaL_checkstring(L, 2));
    return 1;
}

/* ---- Profile methods ---------------------------------------------------- */

static void push_row(lua_State *L, const rb_pprof_row *r, int64_t total, int64_t sum)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, r->name);
    lua_setfield(L, -2, "name");
    set_int(L, "flat", r->flat);
    set_num(L, "flat_pct", pct(r->flat, total));
    set_num(L, "sum_pct", pct(sum, total));
    set_int(L, "cum", r->cum);
    set_num(L, "cum_pct", pct(r->cum, total));
}

static void set_type_fields(lua_State *L, const rb_pprof *p, int type)
{
    set_str(L, "sample_type", rb_pprof_str(p, p->sample_types.v[type].type));
    set_str(L, "unit", rb_pprof_str(p, p->sample_types.v[type].unit));
}

/* top{n = 10, by = "flat"|"cum", sample_type, node_fraction = 0.005} */
static int prof_top(lua_State *L)
{
    rb_pprof *p = check_profile(L, 1)->p;
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    int type = opt_type(L, p, 2, 2);
    lua_Integer n = (lua_Integer)opt_field_num(L, 2, "n", 10);
    double frac = opt_field_num(L, 2, "node_fraction", DEFAULT_NODE_FRACTION);
    const char *by = "flat";
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "by");
        by = luaL_optstring(L, -1, "flat");
    }
    int cum = strcmp(by, "cum") == 0;
    if (!cum && strcmp(by, "flat") != 0)
        return luaL_argerror(L, 2, "by must be \"flat\" or \"cum\"");
    if (n < 0 || frac < 0 || frac > 1)
        return luaL_argerror(L, 2, "n must be >= 0 and node_fraction within [0, 1]");
    rb_pprof_table *t = aggregate(L, p, type);
    size_t before = t->n;
    rb_pprof_trim(t, frac);
    rb_pprof_sort(t, cum);
    size_t k = n == 0 || (size_t)n > t->n ? t->n : (size_t)n;
    lua_createtable(L, (int)k, 6);
    int64_t sum = 0;
    for (size_t i = 0; i < k; i++) {
        sum += t->rows[i].flat;
        push_row(L, &t->rows[i], t->total, sum);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    set_int(L, "total", t->total);
    set_int(L, "nodes", (lua_Integer)t->n);
    set_int(L, "dropped", (lua_Integer)(before - t->n));
    set_type_fields(L, p, type);
    return 1;
}

static int prof_total(lua_State *L)
{
    rb_pprof *p = check_profile(L, 1)->p;
    int type = opt_type(L, p, 2, 2);
    int64_t total = 0;
    for (size_t i = 0; i < p->samples.n; i++) {
        int64_t v = p->sample_vals.v[p->samples.v[i].val_off + (size_t)type];
        total += v < 0 ? -v : v;
    }
    lua_pushinteger(L, total);
    return 1;
}

static int prof_sample_types(lua_State *L)
{
    rb_pprof *p = check_profile(L, 1)->p;
    int def = rb_pprof_default_type(p);
    lua_createtable(L, (int)p->sample_types.n, 0);
    for (size_t i = 0; i < p->sample_types.n; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, rb_pprof_str(p, p->sample_types.v[i].type));
        lua_setfield(L, -2, "type");
        lua_pushstring(L, rb_pprof_str(p, p->sample_types.v[i].unit));
        lua_setfield(L, -2, "unit");
        lua_pushboolean(L, (int)i == def);
        lua_setfield(L, -2, "default");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int prof_info(lua_State *L)
{
    rb_pprof *p = check_profile(L, 1)->p;
    lua_createtable(L, 0, 14);
    set_int(L, "period", p->period);
    set_str(L, "period_type", rb_pprof_str(p, p->period_type.type));
    set_str(L, "period_unit", rb_pprof_str(p, p->period_type.unit));
    set_int(L, "duration_ns", p->duration_nanos);
    set_int(L, "time_ns", p->time_nanos);
    set_int(L, "samples", (lua_Integer)p->samples.n);
    set_int(L, "locations", (lua_Integer)p->locs.n);
    set_int(L, "functions", (lua_Integer)p->funcs.n);
    set_int(L, "mappings", (lua_Integer)p->maps.n);
    set_int(L, "strings", (lua_Integer)p->str_off.n);
    set_int(L, "bytes", (lua_Integer)p->input_bytes);
    set_str(L, "drop_frames", rb_pprof_str(p, p->drop_frames));
    set_str(L, "keep_frames", rb_pprof_str(p, p->keep_frames));
    lua_createtable(L, (int)p->comments.n, 0);
    for (size_t i = 0; i < p->comments.n; i++) {
        lua_pushstring(L, rb_pprof_str(p, p->comments.v[i]));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "comments");
    return 1;
}

/* Pushes the row of (key, value) in rows (at index rows), creating it. */
static void label_row(lua_State *L, int rows, int index, const rb_pprof *p, const rb_pprof_label *l)
{
    const char *key = rb_pprof_str(p, l->key);
    if (l->str)
        lua_pushfstring(L, "%s\1s%s", key, rb_pprof_str(p, l->str));
    else
        lua_pushfstring(L, "%s\1n%I\1%s", key, (lua_Integer)l->num, rb_pprof_str(p, l->num_unit));
    lua_pushvalue(L, -1);
    if (lua_rawget(L, index) == LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, key);
    lua_setfield(L, -2, "key");
    if (l->str) {
        lua_pushstring(L, rb_pprof_str(p, l->str));
    } else {
        lua_pushinteger(L, l->num);
        set_str(L, "unit", rb_pprof_str(p, l->num_unit));
    }
    lua_setfield(L, -2, "value");
    set_int(L, "total", 0);
    lua_pushvalue(L, -1);
    lua_rawseti(L, rows, (lua_Integer)lua_rawlen(L, rows) + 1);
    lua_pushvalue(L, -1);
    lua_insert(L, -3);
    lua_rawset(L, index);
}

/* labels{sample_type}: per (key, value) pprof label, the value of its samples. */
static int prof_labels(lua_State *L)
{
    rb_pprof *p = check_profile(L, 1)->p;
    int type = opt_type(L, p, 2, 2);
    lua_newtable(L);
    int rows = lua_gettop(L);
    lua_newtable(L);
    int index = lua_gettop(L);
    for (size_t i = 0; i < p->samples.n; i++) {
        const rb_pprof_sample *s = &p->samples.v[i];
        int64_t v = p->sample_vals.v[s->val_off + (size_t)type];
        for (size_t j = 0; j < s->nlabel; j++) {
            label_row(L, rows, index, p, &p->labels.v[s->label_off + j]);
            lua_getfield(L, -1, "total");
            lua_Integer t = lua_tointeger(L, -1) + v;
            lua_pop(L, 1);
            set_int(L, "total", t);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, rows);
    return 1;
}

static void delta_free(void *d) { free(d); }

/* diff(other, {sample_type, n}): per-function change from self (before) to other (after). */
static int prof_diff(lua_State *L)
{
    rb_pprof *a = check_profile(L, 1)->p;
    rb_pprof *b = check_profile(L, 2)->p;
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    int ta = opt_type(L, a, 3, 3);
    const char *name = rb_pprof_str(a, a->sample_types.v[ta].type);
    int tb = rb_pprof_type_index(b, name);
    if (tb < 0)
        return luaL_argerror(L, 2, lua_pushfstring(L, "the other profile has no sample type '%s'", name));
    lua_Integer n = (lua_Integer)opt_field_num(L, 3, "n", 0);
    rb_pprof_table *xa = aggregate(L, a, ta), *xb = aggregate(L, b, tb);
    rb_box *db = rb_box_push(L, delta_free);
    rb_pprof_delta *d;
    size_t nd;
    if (!rb_pprof_diff(xa, xb, &d, &nd))
        return luaL_error(L, "rb.pprof: out of memory");
    db->ptr = d;
    size_t k = n <= 0 || (size_t)n > nd ? nd : (size_t)n;
    lua_createtable(L, (int)k, 4);
    for (size_t i = 0; i < k; i++) {
        lua_createtable(L, 0, 7);
        lua_pushstring(L, d[i].name);
        lua_setfield(L, -2, "name");
        set_int(L, "before_flat", d[i].before_flat);
        set_int(L, "after_flat", d[i].after_flat);
        set_int(L, "flat_delta", d[i].after_flat - d[i].before_flat);
        set_int(L, "before_cum", d[i].before_cum);
        set_int(L, "after_cum", d[i].after_cum);
        set_int(L, "cum_delta", d[i].after_cum - d[i].before_cum);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    set_int(L, "total_before", xa->total);
    set_int(L, "total_after", xb->total);
    set_type_fields(L, a, ta);
    return 1;
}

/* flamegraph{sample_type, title} -> SVG text. It writes no file: a runbook
 * that wants the picture puts it in a report or a finding; a path argument
 * (the old form) is refused with that explanation. */
static int prof_flamegraph(lua_State *L)
{
    rb_pprof *p = check_profile(L, 1)->p;
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_argerror(L, 2, "flamegraph writes no file: it returns the SVG text "
                             "(Profile:flamegraph{sample_type, title})");
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    int type = opt_type(L, p, 2, 2);
    const char *title = rb_pprof_str(p, p->sample_types.v[type].type);
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "title");
        title = luaL_optstring(L, -1, title);
    }
    rb_box *b = rb_box_push(L, free);
    char err[256] = "", *svg = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&svg, &n);
    if (!f)
        return luaL_error(L, "rb.pprof: out of memory");
    int ok = rb_pprof_flamegraph(p, type, title, f, err, sizeof err);  /* pure C: cannot raise */
    ok = fclose(f) == 0 && ok;
    b->ptr = svg;
    if (!ok)
        return luaL_error(L, "rb.pprof.flamegraph: %s", err[0] ? err : "out of memory");
    lua_pushlstring(L, svg, n);
    return 1;
}

static int prof_close(lua_State *L)
{
    Profile *u = luaL_checkudata(L, 1, PROFILE_MT);
    rb_pprof_free(u->p);
    u->p = NULL;
    return 0;
}

static int prof_tostring(lua_State *L)
{
    Profile *u = luaL_checkudata(L, 1, PROFILE_MT);
    if (!u->p) {
        lua_pushliteral(L, "rb.pprof.Profile (closed)");
    } else {
        int t = rb_pprof_default_type(u->p);
        lua_pushfstring(L, "rb.pprof.Profile (%s, %I samples)",
                        t < 0 ? "no sample types" : rb_pprof_str(u->p, u->p->sample_types.v[t].type),
                        (lua_Integer)u->p->samples.n);
    }
    return 1;
}

static const luaL_Reg profile_methods[] = {
    {"top", prof_top}, {"total", prof_total}, {"sample_types", prof_sample_types},
    {"info", prof_info}, {"labels", prof_labels}, {"diff", prof_diff},
    {"flamegraph", prof_flamegraph}, {"close", prof_close}, {NULL, NULL}
};

static const luaL_Reg profile_meta[] = {
    {"__gc", prof_close}, {"__close", prof_close}, {"__tostring", prof_tostring}, {NULL, NULL}
};

static const luaL_Reg pprof_lib[] = {
    {"parse", pp_parse}, {"goroutines", pp_goroutines}, {"_error", pp_error}, {NULL, NULL}
};

int luaopen_rb_pprof(lua_State *L)
{
    luaL_newmetatable(L, PROFILE_MT);
    luaL_setfuncs(L, profile_meta, 0);
    luaL_newlib(L, profile_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, pprof_lib);
    return 1;
}
