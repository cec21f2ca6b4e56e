/* bind/redis.c — rb.redis: Redis over hiredis 0.14 (transport: net/redis_conn.c).
 *
 *   redis.connect(url, {connect_timeout = 5, timeout = 30, password}) -> conn | nil, err
 *   conn:call(cmd, ...)          -> typed reply | nil, err
 *   conn:pipeline{{cmd, ...}, …} -> {reply, …} | nil, err
 *   conn:close()                 (also __close and __gc)
 *   redis.parse_info(text)       -> INFO text as a table (core/redis_info.h)
 *
 * URLs come from core/redis_url.h; a password not in the URL comes from
 * opts.password or $REDISCLI_AUTH; it is registered with the redactor the
 * moment it is known. Every command passes the gate with its
 * effect taken from the server's COMMAND INFO flags (asked once per command
 * name and connection, cached in the connection's user value) or, when
 * COMMAND is unavailable, from the static table in core/redis_cmd.h.
 * Scripts and administrative sub-commands are writes whatever the flags say
 * (core/redis_cmd.h). A pipeline is gated command by command before any
 * byte is sent. The connect, AUTH, SELECT and COMMAND INFO look-ups are
 * gated reads, each with its own ticket; no byte leaves without one.
 *
 * Replies: bulk -> string, integer -> integer, status -> {ok = "TEXT"},
 * nil -> false (as in Redis's own Lua scripting), array -> list, error ->
 * nil, err{kind = "redis", code, message} (an rb.Error inside arrays and
 * pipelines). Failures of the connection: kind conn, timeout, interrupted
 * or auth. A context that timed out, was interrupted or failed is in an
 * unknown state (a late reply would answer the next command), so it is
 * freed at once and the next call reconnects (AUTH, SELECT) transparently. */
#include "core/redis_cmd.h"
#include "core/redis_info.h"
#include "core/redis_url.h"
#include "errors.h"
#include "gate.h"
#include "luaopt.h"
#include "net/redis_conn.h"
#include "redact.h"
#include <hiredis/hiredis.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_MAX 96        /* "CONFIG SET" and the like; longer names are not commands */
#define ARGV_STACK 16    /* arguments held on the C stack before a userdata is needed */

static char conn_mt_key;

typedef struct {
    redisContext *c;        /* NULL: closed, or dropped after a failure (reconnect on next call) */
    redisReply *pending;    /* reply being converted: freed even if conversion raises */
    int closed;
    int no_command_info;    /* COMMAND INFO failed once: static table only */
    double connect_timeout, cmd_timeout;   /* seconds */
    rb_redis_url url;
    char target[400];       /* "host:port/db" or "unix://path?db=N" */
} Conn;

/* ---- connection ------------------------------------------------------- */

static void conn_drop(Conn *co)
{
    if (co->c) redisFree(co->c);
    co->c = NULL;
}

static void set_pending(Conn *co, redisReply *r)
{
    if (co->pending) freeReplyObject(co->pending);
    co->pending = r;
}

/* Idempotent: serves close(), __close and __gc; forgets the password. */
static void conn_close(Conn *co)
{
    if (co->closed) return;
    conn_drop(co);
    set_pending(co, NULL);
    memset(co->url.password, 0, sizeof co->url.password);
    co->closed = 1;
}

static int conn_gc(lua_State *L)
{
    Conn *co = lua_touserdata(L, 1);
    if (co) conn_close(co);
    return 0;
}

/* Pushes the error of a failed exchange (rc from net/redis_conn.h) and
 * drops the context: its state is unknown. */
