/* test_redis_conn.c — the Redis transport (engine/net/redis_conn.c) against a
 * 127.0.0.1 listener that never answers: without a sendable ticket nothing
 * connects and nothing is written; with one, a command is sent, and when the
 * gate's interrupt arrives (SIGALRM here, as SIGINT would) a wait for a reply
 * that never comes (BLPOP) ends within one 100 ms slice. */
#include "gate_ctl.h"
#include "net/redis_conn.h"
#include "tap.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <netinet/in.h>
#include <signal.h>
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

/* The next pending connection (nonblocking), or -1. */
static int accept_one(int fd)
{
    int c = accept(fd, NULL, NULL);
    if (c >= 0) fcntl(c, F_SETFL, O_NONBLOCK);
    return c;
}

/* What the peer has sent so far (nonblocking); its length. */
static ssize_t received(int c, char *buf, size_t n)
{
    usleep(50 * 1000);
    ssize_t r = recv(c, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = '\0';
    return r > 0 ? r : 0;
}

static void on_alarm(int sig) { (void)sig; rb_gate_interrupt(1); }

static void interrupt_in(int ms)
{
    struct itimerval it = {{0, 0}, {0, ms * 1000}};
    signal(SIGALRM, on_alarm);
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
    int port, fd = listener(&port);
    char err[200], buf[256];
    redisContext *c = NULL;

    TAP_EQ_INT(rb_redis_conn_open(NULL, "127.0.0.1", port, NULL, 1.0, &c, err, sizeof err), RB_REDIS_IO_INTR,
               "no ticket: no connect");
    TAP_OK(c == NULL, "... and no context");
    TAP_EQ_INT(accept_one(fd), -1, "the listener saw no connection");

    lua_State *L = luaL_newstate();
    *(void **)lua_getextraspace(L) = NULL;
    rb_gate_set_mode(RB_MODE_FREE);
    rb_action a = {"redis", "BLPOP", "127.0.0.1", 0};
    rb_ticket *t = rb_gate_open(L, &a, RB_READ);
    TAP_EQ_INT(rb_redis_conn_open(t, "127.0.0.1", port, NULL, 1.0, &c, err, sizeof err), RB_REDIS_IO_OK,
               "with a ticket: connected");
    int peer = accept_one(fd);
    TAP_OK(peer >= 0, "the listener has the connection");

    const char *argv[3] = {"BLPOP", "empty", "0"};
    interrupt_in(200);
    double t0 = rb_redis_now();
    redisReply *r = NULL;
    int rc = rb_redis_conn_command(t, c, 3, argv, NULL, 30.0, &r, err, sizeof err);
    double waited = rb_redis_now() - t0;
    TAP_EQ_INT(rc, RB_REDIS_IO_INTR, "an interrupt ends the wait for a reply that never comes");
    TAP_OK(waited > 0.15 && waited < 0.45, "within one slice of the interrupt (%.0f ms after the call)",
           waited * 1000);
    TAP_OK(received(peer, buf, sizeof buf) > 0 && strstr(buf, "BLPOP") != NULL, "the command was sent");
    rb_gate_interrupt(0);

    rb_ticket_done(L, t, 0, "interrupted");
    TAP_EQ_INT(rb_redis_conn_send(t, c, 3, argv, NULL, rb_redis_now() + 1, err, sizeof err), RB_REDIS_IO_INTR,
               "a done ticket sends nothing");
    TAP_EQ_INT(received(peer, buf, sizeof buf), 0, "the listener received nothing more");
    redisFree(c);
    close(peer);
    lua_close(L);
    close(fd);
    return TAP_DONE();
}
