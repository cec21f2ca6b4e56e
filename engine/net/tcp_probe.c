/* tcp_probe.c — name look-ups and TCP connect probes (see tcp_probe.h). */
#include "tcp_probe.h"
#include "gate.h"
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double rb_probe_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int rb_probe_lookup(const rb_ticket *t, const char *host, const char *port, struct addrinfo **res)
{
    *res = NULL;
    if (!rb_ticket_sendable(t)) return RB_PROBE_NOTICKET;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    return getaddrinfo(host, port, &hints, res);
}

int rb_probe_connect(const rb_ticket *t, const struct addrinfo *ai, double deadline)
{
    if (!rb_ticket_sendable(t)) return RB_PROBE_NOTICKET;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return errno;
    int err = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            double left = deadline - rb_probe_now_ms();
            int n = left > 0 ? poll(&p, 1, (int)left + 1) : 0;
            socklen_t len = sizeof err;
            if (n == 0) err = ETIMEDOUT;
            else if (n < 0) err = errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        }
    }
    close(fd);
    return err;
}

const char *rb_probe_strerror(int code, int lookup)
{
    if (code == RB_PROBE_NOTICKET) return "no gate ticket: nothing sent";
    return lookup ? gai_strerror(code) : strerror(code);
}
