/* pg_sql.c — the lexer behind rb.pg's statement guards (see pg_sql.h).
 * It follows PostgreSQL's scan.l for what can hide text from a naive search:
 * standard and E'' strings, dollar quotes, nested block comments, line comments
 * and double-quoted identifiers. Uses only <string.h> and <ctype.h>-free byte tests
 * so the result does not depend on the locale. */
#include "pg_sql.h"
#include <stdlib.h>
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
    W("cursor_to_xml"), W("cursor_to_xmlschema"), W("query_to_xmlschema"),
    /* index and table maintenance */
    W("brin_summarize_new_values"), W("brin_summarize_range"), W("brin_desummarize_range"),
    W("gin_clean_pending_list"), W("pg_truncate_visibility_map"), W("pg_prewarm"),
    W("pg_nextoid"), W("pg_extension_config_dump"),
    { NULL, 0 },
};

/* Families matched by prefix, only when called: `name(`. */
static const word deny_prefix[] = {
    W("pg_advisory_"), W("pg_try_advisory_"), W("dblink"), W("lo_"), W("pg_create_"), W("pg_drop_"),
    W("pg_copy_"), W("pg_stat_reset"), W("pg_wal_replay_"), W("pg_replication_origin_"),
    W("pg_logical_slot_get_"), W("pg_file_"), W("pg_stat_statements_reset"),
    W("postgres_fdw_disconnect"), W("pg_replication_slot_"),
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

/* Volatile functions that only look: the server-side check (conn:query asks
 * PostgreSQL which functions a statement calls and how volatile they are)
 * lets these through. Sorted; a team adds its own with connect's
 * `allow_functions` option (docs/lua/pg.md). */
static const char *const volatile_allowed[] = {
    "bernoulli", "clock_timestamp", "current_query", "currval", "gen_random_uuid", "lastval",
    "pg_blocking_pids", "pg_buffercache_pages", "pg_collation_actual_version", "pg_control_checkpoint",
    "pg_control_init", "pg_control_recovery", "pg_control_system", "pg_current_logfile",
    "pg_current_wal_flush_lsn", "pg_current_wal_insert_lsn", "pg_current_wal_lsn",
    "pg_database_collation_actual_version", "pg_database_size", "pg_get_backend_memory_contexts",
    "pg_get_multixact_members", "pg_get_shmem_allocations", "pg_get_wal_replay_pause_state",
    "pg_get_wal_resource_managers", "pg_hba_file_rules", "pg_ident_file_mappings", "pg_indexes_size",
    "pg_is_in_recovery", "pg_is_wal_replay_paused", "pg_isolation_test_session_is_blocked",
    "pg_jit_available", "pg_last_committed_xact", "pg_last_wal_receive_lsn", "pg_last_wal_replay_lsn",
    "pg_last_xact_replay_timestamp", "pg_lock_status", "pg_ls_archive_statusdir", "pg_ls_dir",
    "pg_ls_logdir", "pg_ls_logicalmapdir", "pg_ls_logicalsnapdir", "pg_ls_replslotdir", "pg_ls_tmpdir",
    "pg_ls_waldir", "pg_notification_queue_usage", "pg_partition_ancestors", "pg_partition_tree",
    "pg_prepared_xact", "pg_relation_size", "pg_safe_snapshot_blocking_pids", "pg_sequence_last_value",
    "pg_show_all_file_settings", "pg_show_replication_origin_status", "pg_sleep", "pg_sleep_for",
    "pg_sleep_until", "pg_stat_clear_snapshot", "pg_stat_file", "pg_stat_force_next_flush",
    "pg_stat_get_recovery_prefetch", "pg_stat_get_xact_blocks_fetched", "pg_stat_get_xact_blocks_hit",
    "pg_stat_get_xact_function_calls", "pg_stat_get_xact_function_self_time",
    "pg_stat_get_xact_function_total_time", "pg_stat_get_xact_numscans",
    "pg_stat_get_xact_tuples_deleted", "pg_stat_get_xact_tuples_fetched",
    "pg_stat_get_xact_tuples_hot_updated", "pg_stat_get_xact_tuples_inserted",
    "pg_stat_get_xact_tuples_returned", "pg_stat_get_xact_tuples_updated", "pg_stat_have_stats",
    "pg_stat_statements", "pg_stat_statements_info", "pg_table_size", "pg_tablespace_size",
    "pg_total_relation_size", "pg_xact_commit_timestamp", "pg_xact_commit_timestamp_origin",
    "pg_xact_status", "pgstatindex", "pgstattuple", "pgstattuple_approx", "random", "system",
    "system_rows", "system_time", "timeofday", "txid_status",
};

static int cmp_name(const void *key, const void *e)
{
    return strcmp((const char *)key, *(const char *const *)e);
}

int rb_pg_sql_volatile_allowed(const char *name)
{
    return bsearch(name, volatile_allowed, sizeof volatile_allowed / sizeof *volatile_allowed,
                   sizeof *volatile_allowed, cmp_name) != NULL;
}

int rb_pg_sql_allowlist_sorted(void)
{
    for (size_t i = 1; i < sizeof volatile_allowed / sizeof *volatile_allowed; i++)
        if (strcmp(volatile_allowed[i - 1], volatile_allowed[i]) >= 0) return 0;
    return 1;
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

/* 1 if the n bytes at s spell lower-case word w in any case. */
static int spells_word(const char *s, const char *w, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if ((char)(s[k] | 0x20) != w[k]) return 0;
    return 1;
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
    rb_pg_call_fn on_call; /* rb_pg_sql_each_call: every name followed by '(' */
    void *ud;
    int ncalls;
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
    if (lx->on_call) {
        if (followed_by_paren(lx)) { lx->on_call(lx->ud, name, n); lx->ncalls++; }
        return;
    }
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

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends code point cp as UTF-8 to buf (bounded by cap). */
static size_t put_utf8(char *buf, size_t n, size_t cap, unsigned long cp)
{
    unsigned char u[4];
    size_t k;
    if (cp < 0x80) { u[0] = (unsigned char)cp; k = 1; }
    else if (cp < 0x800) { u[0] = (unsigned char)(0xC0 | cp >> 6); u[1] = (unsigned char)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12); u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18); u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (unsigned char)(0x80 | (cp & 0x3F)); k = 4;
    }
    for (size_t j = 0; j < k && n < cap; j++) buf[n++] = (char)u[j];
    return n;
}

/* Decodes the body of U&"..." (between the quotes, "" already standing for
 * one quote in `raw`) with escape character esc: \XXXX, \+XXXXXX and a
 * doubled esc, as the server's scanner does. Returns the decoded length, or
 * (size_t)-1 for an invalid escape (the server rejects the statement). */
static size_t decode_uescape(const char *raw, size_t rn, char esc, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t k = 0; k < rn; k++) {
        if (raw[k] != esc) { if (n < cap) buf[n++] = raw[k]; continue; }
        if (k + 1 < rn && raw[k + 1] == esc) { if (n < cap) buf[n++] = esc; k++; continue; }
        int digits = (k + 1 < rn && raw[k + 1] == '+') ? 6 : 4;
        size_t at = k + 1 + (digits == 6);
        unsigned long cp = 0;
        if (at + (size_t)digits > rn) return (size_t)-1;
        for (int d = 0; d < digits; d++) {
            int h = hex_value((unsigned char)raw[at + (size_t)d]);
            if (h < 0) return (size_t)-1;
            cp = cp * 16 + (unsigned long)h;
        }
        if (cp == 0 || cp > 0x10FFFF) return (size_t)-1;
        n = put_utf8(buf, n, cap, cp);
        k = at + (size_t)digits - 1;
    }
    return n;
}