static void push_io_error(lua_State *L, Conn *co, int rc, const char *err, const char *doing)
{
    if (rc == RB_REDIS_IO_INTR)
        rb_error_push(L, "interrupted", "redis %s: interrupted (%s)", co->target, doing);
    else if (rc == RB_REDIS_IO_TIMEOUT && strcmp(doing, "connect") == 0)
        rb_error_push(L, "timeout", "redis %s: no connection within %g s", co->target, co->connect_timeout);
    else if (rc == RB_REDIS_IO_TIMEOUT)
        rb_error_push(L, "timeout", "redis %s: no answer within %g s (%s); "
                      "the connection was dropped and reconnects on the next call",
                      co->target, co->cmd_timeout, doing);
    else
        rb_error_push(L, "conn", "redis %s: %s (%s)", co->target, err && *err ? err : "connection failed", doing);
    conn_drop(co);
}

/* One command, one reply, under ticket t; NULL with an error pushed. */
static redisReply *roundtrip(lua_State *L, Conn *co, const rb_ticket *t, int argc, const char **argv,
                             const size_t *lens, const char *doing)
{
    char err[200];
    redisReply *r = NULL;
    int rc = rb_redis_conn_command(t, co->c, argc, argv, lens, co->cmd_timeout, &r, err, sizeof err);
    if (rc) push_io_error(L, co, rc, err, doing);
    return r;
}

/* Opens a ticket for a gated read the binding makes by itself (connect,
 * AUTH, SELECT, COMMAND INFO): the ticket stays on the stack. */
static rb_ticket *setup_ticket(lua_State *L, Conn *co, const char *op)
{
    rb_action a = {"redis", op, co->target, 0};
    return rb_gate_open(L, &a, RB_READ);
}

/* Runs a setup command (AUTH, SELECT) on a fresh context, with its own
 * ticket: 0, or -1 with an error of the given kind pushed and the context
 * dropped. */
static int setup_command(lua_State *L, Conn *co, const char *kind, int argc, const char **argv,
                         const size_t *lens)
{
    rb_ticket *t = setup_ticket(L, co, argv[0]);
    redisReply *r = roundtrip(L, co, t, argc, argv, lens, argv[0]);
    if (!r) { rb_ticket_done(L, t, 0, NULL); return -1; }
    int failed = r->type == REDIS_REPLY_ERROR;
    if (failed) rb_error_push(L, kind, "redis %s: %s failed: %s", co->target, argv[0], r->str);
    freeReplyObject(r);
    rb_ticket_done(L, t, !failed, NULL);
    if (failed) conn_drop(co);
    return failed ? -1 : 0;
}

/* Connects, authenticates, selects the database: each a gated read. */
static int conn_open(lua_State *L, Conn *co)
{
    char db[16], err[200];
    rb_ticket *t = setup_ticket(L, co, "connect");
    int rc = rb_redis_conn_open(t, co->url.host, co->url.port, co->url.unix_socket ? co->url.path : NULL,
                                co->connect_timeout, &co->c, err, sizeof err);
    rb_ticket_done(L, t, rc == 0, NULL);
    if (rc) { push_io_error(L, co, rc, err, "connect"); return -1; }
    if (co->url.password_len) {        /* lengths: a percent-decoded password may hold NUL */
        const char *argv[3] = {"AUTH", co->url.user, co->url.password};
        size_t lens[3] = {4, strlen(co->url.user), co->url.password_len};
        int with_user = co->url.user[0] != '\0';
        if (!with_user) { argv[1] = argv[2]; lens[1] = lens[2]; }
        if (setup_command(L, co, "auth", with_user ? 3 : 2, argv, lens) < 0) return -1;
    }
    if (co->url.db != 0) {
        const char *argv[2] = {"SELECT", db};
        snprintf(db, sizeof db, "%d", co->url.db);
        if (setup_command(L, co, "conn", 2, argv, NULL) < 0) return -1;
    }
    return 0;
}

/* The context to send on, reconnecting if the last call dropped it. */
static int conn_ready(lua_State *L, Conn *co)
{
    if (co->c && !co->c->err) return 0;
    conn_drop(co);
    return conn_open(L, co);
}

