/* pg_value.h — rb.pg's conversion rules, as pure C (no Lua, no libpq).
 *
 * How a PostgreSQL text-format value becomes a Lua value (by type OID), the
 * names shown in res.columns, how a SQLSTATE maps to an error kind and whether
 * retrying makes sense, and the command word of a command tag ("UPDATE 3"). */
#ifndef RB_PG_VALUE_H
#define RB_PG_VALUE_H
#include <stddef.h>

typedef enum {
    RB_PG_TEXT = 0,   /* everything else, timestamps and json included: a string */
    RB_PG_INT,        /* int2 int4 int8 oid: an integer */
    RB_PG_FLOAT,      /* float4 float8 numeric: a float (numeric loses precision) */
    RB_PG_BOOL,       /* bool: true / false */
} rb_pg_class;

rb_pg_class rb_pg_type_class(unsigned int oid);

/* The type's name for built-in types ("int4", "timestamptz"); NULL if unknown. */
const char *rb_pg_type_name(unsigned int oid);

/* Parse server text for RB_PG_INT / RB_PG_FLOAT (NaN, Infinity, -Infinity too).
 * Return 0 on success, -1 if the text is not a number of that kind (an int8
 * never overflows a 64-bit integer, but a caller may still get -1 on junk). */
int rb_pg_parse_int(const char *s, long long *out);
int rb_pg_parse_float(const char *s, double *out);

/* "sql", "conn" or "timeout" for a SQLSTATE (NULL or "" means a client-side
 * failure: "conn"). Class 08 and 57P01-57P03 (the server ended the session) are
 * "conn"; 57014 (statement canceled: statement_timeout or a cancel request) is
 * "timeout"; the rest "sql". */
const char *rb_pg_sqlstate_kind(const char *sqlstate);

/* Non-zero when the same call may succeed if tried again: serialization failure
 * 40001, deadlock 40P01, lock_not_available 55P03, query_canceled 57014,
 * too_many_connections 53300, cannot_connect_now 57P03, admin_shutdown 57P01,
 * class 08 (connection exceptions). */
int rb_pg_sqlstate_retryable(const char *sqlstate);

/* The command word(s) of a command tag, without counts:
 * "UPDATE 3" -> "UPDATE", "INSERT 0 1" -> "INSERT", "ALTER SYSTEM" -> "ALTER SYSTEM". */
void rb_pg_command_word(const char *tag, char *out, size_t outsz);
#endif
