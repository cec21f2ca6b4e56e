/* prom_text.h — text helpers for rb.prom, pure C (no Lua, no I/O):
 * PromQL string literals that a parameter cannot break out of, percent
 * encoding for the HTTP API's query strings and form bodies, and one-line
 * Unicode sparklines of a range result. */
#ifndef RB_PROM_TEXT_H
#define RB_PROM_TEXT_H
#include <stddef.h>

/* Writes s as a double-quoted PromQL string literal into out, which must hold
 * 4 * n + 3 bytes; returns the length written (NUL-terminated). Quotes,
 * backslashes and control bytes are escaped; other bytes pass through. */
size_t rb_prom_quote(const char *s, size_t n, char *out);

/* As rb_prom_quote, after escaping RE2 metacharacters, so the value matches
 * itself literally under =~ / !~. out must hold 8 * n + 3 bytes. */
size_t rb_prom_quote_regex(const char *s, size_t n, char *out);

/* Percent-encodes s (RFC 3986 unreserved bytes pass) into out, which must
 * hold 3 * n + 1 bytes; returns the length written. Valid in a query string
 * and in an application/x-www-form-urlencoded body. */
size_t rb_prom_urlencode(const char *s, size_t n, char *out);

/* Bytes rb_prom_sparkline needs at most for width columns. */
#define RB_SPARK_BYTES(width) ((width) * 3 + 1)

/* Renders n values as at most width columns of ▁▂▃▄▅▆▇█ into out
 * (RB_SPARK_BYTES(width) bytes, NUL-terminated); returns the byte length.
 * When n > width, each column is the mean of the finite values that fall in
 * it. NaN (a gap) renders as a space; +Inf as █ and -Inf as ▁. The scale
 * runs from the smallest to the largest finite value; a flat series is ▁. */
size_t rb_prom_sparkline(const double *v, size_t n, size_t width, char *out);
#endif