static Conn *check_conn(lua_State *L, int idx)
{
    Conn *co = lua_touserdata(L, idx);
    if (co && lua_getmetatable(L, idx)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &conn_mt_key);
        int same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (same) return co;
    }
    luaL_typeerror(L, idx, "rb.redis.Conn");
    return NULL;
}

static Conn *check_open(lua_State *L, int idx)
{
    Conn *co = check_conn(L, idx);
    if (co->closed) luaL_error(L, "attempt to use a closed redis connection");
    return co;
}

/* ---- replies ---------------------------------------------------------- */

static int auth_error(const char *s)
{
    return strncmp(s, "NOAUTH", 6) == 0 || strncmp(s, "WRONGPASS", 9) == 0;
}

/* An error reply as an rb.Error: kind auth for NOAUTH/WRONGPASS, else redis. */
static void push_server_error(lua_State *L, const redisReply *r)
{
    size_t code = strcspn(r->str, " ");
    rb_error_push(L, auth_error(r->str) ? "auth" : "redis", "%s", r->str);
    lua_pushlstring(L, r->str, code);
    lua_setfield(L, -2, "code");
}

static void push_reply(lua_State *L, const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING: lua_pushlstring(L, r->str, r->len); break;
    case REDIS_REPLY_INTEGER: lua_pushinteger(L, r->integer); break;
    case REDIS_REPLY_STATUS:
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, r->str, r->len);
        lua_setfield(L, -2, "ok");
        break;
    case REDIS_REPLY_ERROR: push_server_error(L, r); break;
    case REDIS_REPLY_ARRAY:
        luaL_checkstack(L, 3, "redis reply nested too deep");
        lua_createtable(L, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            push_reply(L, r->element[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    default: lua_pushboolean(L, 0); break;   /* REDIS_REPLY_NIL */
    }
}

static void push_planned(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "planned");
}

