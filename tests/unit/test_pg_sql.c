/* test_pg_sql.c — rb.pg's pure helpers: the SQL guard lexer (statements, verb,
 * side-effecting functions hidden or not by literals, comments and quoting) and
 * the value / SQLSTATE / command-tag rules. */
#include "core/pg_sql.h"
#include "core/pg_value.h"
#include "tap.h"
#include <math.h>

static rb_pg_sql_info scan(const char *sql)
{
    rb_pg_sql_info in;
    rb_pg_sql_scan(sql, strlen(sql), &in);
    return in;
}

static void denied(const char *sql, const char *want)
{
    rb_pg_sql_info in = scan(sql);
    TAP_EQ_STR(in.denied, want, sql);
}

static void statements(void)
{
    TAP_EQ_INT(scan("SELECT 1").statements, 1, "one statement");
    TAP_EQ_INT(scan("SELECT 1;").statements, 1, "trailing ; is still one");
    TAP_EQ_INT(scan("SELECT 1; ; -- x\n").statements, 1, "empty statements and comments do not count");
    TAP_EQ_INT(scan("SELECT 1; DELETE FROM t").statements, 2, "two statements");
    TAP_EQ_INT(scan("SELECT ';'").statements, 1, "; inside a string");
    TAP_EQ_INT(scan("SELECT 1 /* ; /* nested ; */ ; */").statements, 1, "; inside nested comments");
    TAP_EQ_INT(scan("SELECT $$a;b$$, $f$ ; $$ ; $f$").statements, 1, "; inside dollar quotes");
    TAP_EQ_INT(scan("SELECT E'\\';' ").statements, 1, "E'' takes backslash escapes");
    TAP_EQ_INT(scan("SELECT 'it''s;'").statements, 1, "doubled quote");
    TAP_EQ_INT(scan("SELECT \"a;b\" FROM t").statements, 1, "; in a quoted identifier");
    TAP_EQ_INT(scan("").statements, 0, "empty text has no statement");
    TAP_EQ_INT(scan("SELECT 'open").unterminated, 1, "unterminated string is flagged");
    TAP_EQ_INT(scan("SELECT 1 /* open").unterminated, 1, "unterminated comment is flagged");
    TAP_EQ_INT(scan("SELECT $x$ open").unterminated, 1, "unterminated dollar quote is flagged");
}

static void verbs(void)
{
    TAP_EQ_STR(scan("  -- hi\n/* c */ SeLeCt 1").verb, "select", "verb after comments, lower case");
    TAP_EQ_STR(scan("((SELECT 1))").verb, "select", "verb inside parentheses");
    TAP_EQ_STR(scan("WITH x AS (UPDATE t SET a=1) SELECT 1").verb, "with", "WITH");
    TAP_EQ_STR(scan("ALTER SYSTEM SET work_mem = '8MB'").verb, "alter", "ALTER");
    TAP_EQ_STR(scan("'x' SELECT").verb, "", "a literal first: no verb");
    TAP_OK(rb_pg_sql_query_verb("select") && rb_pg_sql_query_verb("explain")
           && rb_pg_sql_query_verb("show"), "select, explain, show are sent by query");
    TAP_OK(rb_pg_sql_query_verb("update") && rb_pg_sql_query_verb("insert"),
           "DML is sent too, for the read-only transaction to refuse");
    TAP_OK(!rb_pg_sql_query_verb("set") && !rb_pg_sql_query_verb("do") && !rb_pg_sql_query_verb("commit")
           && !rb_pg_sql_query_verb("copy") && !rb_pg_sql_query_verb("call")
           && !rb_pg_sql_query_verb("load") && !rb_pg_sql_query_verb("begin"),
           "set, do, commit, copy, call, load, begin are not");
    TAP_OK(rb_pg_sql_txn_verb("begin") && rb_pg_sql_txn_verb("commit") && rb_pg_sql_txn_verb("savepoint")
           && !rb_pg_sql_txn_verb("vacuum") && !rb_pg_sql_txn_verb("update"),
           "transaction control verbs");
}

