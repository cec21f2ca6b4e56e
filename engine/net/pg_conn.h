/* pg_conn.h — the PostgreSQL transport under rb.pg: libpq in nonblocking
 * mode, waits done here with poll(), no Lua.
 *
 * Every function that can put bytes on the wire takes the gate's ticket and
 * does nothing unless rb_ticket_sendable() holds (gate.h): no ticket, no
 * I/O. Waits are cut into 100 ms slices; when the ticket stops being
 * sendable (SIGINT or SIGTERM: the gate's interrupt, except for an applied
 * write already on the wire) the wait ends at once with RB_PG_EINTR and the
 * caller drops the connection, which cancels a running statement (PQcancel)
 * so the server stops working for a client that left. */
#ifndef RB_PG_CONN_H
#define RB_PG_CONN_H
#include "gate.h"
#include <libpq-fe.h>

enum { RB_PG_OK = 0, RB_PG_ETIMEOUT = -1, RB_PG_ECONN = -2, RB_PG_EINTR = -3 };

double rb_pg_now(void);   /* monotonic seconds */

/* Starts a connection (PQconnectStartParams) and drives it to the end or
 * the deadline (now + timeout_s). Returns the PGconn (NULL only when out of
 * memory) and sets *rc; on failure the caller reads PQerrorMessage and
 * finishes the connection with rb_pg_conn_drop(). The connection is left in
 * nonblocking mode. */
PGconn *rb_pg_conn_start(const rb_ticket *t, const char *const *kw, const char *const *val,
                         int expand, double timeout_s, int *rc);

/* Queues one statement with text parameters (PQsendQueryParams); 1 if
 * queued. In pipeline mode it is sent with the next sync. */
int rb_pg_conn_send(const rb_ticket *t, PGconn *c, const char *sql, int nparams,
                    const char *const *values);

/* Ends a pipeline batch (PQpipelineSync); 1 on success. */
int rb_pg_conn_sync(const rb_ticket *t, PGconn *c);

/* The first result of the next command (the rest are dropped); *out NULL if
 * there is none. A command ends at a NULL result, a pipeline at its sync. If
 * the connection breaks after an error arrived, that error is the answer. */
int rb_pg_conn_next_result(const rb_ticket *t, PGconn *c, double deadline, PGresult **out);

/* Gives up on a connection: cancels a statement that may still run
 * (PQcancel: stopping, not a request) and closes it. NULL is fine. */
void rb_pg_conn_drop(PGconn *c);
#endif
