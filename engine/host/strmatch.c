/* strmatch.c — see strmatch.h. A backtracking matcher for Lua patterns
 * (the reference manual's §6.4.1) that counts its steps and polls. */
#include "strmatch.h"
#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#define MAX_CAPTURES 32
#define MAX_DEPTH 200            /* recursion of the matcher: "pattern too complex" */
#define POLL_EVERY 0x3FFF        /* steps between two polls */
#define CAP_OPEN (-1)
#define CAP_POSITION (-2)
#define SPECIALS "^$*+?.([%-"

static void (*poll_fn)(lua_State *L);

typedef struct {
    const char *src, *src_end;   /* the subject */
    const char *p_end;           /* end of the pattern */
    lua_State *L;
    int depth, level;
    unsigned long steps;
    struct { const char *init; ptrdiff_t len; } cap[MAX_CAPTURES];
} matcher;

static const char *do_match(matcher *m, const char *s, const char *p);

static void step(matcher *m)
{
    if ((++m->steps & POLL_EVERY) == 0 && poll_fn) poll_fn(m->L);
}

static int class_matches(int c, int cl)
{
    int r;
    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    case 'z': r = c == 0; break;   /* deprecated, but Lua 5.4 still has it */
    default: return cl == c;
    }
    if (isupper(cl)) r = !r;
    return r != 0;
}

/* The end of the single-character class at p. */
static const char *class_end(matcher *m, const char *p)
{
    char c = *p++;
    if (c == '%') {
        if (p >= m->p_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < m->p_end && *p == '^') p++;
        do {
            if (p >= m->p_end) luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == '%' && p < m->p_end) p++;
        } while (p >= m->p_end || *p != ']');
        return p + 1;
    }
    return p;
}

/* c against the set [..] from p ('[') to close (its ']'). */
static int set_matches(int c, const char *p, const char *close)
{
    int yes = 1;
    p++;
    if (*p == '^') { yes = 0; p++; }
    while (p < close) {
        if (*p == '%' && p + 1 < close) {
            if (class_matches(c, (unsigned char)p[1])) return yes;
            p += 2;
        } else if (p + 2 < close && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return yes;
            p += 3;
        } else {
            if ((unsigned char)*p == c) return yes;
            p++;
        }
    }
    return !yes;
}

