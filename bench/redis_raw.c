/* bench/redis_raw.c — the baseline for bench/redis.sh: N commands through
 * hiredis directly (redisCommandArgv, one round trip each), alternating
 * SET key value / GET key as rb.redis's side of the bench does.
 *
 *   redis_raw HOST PORT PASSWORD N   -> prints the elapsed seconds */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5) { fprintf(stderr, "usage: redis_raw HOST PORT PASSWORD N\n"); return 2; }
    int n = atoi(argv[4]);
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(argv[1], atoi(argv[2]), tv);
    if (!c || c->err) { fprintf(stderr, "connect: %s\n", c ? c->errstr : "oom"); return 1; }
    redisReply *r = redisCommand(c, "AUTH %s", argv[3]);
    if (!r || r->type == REDIS_REPLY_ERROR) { fprintf(stderr, "AUTH failed\n"); return 1; }
    freeReplyObject(r);
    const char *set[3] = {"SET", "bench:key", "value"}, *get[2] = {"GET", "bench:key"};
    size_t setl[3] = {3, 9, 5}, getl[2] = {3, 9};
    double t0 = now();
    for (int i = 0; i < n; i++) {
        r = i % 2 ? redisCommandArgv(c, 2, get, getl) : redisCommandArgv(c, 3, set, setl);
        if (!r || r->type == REDIS_REPLY_ERROR) { fprintf(stderr, "command failed\n"); return 1; }
        freeReplyObject(r);
    }
    printf("%.6f\n", now() - t0);
    redisFree(c);
    return 0;
}
