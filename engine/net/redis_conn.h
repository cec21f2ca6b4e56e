/* redis_conn.h — the Redis transport under rb.redis: a hiredis 0.14 context
 * in nonblocking mode driven by our own poll() loop, no Lua.
 *
 * Blocking hiredis retries EINTR inside read(2), so a signal cannot stop a
 * BLPOP; here every wait is cut into 100 ms slices and ends at once when the
 * ticket stops being sendable (SIGINT/SIGTERM: the gate's interrupt, except
 * for an applied write already on the wire). Every function that touches the
 * socket takes the gate's ticket and does nothing without a sendable one.
 * After any failure (timeout, interrupt, broken socket) the context's state
 * is unknown (a late reply would answer the next command): the caller frees
 * it and reconnects. */
#ifndef RB_REDIS_CONN_H
#define RB_REDIS_CONN_H
#include "gate.h"
#include <hiredis/hiredis.h>
#include <stddef.h>

enum { RB_REDIS_IO_OK = 0, RB_REDIS_IO_TIMEOUT = -1, RB_REDIS_IO_CONN = -2, RB_REDIS_IO_INTR = -3 };

double rb_redis_now(void);   /* monotonic seconds */

/* Connects to host:port, or to the unix socket path when path is not NULL,
 * within timeout_s. *out is the context (also on failure, when one was
 * made: free it with redisFree) ; err says why on failure. */
int rb_redis_conn_open(const rb_ticket *t, const char *host, int port, const char *path,
                       double timeout_s, redisContext **out, char *err, size_t errlen);

/* Queues one command and writes everything queued, by the deadline. */
int rb_redis_conn_send(const rb_ticket *t, redisContext *c, int argc, const char **argv,
                       const size_t *lens, double deadline, char *err, size_t errlen);

/* Reads the next reply, by the deadline; *out is freed by the caller. */
int rb_redis_conn_read(const rb_ticket *t, redisContext *c, double deadline, redisReply **out,
                       char *err, size_t errlen);

/* send then read: one round trip. */
int rb_redis_conn_command(const rb_ticket *t, redisContext *c, int argc, const char **argv,
                          const size_t *lens, double timeout_s, redisReply **out,
                          char *err, size_t errlen);
#endif
