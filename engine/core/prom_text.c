/* prom_text.c — PromQL quoting, percent encoding and sparklines for rb.prom
 * (see prom_text.h). Pure functions over caller-sized buffers; uses libm. */
#include "prom_text.h"
#include <math.h>
#include <string.h>

static const char hex[] = "0123456789abcdef";

/* Escapes one byte the way Go's strconv.Unquote (PromQL's lexer) reads it. */
static char *escape_byte(unsigned char c, char *o)
{
    switch (c) {
    case '"': *o++ = '\\'; *o++ = '"'; return o;
    case '\\': *o++ = '\\'; *o++ = '\\'; return o;
    case '\n': *o++ = '\\'; *o++ = 'n'; return o;
    case '\r': *o++ = '\\'; *o++ = 'r'; return o;
    case '\t': *o++ = '\\'; *o++ = 't'; return o;
    }
    if (c < 0x20 || c == 0x7f) {
        *o++ = '\\'; *o++ = 'x'; *o++ = hex[c >> 4]; *o++ = hex[c & 15];
        return o;
    }
    *o++ = (char)c;
    return o;
}

/* The literal, with a backslash (itself escaped) before each byte of meta. */
static size_t quote(const char *s, size_t n, char *out, const char *meta)
{
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (meta && c && strchr(meta, c)) { *o++ = '\\'; *o++ = '\\'; }
        o = escape_byte(c, o);
    }
    *o++ = '"';
    *o = 0;
    return (size_t)(o - out);
}

size_t rb_prom_quote(const char *s, size_t n, char *out)
{
    return quote(s, n, out, NULL);
}

size_t rb_prom_quote_regex(const char *s, size_t n, char *out)
{
    return quote(s, n, out, "\\.+*?()|[]{}^$");   /* RE2's QuoteMeta set */
}

size_t rb_prom_urlencode(const char *s, size_t n, char *out)
{
    static const char HEX[] = "0123456789ABCDEF";
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%'; *o++ = HEX[c >> 4]; *o++ = HEX[c & 15];
        }
    }
    *o = 0;
    return (size_t)(o - out);
}

/* Mean of the non-NaN values in v[from, to); NaN when there are none. */
static double column_mean(const double *v, size_t from, size_t to)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = from; i < to; i++)
        if (!isnan(v[i])) { sum += v[i]; k++; }
    return k ? sum / (double)k : NAN;
}

size_t rb_prom_sparkline(const double *v, size_t n, size_t width, char *out)
{
    static const char *const bars[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    size_t cols = n < width ? n : width;
    double lo = INFINITY, hi = -INFINITY;
    /* two passes over the columns (scale, then render) instead of a buffer */
    for (size_t c = 0; c < cols; c++) {
        double x = column_mean(v, c * n / cols, (c + 1) * n / cols);
        if (isfinite(x)) { lo = fmin(lo, x); hi = fmax(hi, x); }
    }
    char *o = out;
    for (size_t c = 0; c < cols; c++) {
        double x = column_mean(v, c * n / cols, (c + 1) * n / cols);
        if (isnan(x)) { *o++ = ' '; continue; }
        int level = x == INFINITY ? 7 : x == -INFINITY || hi <= lo ? 0
                  : (int)((x - lo) / (hi - lo) * 7 + 0.5);
        memcpy(o, bars[level], 3);
        o += 3;
    }
    *o = 0;
    return (size_t)(o - out);
}
