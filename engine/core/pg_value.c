/* pg_value.c — rb.pg's value and error conversion rules (see pg_value.h).
 * Type OIDs are PostgreSQL's fixed catalog OIDs (pg_type.dat); nothing here
 * asks the server. Uses strtoll/strtod and nothing else. */
#include "pg_value.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct { unsigned int oid; const char *name; rb_pg_class cls; } types[] = {
    {16, "bool", RB_PG_BOOL},       {17, "bytea", RB_PG_TEXT},      {18, "char", RB_PG_TEXT},
    {19, "name", RB_PG_TEXT},       {20, "int8", RB_PG_INT},        {21, "int2", RB_PG_INT},
    {23, "int4", RB_PG_INT},        {24, "regproc", RB_PG_TEXT},    {25, "text", RB_PG_TEXT},
    {26, "oid", RB_PG_INT},         {28, "xid", RB_PG_TEXT},        {114, "json", RB_PG_TEXT},
    {142, "xml", RB_PG_TEXT},       {194, "pg_node_tree", RB_PG_TEXT},
    {700, "float4", RB_PG_FLOAT},   {701, "float8", RB_PG_FLOAT},   {869, "inet", RB_PG_TEXT},
    {1005, "int2[]", RB_PG_TEXT},   {1007, "int4[]", RB_PG_TEXT},   {1009, "text[]", RB_PG_TEXT},
    {1016, "int8[]", RB_PG_TEXT},   {1042, "bpchar", RB_PG_TEXT},   {1043, "varchar", RB_PG_TEXT},
    {1082, "date", RB_PG_TEXT},     {1083, "time", RB_PG_TEXT},     {1114, "timestamp", RB_PG_TEXT},
    {1184, "timestamptz", RB_PG_TEXT}, {1186, "interval", RB_PG_TEXT}, {1266, "timetz", RB_PG_TEXT},
    {1700, "numeric", RB_PG_FLOAT}, {2205, "regclass", RB_PG_TEXT}, {2249, "record", RB_PG_TEXT},
    {2278, "void", RB_PG_TEXT},     {2950, "uuid", RB_PG_TEXT},     {3802, "jsonb", RB_PG_TEXT},
    {5069, "xid8", RB_PG_TEXT},     {0, NULL, RB_PG_TEXT},
};

static int type_index(unsigned int oid)
{
    for (int i = 0; types[i].name; i++)
        if (types[i].oid == oid) return i;
    return -1;
}

rb_pg_class rb_pg_type_class(unsigned int oid)
{
    int i = type_index(oid);
    return i < 0 ? RB_PG_TEXT : types[i].cls;
}

const char *rb_pg_type_name(unsigned int oid)
{
    int i = type_index(oid);
    return i < 0 ? NULL : types[i].name;
}

int rb_pg_parse_int(const char *s, long long *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int rb_pg_parse_float(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    /* The server spells these out; strtod knows "Infinity" and "NaN" too, but
     * being explicit keeps the result independent of the C library. */
    if (strcmp(s, "NaN") == 0) { *out = NAN; return 0; }
    if (strcmp(s, "Infinity") == 0) { *out = INFINITY; return 0; }
    if (strcmp(s, "-Infinity") == 0) { *out = -INFINITY; return 0; }
    errno = 0;
    double v = strtod(s, &end);
    if (*end) return -1;
    *out = v;   /* ERANGE keeps ±HUGE_VAL or 0: the nearest double, documented */
    return 0;
}

static int class_is(const char *st, const char *cls)
{
    return st && strncmp(st, cls, 2) == 0;
}

const char *rb_pg_sqlstate_kind(const char *st)
{
    if (!st || !*st || class_is(st, "08")) return "conn";
    if (strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0)
        return "conn";
    if (strcmp(st, "57014") == 0) return "timeout";
    return "sql";
}

int rb_pg_sqlstate_retryable(const char *st)
{
    static const char *const codes[] = {
        "40001", "40P01", "55P03", "57014", "53300", "57P01", "57P03", NULL,
    };
    if (!st || !*st) return 0;
    if (class_is(st, "08")) return 1;
    for (int i = 0; codes[i]; i++)
        if (strcmp(st, codes[i]) == 0) return 1;
    return 0;
}

static int is_count(const char *w, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] < '0' || w[i] > '9') return 0;
    return 1;
}

void rb_pg_command_word(const char *tag, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz == 0) return;
    out[0] = '\0';
    if (!tag) return;
    while (*tag) {
        while (*tag == ' ') tag++;
        size_t n = strcspn(tag, " ");
        if (n == 0 || is_count(tag, n)) break;
        if (o && o + 1 < outsz) out[o++] = ' ';
        for (size_t i = 0; i < n && o + 1 < outsz; i++) out[o++] = tag[i];
        out[o] = '\0';
        tag += n;
    }
}
