/* tcp_probe.h — the transport under rb.net's resolve and tcp_connect: name
 * look-ups (getaddrinfo) and connects bounded by a deadline. Plain C, no Lua.
 * Like every transport it takes the gate's ticket (gate.h) and does nothing —
 * no DNS query, no SYN — unless rb_ticket_sendable() holds for it. */
#ifndef RB_TCP_PROBE_H
#define RB_TCP_PROBE_H
#include <netdb.h>
#include <stddef.h>

typedef struct rb_ticket rb_ticket;   /* gate.h */

#define RB_PROBE_NOTICKET (-1000)     /* returned instead of a getaddrinfo/errno code */

double rb_probe_now_ms(void);   /* monotonic clock, milliseconds */

/* getaddrinfo(host, port) for TCP; 0, a getaddrinfo error code, or RB_PROBE_NOTICKET. */
int rb_probe_lookup(const rb_ticket *t, const char *host, const char *port, struct addrinfo **res);

/* One nonblocking connect to ai, closed at once, bounded by deadline
 * (rb_probe_now_ms() time); 0, an errno value, or RB_PROBE_NOTICKET. */
int rb_probe_connect(const rb_ticket *t, const struct addrinfo *ai, double deadline);

/* The message for a code from the functions above (lookup: gai, connect: errno). */
const char *rb_probe_strerror(int code, int lookup);
#endif
