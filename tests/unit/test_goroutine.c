/* test_goroutine.c — core/goroutine.c on dumps in the forms Go prints:
 * debug=2 from Go 1.19 and from newer Go (gp=/m= in the header, "created by
 * ... in goroutine N", durable waits, "...N frames elided..."), debug=1 with
 * labels and tab-padded columns, fed whole and one byte at a time; and text
 * that is not a dump. Counts against a live Go program: tests/e2e/pprof.sh. */
#include "core/goroutine.h"
#include "tap.h"
#include <stdlib.h>

static const char *DUMP2 =
    "goroutine 1 [running]:\n"
    "main.main()\n"
    "\t/app/main.go:10 +0x1d\n"
    "\n"
    "goroutine 7 [chan receive, 12 minutes]:\n"
    "runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n"
    "\t/usr/lib/go/src/runtime/proc.go:363 +0xd6\n"
    "runtime.chanrecv1(0x0?, 0x0?)\n"
    "\t/usr/lib/go/src/runtime/chan.go:442 +0x18\n"
    "main.worker(0xc000012345, {0x4c3f1a, 0x5})\n"
    "\t/app/main.go:20 +0x25\n"
    "created by main.start\n"
    "\t/app/main.go:30 +0x5f\n"
    "\n"
    "goroutine 8 gp=0xc000007c00 m=nil [chan receive, 3 minutes]:\n"
    "main.worker(...)\n"
    "\t/app/main.go:20\n"
    "created by main.start in goroutine 1\n"
    "\t/app/main.go:30 +0x5f\n"
    "\n"
    "goroutine 9 [sync.Mutex.Lock, 5 minutes, locked to thread]:\n"
    "sync.runtime_SemacquireMutex(0x0?, 0x0?, 0x0?)\n"
    "\t/usr/lib/go/src/runtime/sema.go:77 +0x25\n"
    "sync.(*Mutex).lockSlow(0x92fec8)\n"
    "\t/usr/lib/go/src/sync/mutex.go:171 +0x165\n"
    "main.(*Store).Get[...](0xc0000a0000)\n"
    "\t/app/store.go:5 +0x1\n"
    "...additional frames elided...\n"
    "created by net/http.(*Server).Serve in goroutine 1\n"
    "\t/usr/lib/go/src/net/http/server.go:3102 +0x4db\n"
    "\n"
    "goroutine 10 [select (no cases)]:\n"
    "main.deep()\n"
    "\t/app/main.go:40 +0x1\n"
    "...7 frames elided...\n"
    "main.root()\n"
    "\t/app/main.go:50 +0x1\n"
    "runtime.goexit()\n"
    "\t/usr/lib/go/src/runtime/asm_amd64.s:1594 +0x1\n"
    "created by main.start in goroutine 1\n"
    "\t/app/main.go:31 +0x5f\n"
    "\n"
    "goroutine 12 [chan receive, 3 minutes]:\n"
    "main.worker(...)\n"
    "\t/app/main.go:20\n"
    "created by main.start in goroutine 1\n"
    "\t/app/main.go:30 +0x5f\n"
    "[originating from goroutine 1]:\n"
    "main.start(...)\n"
    "\t/app/main.go:30 +0x5f\n"
    "\n"
    "goroutine 11 [running]:\n"
    "\tgoroutine running on other thread; stack unavailable\n"
    "created by main.start in goroutine 1\n"
    "\t/app/main.go:32 +0x5f\n";

static const char *DUMP1 =
    "goroutine profile: total 9\n"
    "5 @ 0x43b2f6 0x407e5b 0x407998 0x674985 0x46b2a1\n"
    "#\t0x674984\tmain.parkChan+0x24\t/app/main.go:89\n"
    "\n"
    "3 @ 0x43b2f6 0x44c1fe 0x44c1d5 0x467465 0x47ce45 0x6749d9 0x46b2a1\n"
    "# labels: {\"handler\":\"/api\"}\n"
    "#\t0x467464\tsync.runtime_SemacquireMutex+0x24\t/usr/lib/go/src/runtime/sema.go:77\n"
    "#\t0x47ce44\tsync.(*Mutex).lockSlow+0x164\t\t/usr/lib/go/src/sync/mutex.go:171\n"
    "#\t0x6749b4\tmain.parkMutex+0x14\t\t\t/app/main.go:92\n"
    "\n"
    "1 @ 0x46b2a1\n"
    "\n";

static rb_gor_dump *parse(const char *text, size_t chunk)
{
    rb_gor_parser *p = rb_gor_new();
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += chunk)
        rb_gor_feed(p, text + i, n - i < chunk ? n - i : chunk);
    char err[200];
    return rb_gor_finish(p, err, sizeof err);
}

static const rb_gor_group *group(const rb_gor_dump *d, const char *top)
{
    for (size_t i = 0; d && i < d->ngroups; i++)
        if (!strcmp(d->groups[i].top, top)) return &d->groups[i];
    return NULL;
}

