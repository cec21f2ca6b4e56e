/* tap.h — a few macros that make a C unit test print TAP ("ok N - name" /
 * "not ok N - name"), which tests/run counts for the final summary line.
 * Header-only so every tests/unit/test_*.c stays a standalone program. */
#ifndef RB_TAP_H
#define RB_TAP_H
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...) do {                                              \
        int tap_c_ = !!(cond);                                              \
        tap_n++;                                                            \
        if (!tap_c_) tap_failed++;                                          \
        printf("%sok %d - ", tap_c_ ? "" : "not ", tap_n);                  \
        printf(__VA_ARGS__);                                                \
        printf("\n");                                                       \
        if (!tap_c_) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    } while (0)

#define TAP_EQ_INT(got, want, name) do {                                    \
        long long g_ = (long long)(got), w_ = (long long)(want);            \
        TAP_OK(g_ == w_, "%s", name);                                       \
        if (g_ != w_) printf("#   got %lld, want %lld\n", g_, w_);          \
    } while (0)

#define TAP_EQ_STR(got, want, name) do {                                    \
        const char *g_ = (got), *w_ = (want);                               \
        int e_ = g_ && w_ && strcmp(g_, w_) == 0;                           \
        TAP_OK(e_, "%s", name);                                             \
        if (!e_) printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

#define TAP_DONE() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)
#endif
