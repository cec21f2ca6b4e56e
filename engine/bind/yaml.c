/* bind/yaml.c — rb.yaml: YAML documents to Lua tables and back, on libyaml.
 * decode(text, {max_nodes, max_depth}) -> value | nil, err{kind = "parse", line}:
 * mappings become tables, sequences arrays, plain scalars are typed the YAML
 * 1.2 core way (null ~ -> nil, true/false, integers, floats); quoted scalars
 * stay strings; anchors and aliases are resolved (an alias shares the
 * anchor's table). encode(value, {max_nodes, max_depth, max_bytes}) -> text:
 * block style, keys sorted, strings quoted when a plain scalar would change
 * meaning.
 *
 * Hostile input is bounded by what it would expand to, not by its size: an
 * alias counts as many nodes as its anchor holds, so a "billion laughs"
 * document is refused as soon as the count passes max_nodes, and encode
 * measures the value first (shared tables counted at each use, a table that
 * contains itself refused) before the emitter starts. libyaml's parser and
 * emitter live in to-be-closed boxes (box.h), freed on return or raise.
 * Used for --config files and `export-alerts`; kubeconfig has its own pure
 * parser in core/. */
#include "box.h"
#include "errors.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEFAULT_DEPTH 64
#define DEFAULT_NODES 1000000
#define DEFAULT_BYTES ((lua_Integer)64 << 20)

typedef struct {
    lua_Integer nodes, depth, bytes;
} limits;

/* opts.k (a positive integer) or def. */
static lua_Integer opt_limit(lua_State *L, int opts, const char *k, lua_Integer def)
{
    if (lua_type(L, opts) != LUA_TTABLE) return def;
    lua_getfield(L, opts, k);
    lua_Integer v = luaL_optinteger(L, -1, def);
    lua_pop(L, 1);
    if (v < 1) luaL_argerror(L, opts, lua_pushfstring(L, "%s must be a positive integer", k));
    return v;
}

static limits check_limits(lua_State *L, int opts)
{
    if (!lua_isnoneornil(L, opts)) luaL_checktype(L, opts, LUA_TTABLE);
    limits l = { opt_limit(L, opts, "max_nodes", DEFAULT_NODES), opt_limit(L, opts, "max_depth", DEFAULT_DEPTH),
                 opt_limit(L, opts, "max_bytes", DEFAULT_BYTES) };
    return l;
}

typedef struct {
    yaml_parser_t parser;
    yaml_event_t event;
    int has_event;
    int anchors, sizes;   /* stack indices: anchor -> value, anchor -> expanded node count */
    limits lim;
    char why[160];        /* our reason, when libyaml has none */
} reader;

static void reader_free(void *p)
{
    reader *r = p;
    if (r->has_event) yaml_event_delete(&r->event);
    yaml_parser_delete(&r->parser);
    free(r);
}

static int next_event(lua_State *L, reader *r)
{
    if (r->has_event) yaml_event_delete(&r->event);
    r->has_event = 0;
    if (!yaml_parser_parse(&r->parser, &r->event)) return -1;
    r->has_event = 1;
    return 0;
}

static void push_scalar(lua_State *L, const yaml_event_t *e)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t n = e->data.scalar.length;
    if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) { lua_pushlstring(L, v, n); return; }
    if (n == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL")) { lua_pushnil(L); return; }
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) { lua_pushboolean(L, 1); return; }
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) { lua_pushboolean(L, 0); return; }
    if (lua_stringtonumber(L, v) == n + 1) return;
    lua_pushlstring(L, v, n);
}

static int read_node(lua_State *L, reader *r, int depth, lua_Integer *count);

static int refuse(reader *r, const char *fmt, long long n)
{
    snprintf(r->why, sizeof r->why, fmt, n);
    return -1;
}

/* Adds n expanded nodes to *count, refusing past max_nodes. */
static int add_nodes(reader *r, lua_Integer *count, lua_Integer n)
{
    if (n > r->lim.nodes - *count)
        return refuse(r, "document expands to more than %lld nodes through aliases (max_nodes): "
                      "an alias bomb, or raise max_nodes", (long long)r->lim.nodes);
    *count += n;
    return 0;
}

/* Records the value on top under its anchor (its size comes when it is complete). */
static void remember_anchor(lua_State *L, reader *r, const char *anchor)
{
    lua_pushvalue(L, -1);
    lua_setfield(L, r->anchors, anchor);
}

static void anchor_done(lua_State *L, reader *r, const char *anchor, lua_Integer count)
{
    lua_pushinteger(L, count);
    lua_setfield(L, r->sizes, anchor);
}

