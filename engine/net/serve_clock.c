/* serve_clock.c — whole-request deadlines for libmicrohttpd (serve_clock.h). */
#include "net/serve_clock.h"
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>    /* IPPROTO_TCP */
#include <linux/tcp.h>     /* TCP_INFO with tcpi_bytes_received (glibc's lacks it) */
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { IDLE, REQUEST, ANSWERED, LINGER, CLOSED };
#define LINGER_MS 1000

struct rb_sconn {
    struct MHD_Connection *c;
    rb_sclock *clock;
    int state;
    int64_t since;
    uint64_t rx_mark;            /* bytes received when it last became idle */
    rb_sconn *prev, *next;
};

static const char answer_408[] =
    "HTTP/1.1 408 Request Timeout\r\n"
    "Connection: close\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 43\r\n"
    "\r\n"
    "request not received whole before timeout\n";

int64_t rb_sclock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rb_sconn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

static int fd_of(rb_sconn *k)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(k->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return i ? i->connect_fd : -1;
}

/* Bytes the peer has sent on the connection (the kernel's count: what
 * libmicrohttpd already read cannot be peeked at). 0 when unknown. */
static uint64_t bytes_received(int fd)
{
    struct tcp_info ti;
    socklen_t n = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n) < 0) return 0;
    return ti.tcpi_bytes_received;
}

static void set_state(rb_sconn *k, int state)
{
    k->state = state;
    k->since = rb_sclock_now();
}

static void unlink_conn(rb_sconn *k)
{
    if (k->prev) k->prev->next = k->next;
    else k->clock->head = k->next;
    if (k->next) k->next->prev = k->prev;
}

void rb_sclock_on_connection(void *clock, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    rb_sclock *clk = clock;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        rb_sconn *k = calloc(1, sizeof *k);
        if (!k) return;                 /* untracked: libmicrohttpd's timeout still applies */
        k->c = c;
        k->clock = clk;
        set_state(k, IDLE);
        k->next = clk->head;
        if (clk->head) clk->head->prev = k;
        clk->head = k;
        *socket_context = k;
    } else if (*socket_context) {
        unlink_conn(*socket_context);
        free(*socket_context);
        *socket_context = NULL;
    }
}

void *rb_sclock_on_uri(void *clock, const char *uri, struct MHD_Connection *c)
{
    (void)clock; (void)uri;
    rb_sconn *k = conn_of(c);
    if (k && k->state == IDLE) set_state(k, REQUEST);
    return NULL;                        /* the request's own context starts empty */
}

void rb_sclock_answered(struct MHD_Connection *c)
{
    rb_sconn *k = conn_of(c);
    if (k && k->state == REQUEST) set_state(k, ANSWERED);
}

void rb_sclock_completed(struct MHD_Connection *c)
{
    rb_sconn *k = conn_of(c);
    if (k && (k->state == REQUEST || k->state == ANSWERED)) {
        set_state(k, IDLE);
        k->rx_mark = bytes_received(fd_of(k));
    }
}

/* Writes the 408 without blocking: the socket is non-blocking, and the answer
 * is far smaller than any send buffer; a short write only shortens it. */
static void time_out(rb_sconn *k, int fd)
{
    k->clock->timed_out++;
    if (k->clock->tls) {
        shutdown(fd, SHUT_RDWR);
        set_state(k, CLOSED);
        return;
    }
    ssize_t n = send(fd, answer_408, sizeof answer_408 - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    shutdown(fd, SHUT_WR);
    set_state(k, LINGER);
}

static void sweep_one(rb_sconn *k, int64_t now)
{
    int64_t age = now - k->since;
    int fd = fd_of(k);
    if (fd < 0) return;
    if (k->state == IDLE && age >= k->clock->ms && bytes_received(fd) > k->rx_mark) {
        time_out(k, fd);                /* a request line still arriving */
    } else if (k->state == IDLE && age >= k->clock->ms) {
        k->clock->idle_closed++;
        shutdown(fd, SHUT_RDWR);        /* libmicrohttpd reads the end and closes */
        set_state(k, CLOSED);
    } else if (k->state == REQUEST && age >= k->clock->ms) {
        time_out(k, fd);
    } else if (k->state == LINGER && age >= LINGER_MS) {
        shutdown(fd, SHUT_RDWR);
        set_state(k, CLOSED);
    }
}

void rb_sclock_sweep(rb_sclock *k, int64_t now_ms)
{
    for (rb_sconn *c = k->head; c; c = c->next) sweep_one(c, now_ms);
}

void rb_sclock_free(rb_sclock *k)
{
    while (k->head) {
        rb_sconn *c = k->head;
        unlink_conn(c);
        free(c);
    }
}
