/* fuzz_pprof.c — libFuzzer target for core/pprof.c and what runs on its
 * output (pprof_top.c aggregation, trim, sort, diff; pprof_flame.c SVG):
 * whatever the bytes, a parse error or a profile whose every index is safe. */
#include "core/pprof.h"
#include "core/pprof_flame.h"
#include "core/pprof_top.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    rb_pprof *p = rb_pprof_parse(data, size, err, sizeof err);
    if (!p)
        return 0;
    for (size_t t = 0; t < p->sample_types.n && t < 4; t++) {
        rb_pprof_table a;
        if (!rb_pprof_aggregate(p, (int)t, &a))
            continue;
        rb_pprof_trim(&a, 0.005);
        rb_pprof_sort(&a, (int)(t & 1));
        rb_pprof_delta *d;
        size_t n;
        if (rb_pprof_diff(&a, &a, &d, &n))
            free(d);
        rb_pprof_table_free(&a);
        FILE *out = fopen("/dev/null", "w");
        if (out) {
            rb_pprof_flamegraph(p, (int)t, "fuzz", out, err, sizeof err);
            fclose(out);
        }
    }
    rb_pprof_free(p);
    return 0;
}
