/* k8s_quantity.c — Kubernetes resource quantities as numbers (see
 * k8s_quantity.h): used by rb.k8s top_pods/top_nodes and for the plan's
 * view of resources. strtod reads the number; the suffix table follows
 * apimachinery's resource.Quantity (decimal SI and binary IEC). */
#include "core/k8s_quantity.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *suffix; double mul; } suffixes[] = {
    {"", 1}, {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
    {"P", 1e15}, {"E", 1e18}, {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
    {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
};

int rb_k8s_quantity(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    /* strtod would also take "inf", "nan", hex and leading spaces: quantities are decimal */
    if (!(isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1])))) return -1;
    for (const char *q = p; *q; q++)
        if (*q == 'x' || *q == 'X') return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno) return -1;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (strcmp(end, suffixes[i].suffix) == 0) { *out = v * suffixes[i].mul; return 0; }
    return -1;
}
