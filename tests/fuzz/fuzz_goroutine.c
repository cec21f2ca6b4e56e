/* fuzz_goroutine.c — libFuzzer target for core/goroutine.c: the input is fed
 * in chunks whose size comes from the first byte, so line splits across
 * chunks are exercised along with the text itself. */
#include "core/goroutine.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
    rb_gor_parser *p = rb_gor_new();
    if (!p)
        return 0;
    for (size_t i = 0; i < size; i += chunk)
        rb_gor_feed(p, (const char *)data + i, size - i < chunk ? size - i : chunk);
    char err[256];
    rb_gor_dump_free(rb_gor_finish(p, err, sizeof err));
    return 0;
}