/* An alias: the anchor's value, counted as many nodes as it holds. */
static int read_alias(lua_State *L, reader *r, lua_Integer *count)
{
    const char *name = (const char *)r->event.data.alias.anchor;
    if (lua_getfield(L, r->sizes, name) != LUA_TNUMBER) {
        int open = lua_getfield(L, r->anchors, name) != LUA_TNIL;
        lua_pop(L, 2);
        snprintf(r->why, sizeof r->why, open ? "alias *%.60s refers to its own anchor (a cycle)"
                                             : "alias *%.60s names no anchor", name);
        return -1;
    }
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, r->anchors, name);
    return add_nodes(r, count, n);
}

/* Reads nodes until the end event of the current collection. */
static int read_collection(lua_State *L, reader *r, int depth, int is_map, lua_Integer *count)
{
    lua_Integer i = 0;
    for (;;) {
        if (next_event(L, r) < 0) return -1;
        yaml_event_type_t t = r->event.type;
        if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) return 0;
        if (read_node(L, r, depth + 1, count) < 0) return -1;
        if (!is_map) { lua_rawseti(L, -2, ++i); continue; }
        if (next_event(L, r) < 0 || read_node(L, r, depth + 1, count) < 0) return -1;
        if (lua_isnil(L, -2)) { lua_pop(L, 2); continue; }
        lua_rawset(L, -3);
    }
}

/* Pushes the node whose start event is current; adds its expanded size to *count. */
static int read_node(lua_State *L, reader *r, int depth, lua_Integer *count)
{
    yaml_event_t *e = &r->event;
    luaL_checkstack(L, 8, "YAML too deep");
    if (depth > r->lim.depth)
        return refuse(r, "document nested deeper than %lld levels (max_depth)", (long long)r->lim.depth);
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        push_scalar(L, e);
        if (e->data.scalar.anchor) {
            remember_anchor(L, r, (const char *)e->data.scalar.anchor);
            anchor_done(L, r, (const char *)e->data.scalar.anchor, 1);
        }
        return add_nodes(r, count, 1);
    case YAML_ALIAS_EVENT:
        return read_alias(L, r, count);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = e->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *a = is_map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
        lua_newtable(L);
        if (a) {  /* the event is replaced while the children are read: keep the name on the stack */
            lua_pushstring(L, (const char *)a);
            lua_insert(L, -2);
            remember_anchor(L, r, lua_tostring(L, -2));
        }
        lua_Integer inner = 0;
        if (read_collection(L, r, depth, is_map, &inner) < 0 || add_nodes(r, &inner, 1) < 0) return -1;
        if (a) {
            anchor_done(L, r, lua_tostring(L, -2), inner);
            lua_remove(L, -2);
        }
        return add_nodes(r, count, inner);
    }
    default:
        return -1;
    }
}

/* decode(text, {max_nodes, max_depth}) */
static int yaml_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    limits lim = check_limits(L, 2);
    lua_settop(L, 2);
    rb_box *box = rb_box_push(L, reader_free);              /* 3 */
    reader *r = box->ptr = calloc(1, sizeof *r);
    if (!r || !yaml_parser_initialize(&r->parser)) {
        free(rb_box_take(box));
        return luaL_error(L, "rb.yaml: out of memory");
    }
    r->lim = lim;
    lua_newtable(L);
    r->anchors = lua_gettop(L);
    lua_newtable(L);
    r->sizes = lua_gettop(L);
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
    int rc = 0, got = 0;
    lua_Integer count = 0;
    while (rc == 0 && next_event(L, r) == 0) {
        yaml_event_type_t t = r->event.type;
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT || t == YAML_DOCUMENT_END_EVENT) continue;
        if (got) break;                        /* first document only */
        rc = read_node(L, r, 0, &count);
        got = 1;
    }
    if (rc < 0 || r->parser.error != YAML_NO_ERROR) {
        const char *why = r->parser.problem ? r->parser.problem : r->why[0] ? r->why : "malformed document";
        yaml_mark_t at = r->parser.problem || !r->has_event ? r->parser.problem_mark : r->event.start_mark;
        int line = (int)at.line + 1;
        rb_error_push(L, "parse", "YAML line %d: %s", line, why);
        lua_pushinteger(L, line);
        lua_setfield(L, -2, "line");
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (!got) lua_pushnil(L);
    return 1;
}

/* ---- encode: Lua value -> libyaml emitter events ----
 * Output chunks go to a table of pieces at a fixed stack index (concatenated
 * at the end): the emitter flushes whenever it likes, so a luaL_Buffer, which
 * needs a balanced stack, cannot be used. */