/* nil, err for the error table on top of the stack. */
static int fail_pushed(lua_State *L)
{
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* The message of the error table on top (it stays there, keeping the string). */
static const char *top_message(lua_State *L)
{
    lua_getfield(L, -1, "message");
    const char *m = lua_tostring(L, -1);
    lua_pop(L, 1);
    return m;
}

/* ---- effects ---------------------------------------------------------- */

/* Appends the upper-cased word at stack index idx to op (after a space if op
 * is not empty). Raises when the result would not fit. */
static void op_append(lua_State *L, char *op, int idx)
{
    size_t len, used = strlen(op);
    const char *w = lua_tolstring(L, idx, &len);
    if (used + len + 2 > OP_MAX) luaL_argerror(L, idx, "not a Redis command name (too long)");
    if (used) op[used++] = ' ';
    for (size_t i = 0; i < len; i++) {
        char c = w[i];
        op[used++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    op[used] = '\0';
}

static int cache_get(lua_State *L, int cache, const char *op)
{
    int kind = lua_getfield(L, cache, op) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : -1;
    lua_pop(L, 1);
    return kind;
}

static void cache_set(lua_State *L, int cache, const char *op, int kind)
{
    lua_pushinteger(L, kind);
    lua_setfield(L, cache, op);
}

/* Caches the kind of one COMMAND INFO entry {name, arity, flags, first, last,
 * step, acl categories, tips, key specs, subcommands} and of its subcommands. */
static void learn_entry(lua_State *L, int cache, const redisReply *e)
{
    char op[OP_MAX];
    rb_redis_flags flags = {0, 0, 0};
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[0]->len + 1 > sizeof op)
        return;
    for (size_t i = 0; i <= e->element[0]->len; i++) {
        char c = e->element[0]->str[i];
        op[i] = c == '|' ? ' ' : (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    for (size_t k = 2; k <= 6 && k < e->elements; k += 4) {          /* flags, ACL categories */
        const redisReply *list = e->element[k];
        for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++)
            if (list->element[i]->str) rb_redis_flags_add(&flags, list->element[i]->str, list->element[i]->len);
    }
    if (rb_redis_cmd_unsupported(op)) return;      /* stays uncached, so classify refuses it */
    int kind = (int)rb_redis_cmd_decide(op, &flags);
    if (e->elements > 9 && e->element[9]->type == REDIS_REPLY_ARRAY && e->element[9]->elements > 0) {
        kind = RB_REDIS_CONTAINER;
        for (size_t i = 0; i < e->element[9]->elements; i++) learn_entry(L, cache, e->element[9]->element[i]);
    }
    /* Redis 6 lists no subcommands: the table still knows CONFIG is a container */
    if (rb_redis_cmd_fallback(op) == RB_REDIS_CONTAINER) kind = RB_REDIS_CONTAINER;
    cache_set(L, cache, op, kind);
}

/* Learns the kind of op from the server (once), else from the static table.
 * Returns 0, or -1 with an error pushed (connection lost, not authenticated). */
static int learn(lua_State *L, Conn *co, int cache, const char *op)
{
    if (!co->no_command_info) {
        const char *argv[3] = {"COMMAND", "INFO", op};
        if (conn_ready(L, co) < 0) return -1;
        rb_ticket *t = setup_ticket(L, co, "COMMAND INFO");
        redisReply *r = roundtrip(L, co, t, 3, argv, NULL, "COMMAND INFO");
        rb_ticket_done(L, t, r != NULL, NULL);
        if (!r) return -1;
        set_pending(co, r);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) learn_entry(L, cache, r->element[0]);
        else if (r->type == REDIS_REPLY_ERROR && auth_error(r->str)) {
            rb_error_push(L, "auth", "redis %s: %s", co->target, r->str);
            set_pending(co, NULL);
            return -1;
        } else co->no_command_info = 1;
        set_pending(co, NULL);
    }
    if (cache_get(L, cache, op) < 0) cache_set(L, cache, op, (int)rb_redis_cmd_fallback(op));
    return 0;
}

/* Raises for commands that conn:call cannot carry (core/redis_cmd.h). */
static void check_supported(lua_State *L, const char *op)
{
    const char *why = rb_redis_cmd_unsupported(op);
    if (why) luaL_error(L, "redis: %s is not available through rb.redis: %s", op, why);
}

/* The effect of the command whose words are at stack indexes first..last:
 * fills op ("GET", "CONFIG SET") and *nwords (words naming the command).
 * Returns RB_READ or RB_WRITE, or -1 with an error pushed. */
static int classify(lua_State *L, Conn *co, int cache, int first, int last, char *op, int *nwords)
{
    op[0] = '\0';
    op_append(L, op, first);
    *nwords = 1;
    int kind = cache_get(L, cache, op);
    if (kind < 0) {                      /* refused names never reach the cache */
        check_supported(L, op);
        if (learn(L, co, cache, op) < 0) return -1;
        kind = cache_get(L, cache, op);
    }
    if (kind == RB_REDIS_CONTAINER) {
        if (last == first) return rb_redis_cmd_read_allowed(op) ? RB_READ : RB_WRITE;
        op_append(L, op, first + 1);
        *nwords = 2;
        if ((kind = cache_get(L, cache, op)) < 0) {
            check_supported(L, op);
            kind = (int)rb_redis_cmd_fallback(op);
            cache_set(L, cache, op, kind);
        }
    }
    if (*nwords == 2 && last >= first + 2) {      /* ACL LOG RESET */
        size_t len;
        const char *arg = lua_tolstring(L, first + 2, &len);
        if (arg && rb_redis_cmd_arg_writes(op, arg, len)) return RB_WRITE;
    }
    return kind == RB_REDIS_READ ? RB_READ : RB_WRITE;
}

/* ---- commands --------------------------------------------------------- */

/* Checks that stack values first..last are strings or numbers (numbers
 * become strings in place) and fills argv/lens. */
static void collect_words(lua_State *L, int first, int last, const char **argv, size_t *lens, int entry)
{
    for (int i = first; i <= last; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER && entry == 0)
            luaL_typeerror(L, i, "string or number");
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            luaL_error(L, "bad pipeline entry #%d (word #%d: string or number expected, got %s)",
                       entry, i - first + 1, luaL_typename(L, i));
        argv[i - first] = lua_tolstring(L, i, &lens[i - first]);
    }
}

/* argv and lens for n words: on the C stack when small, else in a userdata
 * left on the Lua stack (freed by the GC even if something raises). */
typedef struct {
    const char *argv[ARGV_STACK];
    size_t lens[ARGV_STACK];
    const char **pargv;
    size_t *plens;
} argbuf;

static void argbuf_init(lua_State *L, argbuf *b, int n)
{
    if (n <= ARGV_STACK) { b->pargv = b->argv; b->plens = b->lens; return; }
    void *mem = lua_newuserdatauv(L, (size_t)n * (sizeof(char *) + sizeof(size_t)), 0);
    b->plens = mem;
    b->pargv = (const char **)(b->plens + n);
}

/* A list of the values first..last: the call's arguments for the gate. */
static int push_args(lua_State *L, int first, int last)
{
    lua_createtable(L, last >= first ? last - first + 1 : 0, 0);
    for (int i = first; i <= last; i++) {
        lua_pushvalue(L, i);
        lua_rawseti(L, -2, i - first + 1);
    }
    return lua_gettop(L);
}

/* conn:call(cmd, ...) */
static int conn_call(lua_State *L)
{
    Conn *co = check_open(L, 1);
    int last = lua_gettop(L), n = last - 1, nwords, effect;
    char op[OP_MAX];
    argbuf b;
    luaL_argcheck(L, n >= 1, 2, "command name expected");
    argbuf_init(L, &b, n);
    collect_words(L, 2, last, b.pargv, b.plens, 0);
    lua_getiuservalue(L, 1, 1);
    if ((effect = classify(L, co, lua_gettop(L), 2, last, op, &nwords)) < 0) return fail_pushed(L);
    rb_action a = {"redis", op, co->target, push_args(L, 2 + nwords, last)};
    rb_ticket *t = rb_gate_open(L, &a, (rb_effect)effect);
    if (rb_ticket_simulate(t)) {
        rb_ticket_simulated(L, t, NULL);
        rb_ticket_done(L, t, 1, NULL);
        push_planned(L);
        return 1;
    }
    redisReply *r = conn_ready(L, co) < 0 ? NULL : roundtrip(L, co, t, n, b.pargv, b.plens, op);
    if (!r) {
        rb_ticket_done(L, t, 0, top_message(L));
        return fail_pushed(L);
    }
    int is_error = r->type == REDIS_REPLY_ERROR;
    set_pending(co, r);
    rb_ticket_done(L, t, !is_error, is_error ? r->str : NULL);
    if (is_error) lua_pushnil(L);
    push_reply(L, r);
    set_pending(co, NULL);
    return is_error ? 2 : 1;
}

/* Pipelines: the stack of conn_pipeline holds these at fixed indexes; above
 * them, two slots per entry: its arguments (for the gate) and its ticket. */
#define P_LIST    2   /* the caller's list of commands */
#define P_CACHE   3   /* effect cache (the connection's user value) */
#define P_RESULTS 4   /* replies, by position */
#define P_STATE   5   /* per command: {op, ticket (light userdata), sent} */

/* Pushes the words of pipeline entry i; returns how many. */
static int push_entry(lua_State *L, int i)
{
    if (lua_geti(L, P_LIST, i) != LUA_TTABLE)
        luaL_error(L, "bad pipeline entry #%d (table expected, got %s)", i, luaL_typename(L, -1));
    int t = lua_gettop(L), n = (int)luaL_len(L, t);
    if (n < 1) luaL_error(L, "bad pipeline entry #%d (empty command)", i);
    luaL_checkstack(L, n + 4, "pipeline entry too long");
    for (int j = 1; j <= n; j++) lua_geti(L, t, j);
    lua_remove(L, t);
    return n;
}

/* Classifies entry i, then gates it (nothing is sent yet): leaves its
 * arguments and its ticket on the stack, records its state and, when the
 * gate simulates it, its planned result. Returns 1 if it is to be sent, 0
 * if not, -1 with an error pushed. */
static int gate_entry(lua_State *L, Conn *co, int i)
{
    int base = lua_gettop(L), nwords, n = push_entry(L, i), effect;
    char op[OP_MAX];
    const char *argv[1];
    size_t lens[1];
    for (int w = 1; w <= n; w++) collect_words(L, base + w, base + w, argv, lens, i);
    if ((effect = classify(L, co, P_CACHE, base + 1, base + n, op, &nwords)) < 0) return -1;
    push_args(L, base + 1 + nwords, base + n);
    lua_replace(L, base + 1);               /* the words are no longer needed */
    lua_settop(L, base + 1);
    rb_action a = {"redis", op, co->target, base + 1};
    rb_ticket *t = rb_gate_open(L, &a, (rb_effect)effect);
    int send = !rb_ticket_simulate(t);
    if (!send) {
        rb_ticket_simulated(L, t, NULL);
        rb_ticket_done(L, t, 1, NULL);
        push_planned(L);
        lua_rawseti(L, P_RESULTS, i);
    }
    lua_createtable(L, 3, 0);
    lua_pushstring(L, op);
    lua_rawseti(L, -2, 1);
    lua_pushlightuserdata(L, t);
    lua_rawseti(L, -2, 2);
    lua_pushboolean(L, send);
    lua_rawseti(L, -2, 3);
    lua_rawseti(L, P_STATE, i);
    return send;
}

/* The ticket of entry i, or NULL if it was not sent. */
static rb_ticket *entry_ticket(lua_State *L, int i)
{
    lua_rawgeti(L, P_STATE, i);
    lua_rawgeti(L, -1, 3);
    int sent = lua_toboolean(L, -1);
    lua_rawgeti(L, -2, 2);
    rb_ticket *t = sent ? lua_touserdata(L, -1) : NULL;
    lua_pop(L, 3);
    return t;
}

/* The connection failed at entry `from`: every sent entry from there on is
 * done with the error on top of the stack. Returns nil, err. */
static int pipeline_failed(lua_State *L, int from, int n)
{
    const char *msg = top_message(L);
    for (int i = from; i <= n; i++) {
        rb_ticket *t = entry_ticket(L, i);
        if (t) rb_ticket_done(L, t, 0, msg);
    }
    return fail_pushed(L);
}

/* Queues and writes entry i under its ticket; -1 with an error pushed. */
static int send_entry(lua_State *L, Conn *co, int i, double deadline)
{
    int base = lua_gettop(L), n = push_entry(L, i);
    char err[200];
    argbuf b;
    argbuf_init(L, &b, n);
    collect_words(L, base + 1, base + n, b.pargv, b.plens, i);
    int rc = rb_redis_conn_send(entry_ticket(L, i), co->c, n, b.pargv, b.plens, deadline, err, sizeof err);
    lua_settop(L, base);
    if (rc) push_io_error(L, co, rc, err, "pipeline");
    return rc ? -1 : 0;
}

/* Reads the reply of entry i into results; -1 with an error pushed. */
static int read_entry(lua_State *L, Conn *co, int i, double deadline)
{
    redisReply *r = NULL;
    char err[200];
    rb_ticket *t = entry_ticket(L, i);
    int rc = rb_redis_conn_read(t, co->c, deadline, &r, err, sizeof err);
    if (rc) {
        push_io_error(L, co, rc, err, "pipeline");
        return -1;
    }
    set_pending(co, r);
    rb_ticket_done(L, t, r->type != REDIS_REPLY_ERROR, r->type == REDIS_REPLY_ERROR ? r->str : NULL);
    push_reply(L, r);
    lua_rawseti(L, P_RESULTS, i);
    set_pending(co, NULL);
    return 0;
}

/* conn:pipeline{{cmd, ...}, ...}: every command is gated before any is sent. */
static int conn_pipeline(lua_State *L)
{
    Conn *co = check_open(L, 1);
    luaL_checktype(L, P_LIST, LUA_TTABLE);
    lua_settop(L, P_LIST);
    int n = (int)luaL_len(L, P_LIST), nsend = 0, rc;
    lua_getiuservalue(L, 1, 1);
    lua_createtable(L, n, 0);
    lua_createtable(L, n, 0);
    luaL_checkstack(L, 2 * n + 8, "pipeline too long");
    for (int i = 1; i <= n; i++) {
        if ((rc = gate_entry(L, co, i)) < 0) return pipeline_failed(L, 1, i - 1);
        nsend += rc;
    }
    if (nsend > 0) {
        double deadline = rb_redis_now() + co->cmd_timeout;
        if (conn_ready(L, co) < 0) return pipeline_failed(L, 1, n);
        for (int i = 1; i <= n; i++)
            if (entry_ticket(L, i) && send_entry(L, co, i, deadline) < 0) return pipeline_failed(L, 1, n);
        for (int i = 1; i <= n; i++)
            if (entry_ticket(L, i) && read_entry(L, co, i, deadline) < 0) return pipeline_failed(L, i, n);
    }
    lua_pushvalue(L, P_RESULTS);
    return 1;
}

static int conn_close_m(lua_State *L)
{
    conn_close(check_conn(L, 1));
    return 0;
}

static int conn_target(lua_State *L)
{
    lua_pushstring(L, check_open(L, 1)->target);
    return 1;
}

static int conn_tostring(lua_State *L)
{
    Conn *co = check_conn(L, 1);
    lua_pushfstring(L, "rb.redis.Conn (%s)", co->closed ? "closed" : co->target);
    return 1;
}

/* ---- module ----------------------------------------------------------- */

static void push_info_scalar(lua_State *L, const char *v, size_t len)
{
    lua_pushlstring(L, v, len);
    if (rb_redis_info_is_number(v, len) && lua_stringtonumber(L, lua_tostring(L, -1)))
        lua_remove(L, -2);
}

static void push_info_value(lua_State *L, const char *v, size_t len)
{
    const char *p = v, *k, *x;
    size_t kl, xl;
    if (!rb_redis_info_is_dict(v, len)) { push_info_scalar(L, v, len); return; }
    lua_newtable(L);
    while (rb_redis_info_dict_next(&p, v + len, &k, &kl, &x, &xl)) {
        lua_pushlstring(L, k, kl);
        push_info_scalar(L, x, xl);
        lua_rawset(L, -3);
    }
}

/* redis.parse_info(text) -> {field = value}: numbers as numbers, "k=v,..."
 * values (db0, cmdstat_*, errorstat_*) as tables; sections are flattened
 * (INFO field names are unique across sections). */
static int redis_parse_info(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    rb_redis_info_iter it;
    rb_redis_info_field f;
    lua_newtable(L);
    rb_redis_info_init(&it, s, len);
    while (rb_redis_info_next(&it, &f)) {
        lua_pushlstring(L, f.key, f.key_len);
        push_info_value(L, f.value, f.value_len);
        lua_rawset(L, -3);
    }
    return 1;
}

static void set_target(Conn *co)
{
    if (co->url.unix_socket)
        snprintf(co->target, sizeof co->target, "unix://%s?db=%d", co->url.path, co->url.db);
    else if (strchr(co->url.host, ':'))
        snprintf(co->target, sizeof co->target, "[%s]:%d/%d", co->url.host, co->url.port, co->url.db);
    else
        snprintf(co->target, sizeof co->target, "%s:%d/%d", co->url.host, co->url.port, co->url.db);
}

/* A password that is not in the URL: opts.password, else $REDISCLI_AUTH (as
 * redis-cli reads it), so it can stay out of URLs, params and process lists. */
static int password_elsewhere(lua_State *L, Conn *co, char *err, size_t errlen)
{
    size_t len = 0;
    const char *pw = NULL;
    int top = lua_gettop(L), rc = 0;
    if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "password") != LUA_TNIL) {
        if (!lua_isstring(L, -1)) luaL_error(L, "bad option 'password' to 'connect' (string expected)");
        pw = lua_tolstring(L, -1, &len);
    }
    if (!pw && (pw = getenv("REDISCLI_AUTH")) != NULL) len = strlen(pw);
    if (pw && len >= sizeof co->url.password) {
        snprintf(err, errlen, "password too long");
        rc = -1;
    } else if (pw && len > 0) {
        memcpy(co->url.password, pw, len);
        co->url.password[len] = '\0';
        co->url.password_len = len;
    }
    lua_settop(L, top);
    return rc;
}

