/* pg_conn.c — see pg_conn.h. Moved out of bind/pg.c so that the binding
 * cannot reach the socket except through a ticket. Uses libpq and poll(). */
#include "pg_conn.h"
#include <errno.h>
#include <poll.h>
#include <time.h>

#define SLICE_MS 100   /* how long a wait goes without looking at the ticket */

double rb_pg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits until the socket is ready for `events` or the deadline passes,
 * looking at the ticket every slice. */
static int wait_socket(const rb_ticket *t, PGconn *c, short events, double deadline)
{
    for (;;) {
        if (!rb_ticket_sendable(t)) return RB_PG_EINTR;
        double left = deadline - rb_pg_now();
        if (left <= 0) return RB_PG_ETIMEOUT;
        struct pollfd p = { PQsocket(c), events, 0 };
        if (p.fd < 0) return RB_PG_ECONN;
        int ms = left * 1000 > SLICE_MS ? SLICE_MS : (int)(left * 1000) + 1;
        int r = poll(&p, 1, ms);
        if (r > 0) return RB_PG_OK;
        if (r < 0 && errno != EINTR) return RB_PG_ECONN;
    }
}

/* Flushes what libpq has buffered and reads until a result can be taken
 * without blocking. */
static int await(const rb_ticket *t, PGconn *c, double deadline)
{
    for (;;) {
        if (PQstatus(c) == CONNECTION_BAD) return RB_PG_ECONN;
        int f = PQflush(c);
        if (f < 0) return RB_PG_ECONN;
        if (f == 0 && !PQisBusy(c)) return RB_PG_OK;
        int w = wait_socket(t, c, (short)(POLLIN | (f ? POLLOUT : 0)), deadline);
        if (w) return w;
        if (!PQconsumeInput(c)) return RB_PG_ECONN;
    }
}

int rb_pg_conn_next_result(const rb_ticket *t, PGconn *c, double deadline, PGresult **out)
{
    PGresult *first = NULL;
    *out = NULL;
    if (!rb_ticket_sendable(t)) return RB_PG_EINTR;
    for (;;) {
        int w = await(t, c, deadline);
        if (w == RB_PG_ECONN && !first) first = PQgetResult(c);   /* e.g. FATAL 57P01, then EOF */
        if (w) {
            if (first && w == RB_PG_ECONN) break;
            PQclear(first);
            return w;
        }
        PGresult *r = PQgetResult(c);
        if (!r) break;
        if (first) { PQclear(r); continue; }
        first = r;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) break;
    }
    *out = first;
    return RB_PG_OK;
}

int rb_pg_conn_send(const rb_ticket *t, PGconn *c, const char *sql, int nparams,
                    const char *const *values)
{
    if (!rb_ticket_sendable(t) || !c) return 0;
    return PQsendQueryParams(c, sql, nparams, NULL, values, NULL, NULL, 0);
}

int rb_pg_conn_sync(const rb_ticket *t, PGconn *c)
{
    return rb_ticket_sendable(t) && c && PQpipelineSync(c);
}

/* Drives PQconnectPoll with poll() until connected or the deadline: libpq's
 * own connect_timeout does not apply to nonblocking connects. */
static int connect_wait(const rb_ticket *t, PGconn *g, double deadline)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK) return RB_PG_OK;
        if (st == PGRES_POLLING_FAILED) return RB_PG_ECONN;
        int w = wait_socket(t, g, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w) return w;
        st = PQconnectPoll(g);
    }
}

PGconn *rb_pg_conn_start(const rb_ticket *t, const char *const *kw, const char *const *val,
                         int expand, double timeout_s, int *rc)
{
    *rc = RB_PG_EINTR;
    if (!rb_ticket_sendable(t)) return NULL;
    PGconn *g = PQconnectStartParams(kw, val, expand);
    *rc = RB_PG_ECONN;
    if (!g || PQstatus(g) == CONNECTION_BAD) return g;
    *rc = connect_wait(t, g, rb_pg_now() + timeout_s);
    if (*rc == RB_PG_OK && PQsetnonblocking(g, 1) != 0) *rc = RB_PG_ECONN;
    return g;
}

void rb_pg_conn_drop(PGconn *c)
{
    if (!c) return;
    if (PQstatus(c) != CONNECTION_BAD && PQtransactionStatus(c) == PQTRANS_ACTIVE) {
        PGcancel *cn = PQgetCancel(c);
        char buf[256];
        if (cn) { PQcancel(cn, buf, sizeof buf); PQfreeCancel(cn); }
    }
    PQfinish(c);
}