/* After U&"...": an optional UESCAPE 'c' clause; returns the escape
 * character and consumes the clause. */
static char uescape_char(lexer *lx)
{
    size_t save = lx->i;
    int saved_unterminated = lx->out->unterminated;
    static const char kw[] = "uescape";
    if (skip_blank(lx) && lx->i + 7 <= lx->len) {
        size_t k = 0;
        while (k < 7 && (lx->s[lx->i + k] | 0x20) == kw[k]) k++;
        if (k == 7 && (lx->i + 7 == lx->len || !is_ident_char((unsigned char)lx->s[lx->i + 7]))) {
            lx->i += 7;
            if (skip_blank(lx) && lx->i + 2 < lx->len && lx->s[lx->i] == '\'' && lx->s[lx->i + 2] == '\'') {
                char c = lx->s[lx->i + 1];
                lx->i += 3;
                return c;
            }
        }
    }
    lx->i = save;
    lx->out->unterminated = saved_unterminated;
    return '\\';
}

/* Copies the body of the quoted identifier that ends just before lx->i (a
 * doubled quote stands for one) into buf; returns its length. */
static size_t quoted_body(const lexer *lx, size_t start, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t k = start + 1; k + 1 < lx->i && n < cap; k++) {
        buf[n++] = lx->s[k];
        if (lx->s[k] == '"') k++;
    }
    return n;
}

