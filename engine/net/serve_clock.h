/* serve_clock.h — whole-request deadlines for the libmicrohttpd daemon behind
 * `runbook serve`. No Lua.
 *
 * libmicrohttpd's connection timeout counts inactivity: a client that sends
 * one byte every few seconds (slowloris) holds a connection, and a slot of
 * max_connections, for ever, and one that stops sending is dropped without an
 * answer. The clock tracks every connection and gives each request a deadline
 * of `ms`:
 *
 *   idle      connected, or between two requests of a keep-alive connection,
 *             with no complete request line: when `ms` pass, a connection on
 *             which bytes arrived since (the kernel's TCP_INFO count) is
 *             timed out as below; one that sent nothing is closed without an
 *             answer (there is no request to answer, and an idle keep-alive
 *             connection must not receive a stray response).
 *   request   request line received, no response queued: when `ms` pass, a
 *             plain-HTTP client is answered "408 Request Timeout" with
 *             Connection: close, written to the socket before libmicrohttpd
 *             has written anything, then the write side is shut; the read
 *             side follows a second later (a lingering close, so the client
 *             reads the 408 before a reset). Over TLS the 408 would have to
 *             go through the TLS session libmicrohttpd owns, so the
 *             connection is closed without it.
 *   answered  a response is queued: libmicrohttpd's own inactivity timeout
 *             covers a client that is slow to read it.
 *
 * The daemon must run without threads (callbacks and sweeps on one thread),
 * as rb._serve drives it. */
#ifndef RB_SERVE_CLOCK_H
#define RB_SERVE_CLOCK_H
#include <microhttpd.h>
#include <stdint.h>

typedef struct rb_sconn rb_sconn;

typedef struct {
    rb_sconn *head;              /* the daemon's open connections */
    int64_t ms;                  /* deadline of a request, and of idleness */
    int tls;                     /* no raw 408 over TLS */
    unsigned long timed_out;     /* requests answered 408 (or closed, TLS) */
    unsigned long idle_closed;   /* connections closed with no request */
} rb_sclock;

/* libmicrohttpd options: MHD_OPTION_NOTIFY_CONNECTION and
 * MHD_OPTION_URI_LOG_CALLBACK, both with the clock as their closure. */
void rb_sclock_on_connection(void *clock, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe);
void *rb_sclock_on_uri(void *clock, const char *uri, struct MHD_Connection *c);

/* The request on c is answered (call when queueing a response) / complete
 * (call from MHD_OPTION_NOTIFY_COMPLETED: the connection is idle again). */
void rb_sclock_answered(struct MHD_Connection *c);
void rb_sclock_completed(struct MHD_Connection *c);

/* Acts on every deadline that passed by now_ms (a monotonic clock); call
 * after each MHD_run_wait. */
void rb_sclock_sweep(rb_sclock *k, int64_t now_ms);

/* Milliseconds on the monotonic clock. */
int64_t rb_sclock_now(void);

/* Frees what is left (after MHD_stop_daemon, which closes connections). */
void rb_sclock_free(rb_sclock *k);
#endif