static void deny(void)
{
    denied("SELECT pg_terminate_backend(123)", "pg_terminate_backend");
    denied("select PG_CANCEL_BACKEND (1)", "pg_cancel_backend");
    denied("SELECT pg_catalog.pg_reload_conf()", "pg_reload_conf");
    denied("SELECT \"pg_terminate_backend\"(1)", "pg_terminate_backend");
    denied("SELECT \"PG_TERMINATE_BACKEND\"(1)", "");
    denied("SELECT * FROM pg_terminate_backend /* x */ (1)", "pg_terminate_backend");
    denied("SELECT pg_advisory_lock(1)", "pg_advisory_lock");
    denied("SELECT pg_try_advisory_xact_lock(1)", "pg_try_advisory_xact_lock");
    denied("SELECT * FROM dblink('x', 'y')", "dblink");
    denied("SELECT lo_unlink(1)", "lo_unlink");
    denied("SELECT set_config('a', 'b', false)", "set_config");
    denied("SELECT nextval('s')", "nextval");
    denied("SELECT pg_notify('c', 'p')", "pg_notify");
    denied("SELECT pg_stat_reset()", "pg_stat_reset");
    denied("SELECT pg_create_restore_point('x')", "pg_create_restore_point");
    denied("SELECT 'pg_terminate_backend(1)'", "");
    denied("SELECT 1 -- pg_terminate_backend(1)\n", "");
    denied("SELECT /* pg_cancel_backend(1) */ 1", "");
    denied("SELECT $$ pg_reload_conf() $$", "");
    denied("SELECT E'\\' pg_reload_conf()'", "");
    denied("SELECT E'\\' ' || pg_reload_conf()::text", "pg_reload_conf");
    denied("SELECT query FROM pg_stat_activity WHERE query LIKE '%pg_sleep%'", "");
    denied("SELECT pg_sleep(1)", "");
    denied("SELECT query_to_xml('SELECT pg_terminate_backend(1)', true, true, '')", "query_to_xml");
    denied("SELECT * FROM ts_stat('SELECT v FROM t')", "ts_stat");
    denied("SELECT lo_count FROM t", "");
    denied("SELECT x FROM t WHERE pg_advisory_ = 1", "");
}

/* The bypasses: spellings the server resolves to the same function. */
static void resolved_spellings(void)
{
    denied("SELECT U&\"pg_terminate\\005Fbackend\"(1)", "pg_terminate_backend");
    denied("SELECT u&\"\\0070g_terminate_backend\"(1)", "pg_terminate_backend");
    denied("SELECT U&\"pg_terminate\\+00005Fbackend\"(1)", "pg_terminate_backend");
    denied("SELECT U&\"pg_terminate!005Fbackend\" UESCAPE '!' (1)", "pg_terminate_backend");
    denied("SELECT U&\"pg_terminate!005Fbackend\" /* c */ uescape\t'!'(1)", "pg_terminate_backend");
    denied("SELECT pg_catalog.U&\"pg_cancel\\005fbackend\"(1)", "pg_cancel_backend");
    denied("SELECT \"pg_catalog\".\"pg_terminate_backend\"(1)", "pg_terminate_backend");
    denied("SELECT PG_CATALOG . PG_TERMINATE_BACKEND (1)", "pg_terminate_backend");
    denied("SELECT U&'pg_terminate_backend(1)'", "");
    denied("SELECT U&\"PG_TERMINATE_BACKEND\"(1)", "");
    denied("SELECT U&\"bad\\zz\"(1)", "");
    denied("SELECT * FROM public.dblink_exec('dbname=x', 'UPDATE t SET a = 1')", "dblink_exec");
    denied("SELECT brin_summarize_new_values('i'::regclass)", "brin_summarize_new_values");
    denied("SELECT gin_clean_pending_list('i')", "gin_clean_pending_list");
    denied("SELECT brin_summarize_range('i', 0)", "brin_summarize_range");
    denied("SELECT postgres_fdw_disconnect_all()", "postgres_fdw_disconnect_all");
    denied("SELECT pg_advisory_xact_lock_shared(1)", "pg_advisory_xact_lock_shared");
    denied("SELECT setval('s', 1)", "setval");
    denied("SELECT lo_from_bytea(0, 'x')", "lo_from_bytea");
    denied("SELECT pg_switch_wal()", "pg_switch_wal");
    denied("SELECT pg_rotate_logfile()", "pg_rotate_logfile");
    denied("SELECT pg_stat_statements_reset()", "pg_stat_statements_reset");
}

static void on_call(void *ud, const char *name, size_t len)
{
    char *acc = ud;
    strncat(acc, name, len);
    strcat(acc, " ");
}

static void calls_and_explain(void)
{
    char acc[256] = "";
    const char *plan = "Function Scan on public.dblink_exec\n  Output: dblink_exec\n"
                       "  Function Call: dblink_exec('dbname=x'::text, 'UPDATE f(1)'::text)\n"
                       "  Filter: (\"My\"(a) > U&\"r\\0061ndom\"())";
    int n = rb_pg_sql_each_call(plan, strlen(plan), on_call, acc);
    TAP_EQ_INT(n, 3, "three calls in the plan (literals skipped)");
    TAP_EQ_STR(acc, "dblink_exec My random ", "names as the server resolves them");
    const char *ex = "EXPLAIN (ANALYZE, COSTS OFF) SELECT f()";
    rb_pg_sql_info in = scan(ex);
    TAP_OK(in.explain_analyze, "EXPLAIN (ANALYZE ...) runs the statement");
    TAP_EQ_STR(ex + in.explain_at, "SELECT f()", "the explained statement");
    in = scan("explain analyse verbose SELECT 1");
    TAP_OK(in.explain_analyze, "EXPLAIN ANALYSE VERBOSE runs it");
    TAP_EQ_INT((long)in.explain_at, 24, "... and it starts after the words");
    in = scan("EXPLAIN SELECT analyze_me()");
    TAP_OK(!in.explain_analyze, "plain EXPLAIN does not run it");
    TAP_OK(rb_pg_sql_allowlist_sorted(), "the volatile allow-list is sorted");
    TAP_OK(rb_pg_sql_volatile_allowed("pg_blocking_pids") && rb_pg_sql_volatile_allowed("clock_timestamp"),
           "read-only diagnostics are allowed");
    TAP_OK(!rb_pg_sql_volatile_allowed("dblink_exec") && !rb_pg_sql_volatile_allowed("pg_terminate_backend")
           && !rb_pg_sql_volatile_allowed("nextval"), "effects are not");
}

