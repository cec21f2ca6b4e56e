/* pg_sql.c — the lexer behind rb.pg's statement guards (see pg_sql.h).
 * It follows PostgreSQL's scan.l for what can hide text from a naive search:
 * standard and E'' strings, dollar quotes, nested block comments, line comments
 * and double-quoted identifiers. Uses only <string.h> and <ctype.h>-free byte tests
 * so the result does not depend on the locale. */
#include "pg_sql.h"
#include <string.h>

/* A name and its length, so the per-identifier check needs no strlen. */
typedef struct { const char *s; size_t len; } word;
#define W(lit) { lit, sizeof lit - 1 }

/* Side-effecting functions a READ ONLY transaction allows, by exact name. */
static const word deny_exact[] = {
    W("pg_terminate_backend"), W("pg_cancel_backend"), W("pg_reload_conf"), W("pg_rotate_logfile"),
    W("pg_switch_wal"), W("pg_switch_xlog"), W("pg_promote"), W("pg_log_backend_memory_contexts"),
    W("pg_backup_start"), W("pg_backup_stop"), W("pg_start_backup"), W("pg_stop_backup"),
    W("pg_import_system_collations"), W("pg_logical_emit_message"), W("pg_replication_slot_advance"),
    W("set_config"), W("pg_notify"), W("nextval"), W("setval"), W("lowrite"), W("lo_import"),
    W("lo_export"), W("txid_current"), W("pg_current_xact_id"), W("ts_stat"), W("ts_rewrite"),
    W("cursor_to_xml"), { NULL, 0 },
};

/* Families matched by prefix, only when called: `name(`. */
static const word deny_prefix[] = {
    W("pg_advisory_"), W("pg_try_advisory_"), W("dblink"), W("lo_"), W("pg_create_"), W("pg_drop_"),
    W("pg_copy_"), W("pg_stat_reset"), W("pg_wal_replay_"), W("pg_replication_origin_"),
    W("pg_logical_slot_get_"), W("pg_file_"),
    W("query_to_xml"),   /* query_to_xml*('any SQL text', ...) runs its argument */
    { NULL, 0 },
};

/* Every identifier of every query is checked: compare lengths and the last
 * byte of the listed name before calling memcmp. */
static int denied_exact(const char *name, size_t len)
{
    for (const word *w = deny_exact; w->s; w++)
        if (w->len == len && w->s[len - 1] == name[len - 1] && memcmp(w->s, name, len) == 0) return 1;
    return 0;
}

static int denied_prefix(const char *name, size_t len)
{
    for (const word *w = deny_prefix; w->s; w++)
        if (len >= w->len && w->s[w->len - 1] == name[w->len - 1] && memcmp(w->s, name, w->len) == 0)
            return 1;
    return 0;
}

/* What conn:query sends: reads, and DML so that the server's READ ONLY
 * transaction is what refuses it (SQLSTATE 25006). Not DO, CALL, COPY, SET,
 * BEGIN/COMMIT, LOCK, LOAD...: they can leave the transaction or run text the
 * lexer never sees. */
static const char *const query_verbs[] = {
    "select", "with", "values", "table", "show", "explain",
    "insert", "update", "delete", "merge", NULL,
};

/* Transaction control: conn:exec runs one statement in its own transaction. */
static const char *const txn_verbs[] = {
    "begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare", NULL,
};

static const char *const simulable_verbs[] = {
    "select", "insert", "update", "delete", "merge", "with", "values", "table", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return 1;
    return 0;
}

int rb_pg_sql_denied_name(const char *name, size_t len, int called)
{
    return denied_exact(name, len) || (called && denied_prefix(name, len));
}

int rb_pg_sql_query_verb(const char *verb)
{
    return in_list(query_verbs, verb);
}

int rb_pg_sql_txn_verb(const char *verb)
{
    return in_list(txn_verbs, verb);
}

int rb_pg_sql_simulable(const rb_pg_sql_info *info)
{
    return info->statements == 1 && !info->unterminated && info->denied[0] == '\0'
        && in_list(simulable_verbs, info->verb);
}

static int is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

typedef struct {
    const char *s;
    size_t len, i;
    rb_pg_sql_info *out;
    int stmt_has_token;   /* the current statement has a significant token */
} lexer;

/* Skips a quoted run that ends at `q`, where a doubled `q` stands for itself;
 * with `backslash`, \x escapes the next byte (E'' strings). */
static void skip_quoted(lexer *lx, char q, int backslash)
{
    lx->i++;
    while (lx->i < lx->len) {
        char c = lx->s[lx->i++];
        if (backslash && c == '\\') { lx->i++; continue; }
        if (c != q) continue;
        if (lx->i < lx->len && lx->s[lx->i] == q) { lx->i++; continue; }
        return;
    }
    lx->out->unterminated = 1;
}

static void skip_block_comment(lexer *lx)
{
    int depth = 0;
    while (lx->i < lx->len) {
        if (lx->s[lx->i] == '/' && lx->i + 1 < lx->len && lx->s[lx->i + 1] == '*') {
            depth++; lx->i += 2;
        } else if (lx->s[lx->i] == '*' && lx->i + 1 < lx->len && lx->s[lx->i + 1] == '/') {
            lx->i += 2;
            if (--depth == 0) return;
        } else {
            lx->i++;
        }
    }
    lx->out->unterminated = 1;
}

