/* fuzz_pg_sql.c — libFuzzer target for rb.pg's SQL guard lexer
 * (engine/core/pg_sql.c): scan arbitrary bytes, check the result is
 * consistent (NUL-terminated fields, sane counts), and ask the guard
 * questions rb.pg asks. Any crash, overread or UB fails `make fuzz`. */
#include "core/pg_sql.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rb_pg_sql_info info;
    rb_pg_sql_scan((const char *)data, size, &info);
    if (memchr(info.verb, 0, sizeof info.verb) == NULL || memchr(info.denied, 0, sizeof info.denied) == NULL)
        abort();
    if (info.statements < 0 || info.max_param < 0) abort();
    (void)rb_pg_sql_query_verb(info.verb);
    (void)rb_pg_sql_txn_verb(info.verb);
    (void)rb_pg_sql_simulable(&info);
    (void)rb_pg_sql_denied_name((const char *)data, size < 64 ? size : 64, size & 1);
    return 0;
}