typedef struct { lua_State *L; int tbl; lua_Integer n; } sink;

static int write_out(void *ud, unsigned char *buf, size_t n)
{
    sink *s = ud;
    lua_pushlstring(s->L, (const char *)buf, n);
    lua_rawseti(s->L, s->tbl, ++s->n);
    return 1;
}

/* ---- measuring first: what the value expands to ----
 * Each table is measured once (memo) but counted at every place it appears,
 * which is what the emitter would write; a table met again while it is
 * being measured contains itself. */

typedef struct { lua_Integer nodes, bytes; } size2;

static void add_size(lua_State *L, size2 *to, size2 n, const limits *lim)
{
    if (n.nodes > lim->nodes - to->nodes)
        luaL_error(L, "rb.yaml.encode: the value expands to more than %I nodes (max_nodes): "
                   "shared tables repeated too often, or raise max_nodes", lim->nodes);
    if (n.bytes > lim->bytes - to->bytes)
        luaL_error(L, "rb.yaml.encode: the value expands to more than %I bytes (max_bytes)", lim->bytes);
    to->nodes += n.nodes;
    to->bytes += n.bytes;
}

static size2 measure(lua_State *L, int idx, int memo, const limits *lim, lua_Integer depth);

static size2 measure_table(lua_State *L, int idx, int memo, const limits *lim, lua_Integer depth)
{
    size2 total = { 1, 4 };
    lua_pushvalue(L, idx);
    if (lua_rawget(L, memo) == LUA_TNUMBER) {  /* measured before: nodes here, bytes in memo + 1 */
        total.nodes = lua_tointeger(L, -1);
        lua_pushvalue(L, idx);
        lua_rawget(L, memo + 1);
        total.bytes = lua_tointeger(L, -1);
        lua_pop(L, 2);
        return total;
    }
    if (lua_toboolean(L, -1))
        luaL_error(L, "rb.yaml.encode: a table contains itself (a cycle cannot be written as YAML)");
    lua_pop(L, 1);
    if (depth > lim->depth)
        luaL_error(L, "rb.yaml.encode: the value is nested deeper than %I levels (max_depth)", lim->depth);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);                      /* in progress */
    lua_rawset(L, memo);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        add_size(L, &total, measure(L, lua_gettop(L) - 1, memo, lim, depth + 1), lim);
        add_size(L, &total, measure(L, lua_gettop(L), memo, lim, depth + 1), lim);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, idx);
    lua_pushinteger(L, total.nodes);
    lua_rawset(L, memo);
    lua_pushvalue(L, idx);
    lua_pushinteger(L, total.bytes);
    lua_rawset(L, memo + 1);
    return total;
}

static size2 measure(lua_State *L, int idx, int memo, const limits *lim, lua_Integer depth)
{
    luaL_checkstack(L, 8, "YAML too deep");
    size2 one = { 1, 8 };
    if (lua_type(L, idx) == LUA_TSTRING) one.bytes += (lua_Integer)lua_rawlen(L, idx) * 2;  /* quoted: escapes */
    if (lua_type(L, idx) != LUA_TTABLE) return one;
    return measure_table(L, idx, memo, lim, depth);
}
static int emit_scalar(yaml_emitter_t *em, const char *s, size_t n, int plain_ok)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, plain_ok, 1,
                                 plain_ok ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev);
}

static int is_sequence(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { lua_pop(L, 1); count++; }
    return count == n && n > 0;
}

static int emit_value(lua_State *L, yaml_emitter_t *em, int idx, int depth);

/* Strings that a plain scalar would turn into another type are quoted. */
static int emit_string(lua_State *L, yaml_emitter_t *em, int idx)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    int isnum = lua_stringtonumber(L, s) != 0;
    if (isnum) lua_pop(L, 1);
    int ambiguous = n == 0 || isnum || !strcmp(s, "true") || !strcmp(s, "false") ||
                    !strcmp(s, "null") || !strcmp(s, "~") || !strcmp(s, "yes") || !strcmp(s, "no");
    return emit_scalar(em, s, n, !ambiguous);
}

typedef struct { const char *s; size_t n; } keyname;

