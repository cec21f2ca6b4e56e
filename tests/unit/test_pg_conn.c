/* test_pg_conn.c — the PostgreSQL transport (engine/net/pg_conn.c) against a
 * 127.0.0.1 listener that accepts and never answers: without a sendable
 * ticket libpq never connects; with one, the startup packet goes out, and the
 * gate's interrupt (SIGALRM here, as SIGINT would) ends the wait for the
 * server within one 100 ms slice. */
#include "gate_ctl.h"
#include "net/pg_conn.h"
#include "tap.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    listen(fd, 4);
    getsockname(fd, (struct sockaddr *)&a, &len);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    *port = ntohs(a.sin_port);
    return fd;
}

static void on_alarm(int sig) { (void)sig; rb_gate_interrupt(1); }

int main(void)
{
    int port, fd = listener(&port), rc;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *kw[] = {"host", "port", "dbname", "user", "sslmode", "gssencmode", NULL};
    const char *val[] = {"127.0.0.1", portstr, "x", "x", "disable", "disable", NULL};

    PGconn *g = rb_pg_conn_start(NULL, kw, val, 0, 1.0, &rc);
    TAP_OK(g == NULL && rc == RB_PG_EINTR, "no ticket: libpq is not started");
    TAP_EQ_INT(accept(fd, NULL, NULL), -1, "the listener saw no connection");

    lua_State *L = luaL_newstate();
    *(void **)lua_getextraspace(L) = NULL;
    rb_gate_set_mode(RB_MODE_FREE);
    rb_action a = {"pg", "connect", "127.0.0.1", 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    struct itimerval it = {{0, 0}, {0, 200 * 1000}};
    signal(SIGALRM, on_alarm);
    setitimer(ITIMER_REAL, &it, NULL);
    double t0 = rb_pg_now();
    g = rb_pg_conn_start(t, kw, val, 0, 30.0, &rc);
    double waited = rb_pg_now() - t0;
    TAP_EQ_INT(rc, RB_PG_EINTR, "an interrupt ends the wait for a server that never answers");
    TAP_OK(waited > 0.15 && waited < 0.45, "within one slice of the interrupt (%.0f ms)", waited * 1000);
    int peer = accept(fd, NULL, NULL);
    char buf[64];
    TAP_OK(peer >= 0 && recv(peer, buf, sizeof buf, MSG_DONTWAIT) > 0, "the startup packet was sent");
    rb_pg_conn_drop(g);
    rb_gate_interrupt(0);

    rb_ticket_done(L, t, 0, "interrupted");
    g = rb_pg_conn_start(t, kw, val, 0, 1.0, &rc);
    TAP_OK(g == NULL && rc == RB_PG_EINTR, "a done ticket starts nothing");
    TAP_EQ_INT(accept(fd, NULL, NULL), -1, "the listener saw no new connection");
    if (peer >= 0) close(peer);
    lua_close(L);
    close(fd);
    return TAP_DONE();
}
