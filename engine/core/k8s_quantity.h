/* k8s_quantity.h — Kubernetes resource quantities ("250m", "1Gi", "1e3",
 * "251043213n") as plain numbers: cores for CPU, bytes for memory. Pure C. */
#ifndef RB_K8S_QUANTITY_H
#define RB_K8S_QUANTITY_H

/* Parses s (sign, decimal number, then an optional exponent or one of the
 * suffixes n u m k M G T P E Ki Mi Gi Ti Pi Ei) into *out. Returns 0, or -1
 * when s is not a quantity. */
int rb_k8s_quantity(const char *s, double *out);
#endif