static int one_matches(matcher *m, const char *s, const char *p, const char *ep)
{
    if (s >= m->src_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return class_matches(c, (unsigned char)p[1]);
    case '[': return set_matches(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *balanced(matcher *m, const char *s, const char *p)
{
    if (p + 1 >= m->p_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != p[0]) return NULL;
    int open = 1;
    while (++s < m->src_end) {
        step(m);
        if (*s == p[1]) { if (--open == 0) return s + 1; }
        else if (*s == p[0]) open++;
    }
    return NULL;
}

static const char *greedy(matcher *m, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (one_matches(m, s + n, p, ep)) { step(m); n++; }
    for (; n >= 0; n--) {
        const char *r = do_match(m, s + n, ep + 1);
        if (r) return r;
    }
    return NULL;
}

static const char *lazy(matcher *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = do_match(m, s, ep + 1);
        if (r) return r;
        if (!one_matches(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t what)
{
    if (m->level >= MAX_CAPTURES) luaL_error(m->L, "too many captures");
    m->cap[m->level].init = s;
    m->cap[m->level].len = what;
    m->level++;
    const char *r = do_match(m, s, p);
    if (!r) m->level--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p)
{
    int l = m->level - 1;
    while (l >= 0 && m->cap[l].len != CAP_OPEN) l--;
    if (l < 0) luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].init;
    const char *r = do_match(m, s, p);
    if (!r) m->cap[l].len = CAP_OPEN;
    return r;
}

static const char *back_reference(matcher *m, const char *s, int digit)
{
    int l = digit - '1';
    if (l < 0 || l >= m->level || m->cap[l].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", l + 1);
    size_t len = (size_t)m->cap[l].len;
    if ((size_t)(m->src_end - s) >= len && memcmp(m->cap[l].init, s, len) == 0) return s + len;
    return NULL;
}

/* %f[set] at p (after "%f"): the transition from a character not in set
 * to one in it; returns the end of the set, or NULL. */
static const char *frontier(matcher *m, const char *s, const char *p)
{
    if (p >= m->p_end || *p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
    const char *ep = class_end(m, p);
    int prev = s == m->src ? 0 : (unsigned char)s[-1];
    int cur = s < m->src_end ? (unsigned char)*s : 0;
    return !set_matches(prev, p, ep - 1) && set_matches(cur, p, ep - 1) ? ep : NULL;
}

static int is_escape(const matcher *m, const char *p, char what)
{
    return *p == '%' && p + 1 < m->p_end && (what ? p[1] == what : isdigit((unsigned char)p[1]));
}

/* Matches pattern p at s; returns the end of the match or NULL. Iterates
 * over plain items and recurses only where it must backtrack. */
static const char *do_match(matcher *m, const char *s, const char *p)
{
    if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
    while (s && p != m->p_end) {
        step(m);
        if (*p == '(') {
            s = p + 1 < m->p_end && p[1] == ')' ? open_capture(m, s, p + 2, CAP_POSITION)
                                                : open_capture(m, s, p + 1, CAP_OPEN);
            break;
        }
        if (*p == ')') { s = close_capture(m, s, p + 1); break; }
        if (*p == '$' && p + 1 == m->p_end) { if (s != m->src_end) s = NULL; break; }
        if (is_escape(m, p, 'b')) { s = balanced(m, s, p + 2); p += 4; continue; }
        if (is_escape(m, p, 'f')) {
            const char *ep = frontier(m, s, p + 2);
            if (ep) p = ep; else s = NULL;
            continue;
        }
        if (is_escape(m, p, 0)) { s = back_reference(m, s, p[1]); p += 2; continue; }
        const char *ep = class_end(m, p);
        int q = ep < m->p_end ? *ep : 0;
        if (!one_matches(m, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') { p = ep + 1; continue; }
            s = NULL;
            break;
        }
        if (q == '?') {
            const char *r = do_match(m, s + 1, ep + 1);
            if (r) { s = r; break; }
            p = ep + 1;
            continue;
        }
        if (q == '+') { s = greedy(m, s + 1, p, ep); break; }
        if (q == '*') { s = greedy(m, s, p, ep); break; }
        if (q == '-') { s = lazy(m, s, p, ep); break; }
        s++;
        p = ep;
    }
    m->depth++;
    return s;
}

/* ------------------------------------------------------------ captures */

static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->cap[i].len;
    if (len == CAP_OPEN) luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION) lua_pushinteger(m->L, (m->cap[i].init - m->src) + 1);
    else lua_pushlstring(m->L, m->cap[i].init, (size_t)len);
}

/* Pushes the captures (or the whole match s..e when there are none and s
 * is given); returns their number. */
static int push_captures(matcher *m, const char *s, const char *e)
{
    int n = m->level == 0 && s ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_capture(m, i, s, e);
    return n;
}

static void start(matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    m->L = L;
    m->src = s;
    m->src_end = s + ls;
    m->p_end = p + lp;
    m->steps = 0;
}

static void restart(matcher *m)
{
    m->level = 0;
    m->depth = MAX_DEPTH;
}

/* A relative initial position (Lua's string indices), clamped to 1. */
static size_t init_pos(lua_Integer pos, size_t len)
{
    if (pos > 0) return (size_t)pos;
    if (pos == 0 || (size_t)-pos > len) return 1;
    return len + (size_t)pos + 1;
}

static int no_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] && strchr(SPECIALS, p[i])) return 0;
    return 1;
}

static int find_aux(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = init_pos(luaL_optinteger(L, 3, 1), ls);
    if (init > ls + 1) { luaL_pushfail(L); return 1; }
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
        const char *at = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - init + 1, p, lp);
        if (!at) { luaL_pushfail(L); return 1; }
        lua_pushinteger(L, (at - s) + 1);
        lua_pushinteger(L, (lua_Integer)((at - s) + lp));
        return 2;
    }
    matcher m;
    int anchor = lp > 0 && *p == '^';
    if (anchor) { p++; lp--; }
    start(&m, L, s, ls, p, lp);
    const char *s1 = s + init - 1;
    do {
        restart(&m);
        const char *e = do_match(&m, s1, p);
        if (e) {
            if (!find) return push_captures(&m, s1, e);
            lua_pushinteger(L, (s1 - s) + 1);
            lua_pushinteger(L, e - s);
            return push_captures(&m, NULL, NULL) + 2;
        }
    } while (s1++ < m.src_end && !anchor);
    luaL_pushfail(L);
    return 1;
}

