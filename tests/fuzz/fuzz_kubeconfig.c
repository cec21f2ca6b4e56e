/* fuzz_kubeconfig.c — libFuzzer target for the kubeconfig parser
 * (engine/core/kubeconfig.c): parse the input, resolve every context and
 * the current one, merge a second parse of the same bytes into the first,
 * and free everything. Any crash, leak or UB fails `make fuzz`. */
#include "core/kubeconfig.h"
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rb_kubeconfig a, b;
    rb_kube_resolved r;
    char err[256];
    if (rb_kubeconfig_parse((const char *)data, size, "/fuzz", "fuzz", &a, err, sizeof err) < 0) return 0;
    for (size_t i = 0; i < a.ncontexts; i++)
        (void)rb_kubeconfig_resolve(&a, a.contexts[i].name, &r, err, sizeof err);
    (void)rb_kubeconfig_resolve(&a, NULL, &r, err, sizeof err);
    if (rb_kubeconfig_parse((const char *)data, size, NULL, "fuzz2", &b, err, sizeof err) == 0) {
        (void)rb_kubeconfig_merge(&a, &b);
        rb_kubeconfig_free(&b);
    }
    rb_kubeconfig_free(&a);
    return 0;
}