static void simulable(void)
{
    rb_pg_sql_info in = scan("UPDATE t SET a = $1 WHERE id = $2");
    TAP_OK(rb_pg_sql_simulable(&in), "UPDATE can be simulated");
    TAP_EQ_INT(in.max_param, 2, "highest parameter is $2");
    in = scan("VACUUM ANALYZE");
    TAP_OK(!rb_pg_sql_simulable(&in), "VACUUM cannot be simulated");
    in = scan("SELECT pg_reload_conf()");
    TAP_OK(!rb_pg_sql_simulable(&in), "SELECT pg_reload_conf() cannot be simulated");
    in = scan("ALTER SYSTEM SET work_mem = '8MB'");
    TAP_OK(!rb_pg_sql_simulable(&in), "ALTER SYSTEM cannot be simulated");
    in = scan("DELETE FROM t; DELETE FROM u");
    TAP_OK(!rb_pg_sql_simulable(&in), "two statements cannot be simulated");
}

static void values(void)
{
    long long i;
    double d;
    TAP_EQ_INT(rb_pg_type_class(20), RB_PG_INT, "int8 is an integer");
    TAP_EQ_INT(rb_pg_type_class(1700), RB_PG_FLOAT, "numeric is a float");
    TAP_EQ_INT(rb_pg_type_class(16), RB_PG_BOOL, "bool is a boolean");
    TAP_EQ_INT(rb_pg_type_class(1184), RB_PG_TEXT, "timestamptz is text");
    TAP_EQ_INT(rb_pg_type_class(99999), RB_PG_TEXT, "unknown types are text");
    TAP_EQ_STR(rb_pg_type_name(1184), "timestamptz", "type name");
    TAP_OK(rb_pg_type_name(99999) == NULL, "unknown type has no name");
    TAP_OK(rb_pg_parse_int("-9223372036854775808", &i) == 0 && i == (-9223372036854775807LL - 1),
           "int8 minimum");
    TAP_OK(rb_pg_parse_int("12x", &i) == -1, "junk is not an integer");
    TAP_OK(rb_pg_parse_float("1.5e3", &d) == 0 && d == 1500.0, "float");
    TAP_OK(rb_pg_parse_float("NaN", &d) == 0 && isnan(d), "NaN");
    TAP_OK(rb_pg_parse_float("-Infinity", &d) == 0 && isinf(d) && d < 0, "-Infinity");
    TAP_OK(rb_pg_parse_float("", &d) == -1, "empty is not a float");
}

static void errors(void)
{
    TAP_EQ_STR(rb_pg_sqlstate_kind("42601"), "sql", "syntax error is sql");
    TAP_EQ_STR(rb_pg_sqlstate_kind("25006"), "sql", "read-only violation is sql");
    TAP_EQ_STR(rb_pg_sqlstate_kind("57014"), "timeout", "canceled statement is timeout");
    TAP_EQ_STR(rb_pg_sqlstate_kind("57P01"), "conn", "terminated backend is conn");
    TAP_EQ_STR(rb_pg_sqlstate_kind("08006"), "conn", "connection failure is conn");
    TAP_EQ_STR(rb_pg_sqlstate_kind(NULL), "conn", "no sqlstate is conn");
    TAP_OK(rb_pg_sqlstate_retryable("40001") && rb_pg_sqlstate_retryable("40P01")
           && rb_pg_sqlstate_retryable("55P03") && rb_pg_sqlstate_retryable("08006"),
           "serialization, deadlock, lock timeout, connection are retryable");
    TAP_OK(!rb_pg_sqlstate_retryable("42601") && !rb_pg_sqlstate_retryable("25006")
           && !rb_pg_sqlstate_retryable(NULL), "syntax and read-only errors are not");
}

static void command_word(void)
{
    char w[32];
    rb_pg_command_word("UPDATE 3", w, sizeof w);
    TAP_EQ_STR(w, "UPDATE", "UPDATE 3");
    rb_pg_command_word("INSERT 0 1", w, sizeof w);
    TAP_EQ_STR(w, "INSERT", "INSERT 0 1");
    rb_pg_command_word("ALTER SYSTEM", w, sizeof w);
    TAP_EQ_STR(w, "ALTER SYSTEM", "ALTER SYSTEM");
    rb_pg_command_word("", w, sizeof w);
    TAP_EQ_STR(w, "", "empty tag");
    rb_pg_command_word("CREATE MATERIALIZED VIEW", w, 8);
    TAP_EQ_STR(w, "CREATE ", "truncated to the buffer");
}

int main(void)
{
    statements();
    verbs();
    deny();
    resolved_spellings();
    calls_and_explain();
    simulable();
    values();
    errors();
    command_word();
    return TAP_DONE();
}