/* redis.connect(url[, {connect_timeout = 5, timeout = 30, password}]) */
static int redis_connect(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    char err[200];
    int opts = lua_isnoneornil(L, 2) ? 0 : 2;
    if (opts) luaL_checktype(L, 2, LUA_TTABLE);
    double ct = rb_opt_seconds(L, opts, "connect_timeout", 5, "connect");
    double t = rb_opt_seconds(L, opts, "timeout", 30, "connect");
    lua_settop(L, 2);
    Conn *co = lua_newuserdatauv(L, sizeof *co, 1);
    memset(co, 0, sizeof *co);
    co->closed = 1;                               /* born closed until it holds a URL */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &conn_mt_key);
    lua_setmetatable(L, -2);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    int rc = rb_redis_url_parse(url, &co->url, err, sizeof err);
    if (rc == 0 && !co->url.password_len) rc = password_elsewhere(L, co, err, sizeof err);
    if (co->url.password_len) rb_redact_add(co->url.password, co->url.password_len);
    if (rc < 0) {
        memset(co->url.password, 0, sizeof co->url.password);
        return luaL_argerror(L, 1, err);
    }
    co->connect_timeout = ct;
    co->cmd_timeout = t;
    set_target(co);
    co->closed = 0;
    int idx = lua_gettop(L);
    if (conn_open(L, co) < 0) {
        conn_close(co);
        return fail_pushed(L);
    }
    lua_pushvalue(L, idx);            /* above the setup tickets */
    return 1;
}

