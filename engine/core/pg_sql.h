/* pg_sql.h — a small PostgreSQL lexer for rb.pg's guards (pure C, no Lua, no libpq).
 *
 * rb_pg_sql_scan() walks SQL text the way the server's lexer does for the parts
 * that matter to a guard: it skips string literals ('...', E'...', $tag$...$tag$),
 * comments (-- and nested block comments) and knows quoted identifiers; it counts
 * statements (top-level ';'), finds the first keyword (the verb), the highest $n
 * parameter, and the first call of a side-effecting function that a READ ONLY
 * transaction still allows (pg_terminate_backend, set_config, nextval, ...).
 * Quoted identifiers are compared too: "pg_cancel_backend"(1) is the same call,
 * and so is U&"pg\005fcancel_backend"(1) (Unicode escapes, UESCAPE), decoded
 * as the server decodes them; a schema-qualified name is compared by its last
 * part, unquoted names in lower case as the server folds them.
 *
 * It is a guard beside `BEGIN READ ONLY`, not a parser: it decides what
 * conn:query refuses to send and what conn:exec can simulate with EXPLAIN. */
#ifndef RB_PG_SQL_H
#define RB_PG_SQL_H
#include <stddef.h>

typedef struct {
    int statements;       /* non-empty statements separated by top-level ';' */
    char verb[24];        /* first keyword of the first statement, lower case; "" if none */
    char denied[64];      /* first side-effecting function named, as written; "" if none */
    int max_param;        /* highest $n referenced (0 if none) */
    int unterminated;     /* a literal, quoted identifier or comment runs off the end */
    int explain_analyze;  /* verb explain: ANALYZE was asked for (the statement runs) */
    size_t explain_at;    /* verb explain: offset of the statement explained */
} rb_pg_sql_info;

void rb_pg_sql_scan(const char *sql, size_t len, rb_pg_sql_info *out);

/* Calls fn for every name followed by '(' in text (SQL, or the Output and
 * Function Call lines of an EXPLAIN VERBOSE plan) as the server resolves it:
 * unquoted in lower case, quoted and U&"" names decoded, literals and
 * comments skipped, the last part of a qualified name. Returns how many. */
typedef void (*rb_pg_call_fn)(void *ud, const char *name, size_t len);
int rb_pg_sql_each_call(const char *text, size_t len, rb_pg_call_fn fn, void *ud);

/* 1 if name is a volatile function that only reads (clock_timestamp,
 * pg_blocking_pids, pg_relation_size, pg_ls_dir, ...): the server-side check
 * lets it through. */
int rb_pg_sql_volatile_allowed(const char *name);
int rb_pg_sql_allowlist_sorted(void);   /* for tests: bsearch needs it */

/* Non-zero if name (lower case, unquoted, or exact if quoted) is a function that
 * changes something even inside a READ ONLY transaction. `called` says whether
 * the name is followed by '(': families matched by prefix (pg_advisory_*, lo_*,
 * dblink*, query_to_xml*) count only as calls; exact names count anywhere.
 * Functions that run SQL given as text (query_to_xml, ts_stat, ts_rewrite)
 * are denied too: the lexer cannot see inside their argument. */
int rb_pg_sql_denied_name(const char *name, size_t len, int called);

/* Verbs conn:query sends: select, with, values, table, show, explain, and the
 * DML verbs insert, update, delete, merge, which the server's READ ONLY
 * transaction refuses (SQLSTATE 25006) — the authoritative answer. */
int rb_pg_sql_query_verb(const char *verb);

/* Transaction control (begin start commit end rollback abort savepoint release
 * prepare): conn:exec refuses it, each call being its own transaction. */
int rb_pg_sql_txn_verb(const char *verb);

/* Non-zero if conn:exec can validate the statement with EXPLAIN in plan mode:
 * DML or a query (select insert update delete merge with values table) that
 * calls no side-effecting function (SELECT pg_reload_conf() cannot be simulated). */
int rb_pg_sql_simulable(const rb_pg_sql_info *info);
#endif
