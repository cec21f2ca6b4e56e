/* goroutine.h — Go goroutine dumps (/debug/pprof/goroutine?debug=1 and
 * ?debug=2, or a panic/SIGQUIT traceback) grouped in one streaming pass.
 *
 * Feed the text in chunks of any size; memory stays bounded by the number of
 * distinct groups (capped at RB_GOR_MAX_GROUPS) and one line (longer lines are
 * cut at RB_GOR_MAX_LINE), however many goroutines the dump holds. A group is
 * the goroutines sharing state (wait reason), top function (innermost frame
 * outside the runtime), entry function (outermost frame), "created by"
 * function and pprof labels. No Lua here: bytes in, structs out. */
#ifndef RB_GOROUTINE_H
#define RB_GOROUTINE_H
#include <stddef.h>
#include <stdint.h>

#define RB_GOR_MAX_GROUPS 10000
#define RB_GOR_MAX_LINE   (64 * 1024)
#define RB_GOR_MAX_STACK  32     /* frames kept as a group's example stack */

typedef struct {
    char *state;          /* "chan receive", "IO wait", "running"...; "" in debug=1 */
    char *top;            /* innermost frame outside package runtime */
    char *entry;          /* outermost frame: the function the goroutine runs */
    char *created_by;     /* "" when not printed (debug=1, main goroutine) */
    char *labels;         /* debug=1 "# labels: {...}" text, else "" */
    size_t count;
    size_t locked;        /* goroutines "locked to thread" */
    size_t elided;        /* goroutines whose stack was printed with frames elided */
    long max_wait;        /* longest "N minutes" wait, -1 if none printed */
    uint64_t first_id;    /* id of the first goroutine seen (debug=2), 0 if unknown */
    char *stack[RB_GOR_MAX_STACK];  /* that goroutine's frames, innermost first */
    size_t nstack;
} rb_gor_group;

typedef struct {
    int debug;            /* 1 (grouped records) or 2 (one block per goroutine) */
    size_t total;         /* goroutines counted */
    long header_total;    /* "goroutine profile: total N", -1 if absent */
    size_t ngroups;
    rb_gor_group *groups; /* in order of first appearance */
    size_t overflow;      /* goroutines lumped into the last group past the cap */
} rb_gor_dump;

typedef struct rb_gor_parser rb_gor_parser;

rb_gor_parser *rb_gor_new(void);
/* Feeds the next chunk. Returns 0 when out of memory (the parser is still freed by finish). */
int rb_gor_feed(rb_gor_parser *p, const char *buf, size_t len);
/* Ends the input, frees the parser. NULL with a reason in err if the text holds
 * no goroutine dump or memory ran out. */
rb_gor_dump *rb_gor_finish(rb_gor_parser *p, char *err, size_t errlen);
void rb_gor_dump_free(rb_gor_dump *d);
#endif
