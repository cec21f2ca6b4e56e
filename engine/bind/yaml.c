/* bind/yaml.c — rb.yaml: YAML documents to Lua tables and back, on libyaml.
 * decode(text) -> value | nil, err{kind = "parse", line}: mappings become
 * tables, sequences arrays, plain scalars are typed the YAML 1.2 core way
 * (null ~ -> nil, true/false, integers, floats); quoted scalars stay strings;
 * anchors and aliases are resolved. encode(value) -> text: block style,
 * keys sorted, strings quoted when a plain scalar would change meaning.
 * Used for --config files and `export-alerts`; kubeconfig has its own pure
 * parser in core/. */
#include "errors.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

typedef struct {
    yaml_parser_t parser;
    yaml_event_t event;
    int has_event, anchors;   /* anchors: stack index of anchor table */
} reader;

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

static int read_node(lua_State *L, reader *r, int depth);

static void remember_anchor(lua_State *L, reader *r, const yaml_char_t *anchor)
{
    if (!anchor) return;
    lua_pushvalue(L, -1);
    lua_setfield(L, r->anchors, (const char *)anchor);
}

/* Reads nodes until the end event of the current collection. */
static int read_collection(lua_State *L, reader *r, int depth, int is_map)
{
    lua_Integer i = 0;
    for (;;) {
        if (next_event(L, r) < 0) return -1;
        yaml_event_type_t t = r->event.type;
        if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) return 0;
        if (read_node(L, r, depth + 1) < 0) return -1;
        if (!is_map) { lua_rawseti(L, -2, ++i); continue; }
        if (next_event(L, r) < 0 || read_node(L, r, depth + 1) < 0) return -1;
        if (lua_isnil(L, -2)) { lua_pop(L, 2); continue; }
        lua_rawset(L, -3);
    }
}

/* Pushes the node whose start event is current. */
static int read_node(lua_State *L, reader *r, int depth)
{
    yaml_event_t *e = &r->event;
    luaL_checkstack(L, 8, "YAML too deep");
    if (depth > MAX_DEPTH) return -1;
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        push_scalar(L, e);
        remember_anchor(L, r, e->data.scalar.anchor);
        return 0;
    case YAML_ALIAS_EVENT:
        lua_getfield(L, r->anchors, (const char *)e->data.alias.anchor);
        return 0;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = e->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *a = is_map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
        char *anchor = a ? strdup((const char *)a) : NULL;
        lua_newtable(L);
        if (anchor) { remember_anchor(L, r, (yaml_char_t *)anchor); free(anchor); }
        return read_collection(L, r, depth, is_map);
    }
    default:
        return -1;
    }
}

static int yaml_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    reader *r = lua_newuserdatauv(L, sizeof *r, 0);   /* freed below on every path */
    memset(r, 0, sizeof *r);
    lua_newtable(L);
    r->anchors = lua_gettop(L);
    yaml_parser_initialize(&r->parser);
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
    int rc = 0, got = 0;
    while (rc == 0 && next_event(L, r) == 0) {
        yaml_event_type_t t = r->event.type;
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT || t == YAML_DOCUMENT_END_EVENT) continue;
        if (got) break;                        /* first document only */
        rc = read_node(L, r, 0);
        got = 1;
    }
    int failed = rc < 0 || r->parser.error != YAML_NO_ERROR;
    long line = (long)r->parser.problem_mark.line + 1;
    const char *problem = r->parser.problem ? r->parser.problem : "document too deep or malformed";
    if (failed) lua_pushfstring(L, "line %d: %s", (int)line, problem);
    if (r->has_event) yaml_event_delete(&r->event);
    yaml_parser_delete(&r->parser);
    if (failed) {
        rb_error_push(L, "parse", "YAML %s", lua_tostring(L, -1));
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

/* Pushes the table's keys as sorted strings, and a map string -> key. */
static void sorted_keys(lua_State *L, int idx, lua_Integer *n)
{
    lua_newtable(L);                      /* names */
    lua_newtable(L);                      /* orig */
    *n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = luaL_tolstring(L, -1, NULL);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -5, ++*n);         /* names[n] = k */
        lua_pushvalue(L, -2);
        lua_setfield(L, -4, k);           /* orig[k] = key */
        lua_pop(L, 1);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -4);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
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
        lua_gettable(L, orig);
        lua_gettable(L, idx);
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
    if (depth > MAX_DEPTH) return luaL_error(L, "value too deep to encode as YAML");
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

static int emitter_gc(lua_State *L)
{
    yaml_emitter_t *em = lua_touserdata(L, 1);
    yaml_emitter_delete(em);
    memset(em, 0, sizeof *em);
    return 0;
}

static int yaml_encode(lua_State *L)
{
    static char gc_mt;
    yaml_event_t ev;
    lua_settop(L, 1);
    lua_newtable(L);                                   /* 2: output pieces */
    sink s = {L, 2, 0};
    yaml_emitter_t *em = lua_newuserdatauv(L, sizeof *em, 0);   /* 3 */
    memset(em, 0, sizeof *em);
    yaml_emitter_initialize(em);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &gc_mt) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushcfunction(L, emitter_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &gc_mt);
    }
    lua_setmetatable(L, 3);                           /* freed even if we raise */
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