/* U&"d\0061ta": a quoted identifier with Unicode escapes; compared after
 * decoding, as the server resolves it. */
static void lex_unicode_ident(lexer *lx, int first_token)
{
    char raw[256], buf[64];
    size_t start = lx->i;
    skip_quoted(lx, '"', 0);
    if (lx->out->unterminated) return;
    size_t rn = quoted_body(lx, start, raw, sizeof raw);
    char esc = uescape_char(lx);
    size_t n = decode_uescape(raw, rn, esc, buf, sizeof buf);
    if (n != (size_t)-1 && n < sizeof buf) note_name(lx, buf, n, first_token);
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
    if (wlen == 1 && buf[0] == 'u' && lx->i + 1 < lx->len && lx->s[lx->i] == '&') {
        if (lx->s[lx->i + 1] == '"') { lx->i++; lex_unicode_ident(lx, first_token); return; }
        if (lx->s[lx->i + 1] == '\'') { lx->i++; skip_quoted(lx, '\'', 0); return; }
    }
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
    size_t start = lx->i;
    skip_quoted(lx, '"', 0);
    size_t n = quoted_body(lx, start, buf, sizeof buf);
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

/* Reads the next bare word at lx->i (lower case into w); 0 if none. */
static size_t next_word(lexer *lx, char *w, size_t cap)
{
    size_t n = 0;
    if (!skip_blank(lx) || !is_ident_start((unsigned char)lx->s[lx->i])) return 0;
    while (lx->i < lx->len && is_ident_char((unsigned char)lx->s[lx->i])) {
        char c = lx->s[lx->i++];
        if (n + 1 < cap) w[n++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    w[n] = '\0';
    return n;
}

/* EXPLAIN [ ( option [, ...] ) ] [ANALYZE] [VERBOSE] statement: where the
 * statement starts, and whether ANALYZE (which runs it) is asked for. */
static void explain_words(const char *sql, size_t len, rb_pg_sql_info *out)
{
    rb_pg_sql_info scratch;
    lexer lx = { sql, len, 0, &scratch, 0, NULL, NULL, 0 };
    char w[16];
    memset(&scratch, 0, sizeof scratch);
    while (skip_blank(&lx) && lx.s[lx.i] == '(') lx.i++;      /* ((EXPLAIN ...)) is not valid; be safe */
    next_word(&lx, w, sizeof w);                              /* explain */
    if (skip_blank(&lx) && lx.s[lx.i] == '(') {
        size_t close = lx.i;
        while (close < len && sql[close] != ')') close++;
        for (size_t k = lx.i; k < close; k++)                 /* (ANALYZE [true]), (analyse) */
            if ((k == 0 || !is_ident_char((unsigned char)sql[k - 1])) && k + 7 <= close
                && (spells_word(sql + k, "analyze", 7) || spells_word(sql + k, "analyse", 7)))
                out->explain_analyze = 1;
        lx.i = close < len ? close + 1 : len;
    }
    for (;;) {
        size_t save = lx.i;
        if (!next_word(&lx, w, sizeof w)) break;
        if (strcmp(w, "analyze") == 0 || strcmp(w, "analyse") == 0) out->explain_analyze = 1;
        else if (strcmp(w, "verbose") != 0) { lx.i = save; break; }
    }
    skip_blank(&lx);
    out->explain_at = lx.i;
}

void rb_pg_sql_scan(const char *sql, size_t len, rb_pg_sql_info *out)
{
    lexer lx = { sql, len, 0, out, 0, NULL, NULL, 0 };
    memset(out, 0, sizeof *out);
    while (skip_blank(&lx)) lex_token(&lx);
    if (strcmp(out->verb, "explain") == 0) explain_words(sql, len, out);
}

int rb_pg_sql_each_call(const char *text, size_t len, rb_pg_call_fn fn, void *ud)
{
    rb_pg_sql_info info;
    lexer lx = { text, len, 0, &info, 0, fn, ud, 0 };
    memset(&info, 0, sizeof info);
    while (skip_blank(&lx)) lex_token(&lx);
    return lx.ncalls;
}
