/* xfer.h — copies plain data from one lua_State to another.
 *
 * Runbook code runs in a world of its own (world.c); nothing but data crosses
 * between it and the engine: nil, booleans, numbers, strings and tables of
 * those. Tables are read raw (no metamethod of the source runs), shared or
 * cyclic tables are copied once per path and refused when cyclic, and a copy
 * is bounded in depth, number of values and bytes of string data (a string
 * referenced many times is counted each time: the copy holds it each time),
 * so a hostile value cannot exhaust the engine.
 * A function is refused unless the caller gives an on_function hook, which
 * pushes a stand-in (world.c pushes an opaque handle for step functions).
 *
 * Text from runbook code ends up on the operator's terminal (notes, logs,
 * titles, errors): with `clean`, control characters in strings (C0 but tab
 * and newline, DEL, and C1 encoded in UTF-8) are replaced by '?', so a
 * runbook cannot hide or redraw what the terminal shows (ESC [8m before the
 * plan, cursor movement, OSC 52 clipboard writes). Strings stored under the
 * top-level key `keep` (ctx:attach's data: a file, not text) stay raw. */
#ifndef RB_XFER_H
#define RB_XFER_H
#include <lua.h>

#define RB_XFER_MAX_DEPTH 64
#define RB_XFER_MAX_NODES 1000000   /* a 100k-sample chart is about 300k values */
#define RB_XFER_MAX_BYTES ((size_t)64 << 20)   /* default bound on string bytes per copy */

typedef struct {
    /* pushes onto `to` a stand-in for the function at index idx of `from`;
       returns 0 to refuse it */
    int (*on_function)(void *ud, lua_State *from, int idx, lua_State *to);
    void *ud;
    size_t max_bytes;   /* bound on string bytes copied; 0: RB_XFER_MAX_BYTES */
    int clean;          /* replace control characters in strings (text for a terminal) */
    const char *keep;   /* with clean: a top-level key whose string value stays raw */
    int nodes;          /* values copied so far */
    size_t bytes;       /* string bytes copied so far */
    char err[160];      /* why a copy failed */
} rb_xfer;

/* Pushes onto `to` a copy of the value at index idx of `from`; returns 1, or
 * 0 with x->err set (nothing pushed). Raises only on memory errors of `to`. */
int rb_xfer_copy(rb_xfer *x, lua_State *from, int idx, lua_State *to);

/* Pushes onto L the text s with its control characters replaced (see clean). */
void rb_xfer_push_clean(lua_State *L, const char *s, size_t len);
#endif
