/* test_k8s.c — the pure parts under rb.k8s: resource quantities
 * (core/k8s_quantity.h) and the WebSocket frame codec (net/k8s_ws.h). */
#include "core/k8s_quantity.h"
#include "net/k8s_ws.h"
#include "tap.h"
#include <math.h>
#include <stdlib.h>

static void quantity(const char *s, double want)
{
    double v = -12345;
    int rc = rb_k8s_quantity(s, &v);
    TAP_OK(rc == 0 && fabs(v - want) <= fabs(want) * 1e-12, "quantity %s = %g (got %g)", s, want, v);
}

static void not_quantity(const char *s)
{
    double v;
    TAP_EQ_INT(rb_k8s_quantity(s, &v), -1, s);
}

static void quantities(void)
{
    quantity("250m", 0.25);
    quantity("1", 1);
    quantity("2.5", 2.5);
    quantity("251043213n", 0.251043213);
    quantity("318012Ki", 318012.0 * 1024);
    quantity("512Mi", 512.0 * 1048576);
    quantity("1Gi", 1073741824.0);
    quantity("4Ti", 4.0 * 1099511627776.0);
    quantity("1k", 1000);
    quantity("1M", 1e6);
    quantity("1G", 1e9);
    quantity("1E", 1e18);            /* exa, not an exponent */
    quantity("1e3", 1000);
    quantity("1.5e-3", 0.0015);
    quantity("-1", -1);
    quantity("+2", 2);
    quantity(".5", 0.5);
    quantity("100u", 1e-4);
    not_quantity("");
    not_quantity("lots");
    not_quantity("1Gb");
    not_quantity("1 Gi");
    not_quantity(" 1");
    not_quantity("inf");
    not_quantity("nan");
    not_quantity("0x10");
    not_quantity("m");
    not_quantity("1mi");
}

/* A server frame (unmasked) of n payload bytes with opcode op. */
static size_t server_frame(unsigned char *out, int op, int fin, const unsigned char *p, size_t n)
{
    size_t h = 0;
    out[h++] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (n < 126) out[h++] = (unsigned char)n;
    else if (n < 65536) { out[h++] = 126; out[h++] = (unsigned char)(n >> 8); out[h++] = (unsigned char)n; }
    else { out[h++] = 127; for (int i = 7; i >= 0; i--) out[h++] = (unsigned char)((unsigned long long)n >> (8 * i)); }
    memcpy(out + h, p, n);
    return h + n;
}

static void frames(void)
{
    static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    unsigned char buf[70000 + 14], payload[70000];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(i * 7);
    size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        size_t fl = rb_ws_encode(buf, 2, payload, n, mask);
        size_t want_h = n < 126 ? 6 : n < 65536 ? 8 : 14;
        TAP_EQ_INT(fl, want_h + n, "encoded length for a payload of this size");
        TAP_OK(buf[0] == 0x82 && (buf[1] & 0x80), "FIN, binary opcode, mask bit (n=%zu)", n);
        int op, fin;
        unsigned char *pl;
        size_t plen;
        TAP_EQ_INT(rb_ws_decode(buf, fl - 1 + (n == 0), &op, &fin, &pl, &plen), n == 0 ? (long)fl : 0,
                   "a frame one byte short needs more bytes");
        long got = rb_ws_decode(buf, fl, &op, &fin, &pl, &plen);
        TAP_OK(got == (long)fl && op == 2 && fin && plen == n && memcmp(pl, payload, n) == 0,
               "masked frame of %zu bytes round-trips", n);
    }
    unsigned char msg[] = {1, 'h', 'i'};
    size_t fl = server_frame(buf, 2, 1, msg, sizeof msg);
    int op, fin;
    unsigned char *pl;
    size_t plen;
    TAP_OK(rb_ws_decode(buf, fl, &op, &fin, &pl, &plen) == (long)fl && plen == 3 && pl[0] == 1 && pl[1] == 'h',
           "unmasked server frame: channel byte then data");
    TAP_EQ_INT(rb_ws_decode(buf, 1, &op, &fin, &pl, &plen), 0, "one byte: need more");
    fl = server_frame(buf, 0, 0, msg, 3);
    TAP_OK(rb_ws_decode(buf, fl, &op, &fin, &pl, &plen) == (long)fl && op == 0 && !fin, "continuation frame, not final");
    fl = server_frame(buf, 8, 1, (const unsigned char *)"\x03\xe8", 2);
    TAP_OK(rb_ws_decode(buf, fl, &op, &fin, &pl, &plen) == (long)fl && op == 8, "close frame");
    fl = server_frame(buf, 9, 0, msg, 3);
    TAP_EQ_INT(rb_ws_decode(buf, fl, &op, &fin, &pl, &plen), -1, "fragmented control frame is invalid");
    fl = server_frame(buf, 9, 1, payload, 126);
    TAP_EQ_INT(rb_ws_decode(buf, fl, &op, &fin, &pl, &plen), -1, "control frame over 125 bytes is invalid");
    buf[0] = 0xC2; buf[1] = 0;
    TAP_EQ_INT(rb_ws_decode(buf, 2, &op, &fin, &pl, &plen), -1, "RSV bits without an extension are invalid");
    unsigned char huge[10] = {0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0};
    TAP_EQ_INT(rb_ws_decode(huge, sizeof huge, &op, &fin, &pl, &plen), -1, "absurd length is refused");
}

int main(void)
{
    quantities();
    frames();
    return TAP_DONE();
}