static int by_name(const void *a, const void *b)
{
    const keyname *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Pushes the table's keys as strings in sorted order (a sequence), and a map
 * string -> original key. Sorted in C: nothing a script can replace. */
static void sorted_keys(lua_State *L, int idx, lua_Integer *n)
{
    lua_newtable(L);                      /* names */
    lua_newtable(L);                      /* orig */
    int names = lua_gettop(L) - 1;
    *n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = luaL_tolstring(L, -1, NULL);
        lua_pushvalue(L, -1);
        lua_rawseti(L, names, ++*n);      /* names[n] = k */
        lua_pushvalue(L, -2);
        lua_setfield(L, -4, k);           /* orig[k] = key */
        lua_pop(L, 1);
    }
    rb_box *b = rb_box_push(L, free);
    keyname *v = b->ptr = malloc((size_t)(*n ? *n : 1) * sizeof *v);
    if (!v) luaL_error(L, "rb.yaml: out of memory");
    for (lua_Integer i = 0; i < *n; i++) {
        lua_rawgeti(L, names, i + 1);     /* anchored in names: the pointer stays valid */
        v[i].s = lua_tolstring(L, -1, &v[i].n);
        lua_pop(L, 1);
    }
    qsort(v, (size_t)*n, sizeof *v, by_name);
    lua_createtable(L, (int)*n, 0);
    for (lua_Integer i = 0; i < *n; i++) {
        lua_pushlstring(L, v[i].s, v[i].n);
        lua_rawseti(L, -2, i + 1);
    }
    lua_replace(L, names);
    lua_settop(L, names + 1);             /* closes the box */
}

static int emit_map(lua_State *L, yaml_emitter_t *em, int idx, int depth)
{
    yaml_event_t ev;
    lua_Integer n;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    if (!yaml_emitter_emit(em, &ev)) return 0;
    sorted_keys(L, idx, &n);
    int names = lua_gettop(L) - 1, orig = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, names, i);
        size_t kl;
        const char *k = lua_tolstring(L, -1, &kl);
        int ok = emit_scalar(em, k, kl, 1);
        lua_rawget(L, orig);
        lua_rawget(L, idx);
        ok = ok && emit_value(L, em, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (!ok) return 0;
    }
    lua_pop(L, 2);
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

static int emit_seq(lua_State *L, yaml_emitter_t *em, int idx, int depth)
{
    yaml_event_t ev;
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    if (!yaml_emitter_emit(em, &ev)) return 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        int ok = emit_value(L, em, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (!ok) return 0;
    }
    yaml_sequence_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

static int emit_value(lua_State *L, yaml_emitter_t *em, int idx, int depth)
{
    luaL_checkstack(L, 10, "YAML too deep");
    switch (lua_type(L, idx)) {
    case LUA_TTABLE:
        return is_sequence(L, idx) ? emit_seq(L, em, idx, depth) : emit_map(L, em, idx, depth);
    case LUA_TSTRING:
        return emit_string(L, em, idx);
    case LUA_TNUMBER: case LUA_TBOOLEAN: {
        size_t n;
        const char *s = luaL_tolstring(L, idx, &n);
        int ok = emit_scalar(em, s, n, 1);
        lua_pop(L, 1);
        return ok;
    }
    case LUA_TNIL:
        return emit_scalar(em, "null", 4, 1);
    default:
        return luaL_error(L, "cannot encode a %s as YAML", luaL_typename(L, idx));
    }
}

static void emitter_free(void *p)
{
    yaml_emitter_delete(p);
    free(p);
}

/* encode(value, {max_nodes, max_depth, max_bytes}) */
static int yaml_encode(lua_State *L)
{
    yaml_event_t ev;
    limits lim = check_limits(L, 2);
    lua_settop(L, 1);
    lua_newtable(L);                                   /* 2, 3: memo (nodes, bytes) */
    lua_newtable(L);
    measure(L, 1, 2, &lim, 0);                         /* raises past a limit, before any output */
    lua_settop(L, 1);
    lua_newtable(L);                                   /* 2: output pieces */
    sink s = {L, 2, 0};
    rb_box *box = rb_box_push(L, emitter_free);        /* 3 */
    yaml_emitter_t *em = box->ptr = calloc(1, sizeof *em);
    if (!em || !yaml_emitter_initialize(em)) {
        free(rb_box_take(box));
        return luaL_error(L, "rb.yaml: out of memory");
    }
    yaml_emitter_set_output(em, write_out, &s);
    yaml_emitter_set_unicode(em, 1);
    yaml_emitter_set_width(em, 120);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    int ok = yaml_emitter_emit(em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(em, &ev) && emit_value(L, em, 1, 0);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(em, &ev) && yaml_emitter_flush(em);
    if (!ok) return luaL_error(L, "YAML encode: %s", em->problem ? em->problem : "emitter error");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer i = 1; i <= s.n; i++) {
        lua_rawgeti(L, 2, i);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg yamllib[] = {{"decode", yaml_decode}, {"encode", yaml_encode}, {NULL, NULL}};

int luaopen_rb_yaml(lua_State *L)
{
    luaL_newlib(L, yamllib);
    return 1;
}