static const luaL_Reg conn_methods[] = {
    {"call", conn_call}, {"pipeline", conn_pipeline}, {"close", conn_close_m},
    {"target", conn_target}, {NULL, NULL}
};

static const luaL_Reg conn_meta[] = {
    {"__gc", conn_gc}, {"__close", conn_gc}, {"__tostring", conn_tostring}, {NULL, NULL}
};

static const luaL_Reg redislib[] = {
    {"connect", redis_connect}, {"parse_info", redis_parse_info}, {NULL, NULL}
};

/* hiredis 0.14 writes with write(2): on a socket the server has reset that
 * raises SIGPIPE, whose default action kills the process. A handler that
 * does nothing turns it into EPIPE (a conn error). Installed once, only over
 * the default action; unlike SIG_IGN it is not inherited by exec'd children.
 * Per-call blocking would cost four system calls a command. */
static void ignore_sigpipe(int sig) { (void)sig; }

static void survive_sigpipe(void)
{
    struct sigaction old, sa;
    if (sigaction(SIGPIPE, NULL, &old) != 0 || old.sa_handler != SIG_DFL) return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ignore_sigpipe;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

int luaopen_rb_redis(lua_State *L)
{
    survive_sigpipe();
    luaL_newlib(L, redislib);
    lua_createtable(L, 0, 5);
    luaL_setfuncs(L, conn_meta, 0);
    luaL_newlib(L, conn_methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "Conn");          /* lualib/rb/redis.lua adds helper methods */
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "rb.redis.Conn");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &conn_mt_key);
    return 1;
}
