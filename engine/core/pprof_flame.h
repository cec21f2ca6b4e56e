/* pprof_flame.h — a self-contained SVG flame graph of one sample type of a
 * decoded profile (no script, no external resource: tooltips are <title>s).
 * Uses pprof_top.h for frame names; no Lua. */
#ifndef RB_PPROF_FLAME_H
#define RB_PPROF_FLAME_H
#include "core/pprof.h"

/* Writes the SVG to out. Returns 0 and a reason in err on failure. */
int rb_pprof_flamegraph(const rb_pprof *p, int type, const char *title, FILE *out,
                        char *err, size_t errlen);
#endif
