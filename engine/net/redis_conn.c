/* redis_conn.c — see redis_conn.h. Uses hiredis 0.14's nonblocking context
 * (redisBufferWrite, redisBufferRead, redisGetReplyFromReader) and poll(). */
#include "redis_conn.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define SLICE_MS 100   /* how long a wait goes without looking at the ticket */

double rb_redis_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int io_error(int rc, char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return rc;
}

/* Waits until fd is ready for events, the deadline passes, or the ticket
 * stops being sendable (looked at every slice). */
static int wait_fd(const rb_ticket *t, int fd, short events, double deadline, char *err, size_t errlen)
{
    for (;;) {
        if (!rb_ticket_sendable(t)) return io_error(RB_REDIS_IO_INTR, err, errlen, "interrupted");
        double left = deadline - rb_redis_now();
        if (left <= 0) return io_error(RB_REDIS_IO_TIMEOUT, err, errlen, "timed out");
        struct pollfd p = { fd, events, 0 };
        int ms = left * 1000 > SLICE_MS ? SLICE_MS : (int)(left * 1000) + 1;
        int r = poll(&p, 1, ms);
        if (r > 0) return RB_REDIS_IO_OK;    /* errors too: the next read, write or SO_ERROR says */
        if (r < 0 && errno != EINTR) return io_error(RB_REDIS_IO_CONN, err, errlen, strerror(errno));
    }
}

static int context_error(const redisContext *c, char *err, size_t errlen)
{
    return io_error(RB_REDIS_IO_CONN, err, errlen, c && c->errstr[0] ? c->errstr : "connection failed");
}

int rb_redis_conn_open(const rb_ticket *t, const char *host, int port, const char *path,
                       double timeout_s, redisContext **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!rb_ticket_sendable(t)) return io_error(RB_REDIS_IO_INTR, err, errlen, "interrupted");
    redisContext *c = path ? redisConnectUnixNonBlock(path) : redisConnectNonBlock(host, port);
    *out = c;
    if (!c) return io_error(RB_REDIS_IO_CONN, err, errlen, "out of memory");
    if (c->err) return context_error(c, err, errlen);
    int rc = wait_fd(t, c->fd, POLLOUT, rb_redis_now() + timeout_s, err, errlen);
    if (rc == RB_REDIS_IO_TIMEOUT) return io_error(rc, err, errlen, "no connection within the connect timeout");
    if (rc) return rc;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr) return io_error(RB_REDIS_IO_CONN, err, errlen, strerror(soerr));
    return RB_REDIS_IO_OK;
}

int rb_redis_conn_send(const rb_ticket *t, redisContext *c, int argc, const char **argv,
                       const size_t *lens, double deadline, char *err, size_t errlen)
{
    if (!rb_ticket_sendable(t)) return io_error(RB_REDIS_IO_INTR, err, errlen, "interrupted");
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK) return context_error(c, err, errlen);
    for (int done = 0;;) {
        if (redisBufferWrite(c, &done) != REDIS_OK) return context_error(c, err, errlen);
        if (done) return RB_REDIS_IO_OK;
        int rc = wait_fd(t, c->fd, POLLOUT, deadline, err, errlen);
        if (rc) return rc;
    }
}

int rb_redis_conn_read(const rb_ticket *t, redisContext *c, double deadline, redisReply **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(c, &r) != REDIS_OK) return context_error(c, err, errlen);
        if (r) { *out = r; return RB_REDIS_IO_OK; }
        int rc = wait_fd(t, c->fd, POLLIN, deadline, err, errlen);
        if (rc) return rc;
        if (redisBufferRead(c) != REDIS_OK) return context_error(c, err, errlen);
    }
}

int rb_redis_conn_command(const rb_ticket *t, redisContext *c, int argc, const char **argv,
                          const size_t *lens, double timeout_s, redisReply **out,
                          char *err, size_t errlen)
{
    double deadline = rb_redis_now() + timeout_s;
    int rc = rb_redis_conn_send(t, c, argc, argv, lens, deadline, err, errlen);
    return rc ? rc : rb_redis_conn_read(t, c, deadline, out, err, errlen);
}