/* Skips whitespace and comments; returns 0 at the end of input. */
static int skip_blank(lexer *lx)
{
    while (lx->i < lx->len) {
        unsigned char c = (unsigned char)lx->s[lx->i];
        if (is_space(c)) lx->i++;
        else if (c == '-' && lx->i + 1 < lx->len && lx->s[lx->i + 1] == '-') {
            while (lx->i < lx->len && lx->s[lx->i] != '\n') lx->i++;
        } else if (c == '/' && lx->i + 1 < lx->len && lx->s[lx->i + 1] == '*') {
            skip_block_comment(lx);
        } else return 1;
    }
    return 0;
}

/* At '$': a parameter ($12), a dollar-quoted string ($tag$...$tag$), or an operator. */
static void lex_dollar(lexer *lx)
{
    size_t start = lx->i, j = lx->i + 1;
    if (j < lx->len && lx->s[j] >= '0' && lx->s[j] <= '9') {
        int n = 0;
        while (j < lx->len && lx->s[j] >= '0' && lx->s[j] <= '9') {
            if (n < 100000) n = n * 10 + (lx->s[j] - '0');
            j++;
        }
        if (n > lx->out->max_param) lx->out->max_param = n;
        lx->i = j;
        return;
    }
    while (j < lx->len && is_ident_char((unsigned char)lx->s[j]) && lx->s[j] != '$') j++;
    if (j >= lx->len || lx->s[j] != '$') { lx->i = start + 1; return; }
    size_t taglen = j + 1 - start;   /* "$tag$" */
    for (size_t k = j + 1; k + taglen <= lx->len; k++) {
        if (memcmp(lx->s + k, lx->s + start, taglen) == 0) { lx->i = k + taglen; return; }
    }
    lx->out->unterminated = 1;
    lx->i = lx->len;
}

/* Is the next significant byte '('? Looks ahead without consuming. */
static int followed_by_paren(lexer *lx)
{
    size_t save = lx->i;
    int saved_unterminated = lx->out->unterminated;
    int r = skip_blank(lx) && lx->s[lx->i] == '(';
    lx->i = save;
    lx->out->unterminated = saved_unterminated;
    return r;
}

static void note_name(lexer *lx, const char *name, size_t n, int first_token)
{
    rb_pg_sql_info *o = lx->out;
    if (first_token && o->statements == 1 && o->verb[0] == '\0' && n < sizeof o->verb) {
        for (size_t k = 0; k < n; k++) {
            char c = name[k];
            o->verb[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        o->verb[n] = '\0';
    }
    /* the look-ahead for '(' only when a prefix family matched */
    if (o->denied[0] == '\0' && n < sizeof o->denied
        && (denied_exact(name, n) || (denied_prefix(name, n) && followed_by_paren(lx)))) {
        memcpy(o->denied, name, n);
        o->denied[n] = '\0';
    }
}

/* An unquoted identifier or keyword: folded to lower case like the server does. */
static void lex_word(lexer *lx, int first_token)
{
    char buf[64];
    size_t start = lx->i, n = 0;
    while (lx->i < lx->len && is_ident_char((unsigned char)lx->s[lx->i])) {
        char c = lx->s[lx->i++];
        if (n < sizeof buf) buf[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    size_t wlen = lx->i - start;
    if (lx->i < lx->len && lx->s[lx->i] == '\'') {
        /* E'..' takes backslash escapes; B'', X'', N'', typed literals do not. */
        skip_quoted(lx, '\'', wlen == 1 && (buf[0] == 'e'));
        return;
    }
    if (wlen <= sizeof buf) note_name(lx, buf, wlen, first_token);
}

/* A "quoted identifier": compared as written, with "" standing for one quote. */
static void lex_quoted_ident(lexer *lx, int first_token)
{
    char buf[64];
    size_t n = 0, start = lx->i;
    skip_quoted(lx, '"', 0);
    for (size_t k = start + 1; k + 1 < lx->i && n < sizeof buf; k++) {
        buf[n++] = lx->s[k];
        if (lx->s[k] == '"') k++;
    }
    if (!lx->out->unterminated) note_name(lx, buf, n, first_token);
}

static void lex_token(lexer *lx)
{
    unsigned char c = (unsigned char)lx->s[lx->i];
    int first = !lx->stmt_has_token;
    if (c == ';') {
        lx->stmt_has_token = 0;
        lx->i++;
        return;
    }
    if (first) lx->out->statements++;
    lx->stmt_has_token = 1;
    if (c == '\'') skip_quoted(lx, '\'', 0);
    else if (c == '"') lex_quoted_ident(lx, 0);
    else if (c == '$') lex_dollar(lx);
    else if (is_ident_start(c)) lex_word(lx, first);
    else if (c == '(' && first) { lx->i++; lx->stmt_has_token = 0; lx->out->statements--; }
    else lx->i++;
}

void rb_pg_sql_scan(const char *sql, size_t len, rb_pg_sql_info *out)
{
    lexer lx = { sql, len, 0, out, 0 };
    memset(out, 0, sizeof *out);
    while (skip_blank(&lx)) lex_token(&lx);
}