static void test_debug2(size_t chunk)
{
    rb_gor_dump *d = parse(DUMP2, chunk);
    TAP_OK(d != NULL, "debug=2 parses (chunks of %zu)", chunk);
    if (!d) return;
    TAP_EQ_INT(d->debug, 2, "format detected");
    TAP_EQ_INT(d->total, 7, "seven goroutines");
    TAP_EQ_INT(d->ngroups, 5, "old and new header forms of main.worker share a group");
    const rb_gor_group *w = group(d, "main.worker");
    TAP_OK(w != NULL, "group with top main.worker (runtime frames skipped)");
    if (w) {
        TAP_EQ_INT(w->count, 3, "three workers (ancestor frames of GODEBUG=tracebackancestors ignored)");
        TAP_EQ_STR(w->state, "chan receive", "state is the wait reason");
        TAP_EQ_INT(w->max_wait, 12, "longest wait in minutes");
        TAP_EQ_STR(w->created_by, "main.start", "created by, without \" in goroutine N\"");
        TAP_EQ_INT(w->first_id, 7, "id of the first goroutine of the group");
        TAP_EQ_STR(w->stack[0], "runtime.gopark", "example stack keeps the runtime frames");
    }
    const rb_gor_group *m = group(d, "sync.(*Mutex).lockSlow");
    TAP_OK(m != NULL, "mutex waiter: top skips sync.runtime_SemacquireMutex");
    if (m) {
        TAP_EQ_STR(m->state, "sync.Mutex.Lock", "newer Go wait reason");
        TAP_EQ_INT(m->locked, 1, "locked to thread");
        TAP_EQ_INT(m->elided, 1, "elided frames noticed");
        TAP_EQ_STR(m->entry, "main.(*Store).Get[...]", "generic method name kept, args stripped");
        TAP_EQ_STR(m->created_by, "net/http.(*Server).Serve", "created by a method");
    }
    const rb_gor_group *deep = group(d, "main.deep");
    TAP_OK(deep && !strcmp(deep->entry, "main.root") && deep->elided == 1,
           "\"...N frames elided...\" in the middle; runtime.goexit is not the entry");
    TAP_OK(deep && !strcmp(deep->state, "select (no cases)"), "state with parentheses");
    const rb_gor_group *u = group(d, "(no frames)");
    TAP_OK(u && !strcmp(u->state, "running") && u->max_wait == -1, "stack unavailable: a group of its own");
    const rb_gor_group *mm = group(d, "main.main");
    TAP_OK(mm && mm->created_by[0] == '\0', "main goroutine has no creator");
    rb_gor_dump_free(d);
}

static void test_debug1(size_t chunk)
{
    rb_gor_dump *d = parse(DUMP1, chunk);
    TAP_OK(d != NULL, "debug=1 parses (chunks of %zu)", chunk);
    if (!d) return;
    TAP_EQ_INT(d->debug, 1, "format detected");
    TAP_EQ_INT(d->header_total, 9, "header total");
    TAP_EQ_INT(d->total, 9, "sum of record counts");
    const rb_gor_group *m = group(d, "sync.(*Mutex).lockSlow");
    TAP_OK(m && m->count == 3 && !strcmp(m->entry, "main.parkMutex"), "record with tab-padded columns");
    TAP_OK(m && !strcmp(m->labels, "{\"handler\":\"/api\"}"), "labels kept");
    TAP_OK(m && m->state[0] == '\0', "no state in debug=1");
    TAP_OK(group(d, "(no frames)") != NULL, "a record with no printable frame");
    rb_gor_dump_free(d);
}

static void test_errors(void)
{
    char err[200];
    rb_gor_parser *p = rb_gor_new();
    TAP_OK(rb_gor_finish(p, err, sizeof err) == NULL && strstr(err, "not a goroutine dump"),
           "empty input: %s", err);
    p = rb_gor_new();
    rb_gor_feed(p, "<html>404 page not found</html>\n", 32);
    TAP_OK(rb_gor_finish(p, err, sizeof err) == NULL, "an HTML page is not a dump");
    p = rb_gor_new();
    rb_gor_feed(p, "\x1f\x8b\x08\x00garbage", 12);
    TAP_OK(rb_gor_finish(p, err, sizeof err) == NULL, "debug=0 (gzip protobuf) is refused");

    /* a frame line far longer than the line buffer */
    size_t big = RB_GOR_MAX_LINE * 3;
    char *line = malloc(big + 64);
    strcpy(line, "goroutine 5 [sleep]:\nmain.");
    size_t k = strlen(line);
    memset(line + k, 'x', big);
    strcpy(line + k + big, "()\n\t/a.go:1\n");
    rb_gor_dump *d = parse(line, 4096);
    TAP_OK(d && d->total == 1 && strlen(d->groups[0].top) <= 1024, "overlong line is cut, not fatal");
    rb_gor_dump_free(d);
    free(line);

    /* more distinct groups than the cap: the rest is counted, not kept */
    p = rb_gor_new();
    char g[128];
    for (int i = 0; i < RB_GOR_MAX_GROUPS + 50; i++) {
        int n = snprintf(g, sizeof g, "goroutine %d [sleep]:\nmain.f%d()\n\n", i + 1, i);
        rb_gor_feed(p, g, (size_t)n);
    }
    d = rb_gor_finish(p, err, sizeof err);
    TAP_OK(d && d->total == RB_GOR_MAX_GROUPS + 50 && d->ngroups == RB_GOR_MAX_GROUPS + 1 &&
           d->groups[RB_GOR_MAX_GROUPS].count == 50, "groups past the cap lumped into one");
    rb_gor_dump_free(d);
}

int main(void)
{
    test_debug2(1 << 20);
    test_debug2(1);
    test_debug2(7);
    test_debug1(1 << 20);
    test_debug1(3);
    test_errors();
    return TAP_DONE();
}
