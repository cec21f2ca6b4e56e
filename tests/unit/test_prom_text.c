/* test_prom_text.c — PromQL quoting, percent encoding and sparklines
 * (engine/core/prom_text.c). */
#include "core/prom_text.h"
#include "tap.h"
#include <math.h>

static const char *quote(const char *s)
{
    static char buf[256];
    rb_prom_quote(s, strlen(s), buf);
    return buf;
}

static const char *quote_re(const char *s)
{
    static char buf[512];
    rb_prom_quote_regex(s, strlen(s), buf);
    return buf;
}

static const char *spark(const double *v, size_t n, size_t width)
{
    static char buf[RB_SPARK_BYTES(64)];
    rb_prom_sparkline(v, n, width, buf);
    return buf;
}

static void test_quote(void)
{
    TAP_EQ_STR(quote("api-0"), "\"api-0\"", "plain value is only wrapped");
    TAP_EQ_STR(quote(""), "\"\"", "empty value");
    TAP_EQ_STR(quote("x\"} or vector(1) or up{a=\""), "\"x\\\"} or vector(1) or up{a=\\\"\"",
               "a quote cannot close the literal");
    TAP_EQ_STR(quote("a\\\"b"), "\"a\\\\\\\"b\"", "backslash before quote: both escaped");
    TAP_EQ_STR(quote("l1\nl2\t\x01"), "\"l1\\nl2\\t\\x01\"", "control bytes escaped");
    TAP_EQ_STR(quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"", "UTF-8 passes through");
    char worst[64], out[4 * 64 + 3];
    memset(worst, 1, sizeof worst);
    TAP_EQ_INT(rb_prom_quote(worst, sizeof worst, out), 4 * 64 + 2, "worst case fits 4n+3");
}

static void test_quote_regex(void)
{
    TAP_EQ_STR(quote_re("/api/users"), "\"/api/users\"", "no metacharacters");
    TAP_EQ_STR(quote_re("a.b*"), "\"a\\\\.b\\\\*\"", "metacharacters get an escaped backslash");
    TAP_EQ_STR(quote_re("x\"|y"), "\"x\\\"\\\\|y\"", "quote and alternation");
}

static void test_urlencode(void)
{
    char out[128];
    const char *q = "rate(x{a=\"b c\"}[5m]) / 2 & y";
    rb_prom_urlencode(q, strlen(q), out);
    TAP_EQ_STR(out, "rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D%29%20%2F%202%20%26%20y",
               "query string encoding");
    rb_prom_urlencode("A-z_0.9~", 8, out);
    TAP_EQ_STR(out, "A-z_0.9~", "unreserved bytes pass");
}

static void test_sparkline(void)
{
    double ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    TAP_EQ_STR(spark(ramp, 8, 80), "▁▂▃▄▅▆▇█", "ramp uses every level");
    TAP_EQ_STR(spark(ramp, 8, 4), "▁▃▆█", "8 values into 4 columns (means)");
    double gap[5] = {1, NAN, 3, NAN, 2};
    TAP_EQ_STR(spark(gap, 5, 80), "▁ █ ▅", "NaN is a gap");
    double flat[3] = {5, 5, 5};
    TAP_EQ_STR(spark(flat, 3, 80), "▁▁▁", "flat series");
    double inf[4] = {1, INFINITY, 2, -INFINITY};
    TAP_EQ_STR(spark(inf, 4, 80), "▁██▁", "infinities at the ends of the scale");
    double allnan[2] = {NAN, NAN};
    TAP_EQ_STR(spark(allnan, 2, 80), "  ", "all gaps");
    TAP_EQ_INT(rb_prom_sparkline(ramp, 0, 80, (char[4]){0}), 0, "no values, empty line");
}

int main(void)
{
    test_quote();
    test_quote_regex();
    test_urlencode();
    test_sparkline();
    return TAP_DONE();
}