static int sm_find(lua_State *L) { return find_aux(L, 1); }
static int sm_match(lua_State *L) { return find_aux(L, 0); }

/* gmatch's iterator; upvalues: subject, pattern, next position, end of the
 * last match (0-based offsets; -1: none). */
static int gmatch_next(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    lua_Integer pos = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer last = lua_tointeger(L, lua_upvalueindex(4));
    matcher m;
    if (pos < 0 || (size_t)pos > ls) return 0;
    start(&m, L, s, ls, p, lp);
    for (const char *src = s + pos; src <= m.src_end; src++) {
        restart(&m);
        const char *e = do_match(&m, src, p);
        if (e && e - s != last) {
            lua_pushinteger(L, e - s);
            lua_pushvalue(L, -1);
            lua_replace(L, lua_upvalueindex(3));
            lua_replace(L, lua_upvalueindex(4));
            return push_captures(&m, src, e);
        }
    }
    return 0;
}

static int sm_gmatch(lua_State *L)
{
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = init_pos(luaL_optinteger(L, 3, 1), ls) - 1;   /* 0-based */
    if (init > ls) init = ls + 1;                                 /* after the end: no match */
    lua_settop(L, 2);
    lua_pushinteger(L, (lua_Integer)init);
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/* The replacement string's %0-%9 and %%. */
static void add_string(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    lua_State *L = m->L;
    const char *r = lua_tolstring(L, 3, &l), *end = r + l;
    for (; r < end; r++) {
        if (*r != '%') { luaL_addchar(b, *r); continue; }
        r++;
        if (r < end && *r == '%') luaL_addchar(b, '%');
        else if (r < end && *r == '0') luaL_addlstring(b, s, (size_t)(e - s));
        else if (r < end && isdigit((unsigned char)*r)) {
            push_capture(m, *r - '1', s, e);
            luaL_tolstring(L, -1, NULL);
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else luaL_error(L, "invalid use of '%%' in replacement string");
    }
}

static void add_value(matcher *m, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    lua_State *L = m->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string(m, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else luaL_addvalue(b);
}

static int sm_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    int anchor = lp > 0 && *p == '^';
    if (anchor) { p++; lp--; }
    matcher m;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    start(&m, L, s, ls, p, lp);
    const char *src = s, *last = NULL;
    while (n < max) {
        restart(&m);
        step(&m);
        const char *e = do_match(&m, src, p);
        if (e && e != last) {
            n++;
            add_value(&m, &b, src, e, tr);
            src = last = e;
        } else if (src < m.src_end) luaL_addchar(&b, *src++);
        else break;
        if (anchor) break;
    }
    luaL_addlstring(&b, src, (size_t)(m.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

void rb_strmatch_push(lua_State *L, void (*poll)(lua_State *L))
{
    static const luaL_Reg fns[] = {
        {"find", sm_find}, {"match", sm_match}, {"gmatch", sm_gmatch}, {"gsub", sm_gsub}, {NULL, NULL}
    };
    poll_fn = poll;
    luaL_newlib(L, fns);
}
