/* test_redis.c — the pure parts of rb.redis: URLs (core/redis_url.h), INFO
 * text (core/redis_info.h) and the read/write table (core/redis_cmd.h). */
#include "core/redis_cmd.h"
#include "core/redis_info.h"
#include "core/redis_url.h"
#include "tap.h"

static void test_url_tcp(void)
{
    rb_redis_url u;
    char err[200];
    TAP_EQ_INT(rb_redis_url_parse("redis://127.0.0.1:6380/2", &u, err, sizeof err), 0, "tcp URL parses");
    TAP_EQ_STR(u.host, "127.0.0.1", "host");
    TAP_EQ_INT(u.port, 6380, "port");
    TAP_EQ_INT(u.db, 2, "db from the path");
    TAP_EQ_INT(u.password_len, 0, "no password: no AUTH");
    TAP_EQ_INT(rb_redis_url_parse("redis://localhost", &u, err, sizeof err), 0, "bare host parses");
    TAP_EQ_INT(u.port, 6379, "default port 6379");
    TAP_EQ_INT(u.db, 0, "default db 0");
    TAP_EQ_INT(rb_redis_url_parse("redis://:s3cr%2Ft@h:1/0", &u, err, sizeof err), 0, "password only");
    TAP_EQ_STR(u.password, "s3cr/t", "password percent-decoded");
    TAP_EQ_INT(u.password_len, 6, "password length");
    TAP_EQ_STR(u.user, "", "no user");
    TAP_EQ_INT(rb_redis_url_parse("REDIS://alice:p@ss@h/3?db=4", &u, err, sizeof err), 0, "user and password");
    TAP_EQ_STR(u.user, "alice", "user");
    TAP_EQ_STR(u.password, "p@ss", "the last @ ends the password");
    TAP_EQ_INT(u.db, 4, "?db= wins over the path");
    TAP_EQ_INT(rb_redis_url_parse("redis://[::1]:7000", &u, err, sizeof err), 0, "IPv6 host");
    TAP_EQ_STR(u.host, "::1", "brackets stripped");
    TAP_EQ_INT(u.port, 7000, "IPv6 port");
}

static void test_url_unix(void)
{
    rb_redis_url u;
    char err[200];
    TAP_EQ_INT(rb_redis_url_parse("unix:///run/redis.sock?db=5", &u, err, sizeof err), 0, "unix URL parses");
    TAP_OK(u.unix_socket, "unix flag set");
    TAP_EQ_STR(u.path, "/run/redis.sock", "socket path");
    TAP_EQ_INT(u.db, 5, "unix db");
    TAP_EQ_INT(rb_redis_url_parse("redis+unix://:pw@/tmp/r.sock", &u, err, sizeof err), 0, "redis+unix with password");
    TAP_EQ_STR(u.password, "pw", "unix password");
    TAP_EQ_STR(u.path, "/tmp/r.sock", "unix path after userinfo");
}

static void test_url_errors(void)
{
    rb_redis_url u;
    char err[200];
    TAP_EQ_INT(rb_redis_url_parse("rediss://h:1", &u, err, sizeof err), -1, "rediss refused");
    TAP_OK(strstr(err, "TLS") != NULL, "rediss error names TLS: %s", err);
    TAP_EQ_INT(rb_redis_url_parse("http://h", &u, err, sizeof err), -1, "other schemes refused");
    TAP_EQ_INT(rb_redis_url_parse("127.0.0.1:6379", &u, err, sizeof err), -1, "no scheme refused");
    TAP_EQ_INT(rb_redis_url_parse("redis://h:99999", &u, err, sizeof err), -1, "port out of range");
    TAP_EQ_INT(rb_redis_url_parse("redis://h:12x", &u, err, sizeof err), -1, "port not a number");
    TAP_EQ_INT(rb_redis_url_parse("redis://h/x", &u, err, sizeof err), -1, "db not a number");
    TAP_EQ_INT(rb_redis_url_parse("redis://h?timeout=3", &u, err, sizeof err), -1, "unknown parameter");
    TAP_EQ_INT(rb_redis_url_parse("redis://:topsecret@h:bad", &u, err, sizeof err), -1, "bad port after password");
    TAP_OK(strstr(err, "topsecret") == NULL, "the error never quotes the password");
    TAP_EQ_STR(u.password, "topsecret", "password kept for the redactor even on failure");
    TAP_EQ_INT(rb_redis_url_parse("redis://:%zz@h", &u, err, sizeof err), -1, "bad percent escape");
    TAP_EQ_INT(rb_redis_url_parse("redis://:%4@h", &u, err, sizeof err), -1, "truncated percent escape");
    TAP_EQ_INT(rb_redis_url_parse("unix://relative.sock", &u, err, sizeof err), -1, "relative socket path");
    TAP_EQ_INT(rb_redis_url_parse("redis://", &u, err, sizeof err), -1, "missing host");
}

static const char info_text[] =
    "# Server\r\n"
    "redis_version:7.0.15\r\n"
    "run_id:1234567890123456789012345678901234567890\r\n"
    "\r\n"
    "# Stats\r\n"
    "keyspace_hits:10\r\n"
    "mem_fragmentation_ratio:1.25\r\n"
    "executable:/usr/bin/redis-server\r\n"
    "# Keyspace\r\n"
    "db0:keys=3,expires=1,avg_ttl=0\r\n"
    "weird line without colon\n"
    "last:-7";

static void test_info(void)
{
    rb_redis_info_iter it;
    rb_redis_info_field f;
    int n = 0, saw_db0 = 0, saw_last = 0;
    rb_redis_info_init(&it, info_text, sizeof info_text - 1);
    while (rb_redis_info_next(&it, &f)) {
        n++;
        if (f.key_len == 3 && memcmp(f.key, "db0", 3) == 0) {
            saw_db0 = f.section_len == 8 && memcmp(f.section, "Keyspace", 8) == 0 &&
                      rb_redis_info_is_dict(f.value, f.value_len);
        }
        if (f.key_len == 4 && memcmp(f.key, "last", 4) == 0)
            saw_last = f.value_len == 2 && memcmp(f.value, "-7", 2) == 0;
    }
    TAP_EQ_INT(n, 7, "seven fields (headers, blanks, colon-less lines skipped)");
    TAP_OK(saw_db0, "db0 in section Keyspace, a dict");
    TAP_OK(saw_last, "last line without a newline");

    const char *d = "keys=3,expires=1", *p = d, *k, *v;
    size_t kl, vl;
    TAP_OK(rb_redis_info_dict_next(&p, d + strlen(d), &k, &kl, &v, &vl) && kl == 4 && vl == 1 && *v == '3',
           "first sub-field keys=3");
    TAP_OK(rb_redis_info_dict_next(&p, d + strlen(d), &k, &kl, &v, &vl) && kl == 7 && *v == '1',
           "second sub-field expires=1");
    TAP_OK(!rb_redis_info_dict_next(&p, d + strlen(d), &k, &kl, &v, &vl), "then the end");
    TAP_OK(!rb_redis_info_is_dict("/usr/bin/redis-server", 21), "a path is not a dict");
    TAP_OK(!rb_redis_info_is_dict("a=1,b", 5), "a piece without = is not a dict");
    TAP_OK(!rb_redis_info_is_dict("a=1,", 4), "a trailing comma is not a dict");
    TAP_OK(rb_redis_info_is_number("1.25", 4), "1.25 is a number");
    TAP_OK(rb_redis_info_is_number("-7", 2), "-7 is a number");
    TAP_OK(!rb_redis_info_is_number("7.0.15", 6), "a version is not");
    TAP_OK(!rb_redis_info_is_number("0x10", 4), "hex is not");
    TAP_OK(!rb_redis_info_is_number("1.", 2), "1. is not");
    TAP_OK(!rb_redis_info_is_number("1234567890123456789012345678901234567890", 40), "a 40-digit id is not");
}

/* rb_redis_cmd_decide over a NULL-terminated flag list. */
static rb_redis_cmd_kind decide(const char *name, const char **flags)
{
    rb_redis_flags f = {0, 0, 0};
    for (; *flags; flags++) rb_redis_flags_add(&f, *flags, strlen(*flags));
    return rb_redis_cmd_decide(name, &f);
}

static void test_commands(void)
{
    TAP_OK(rb_redis_cmd_tables_sorted(), "static tables sorted for bsearch");
    TAP_EQ_INT(rb_redis_cmd_fallback("GET"), RB_REDIS_READ, "GET read");
    TAP_EQ_INT(rb_redis_cmd_fallback("get"), RB_REDIS_READ, "lookup ignores case");
    TAP_EQ_INT(rb_redis_cmd_fallback("SET"), RB_REDIS_WRITE, "SET write");
    TAP_EQ_INT(rb_redis_cmd_fallback("CONFIG"), RB_REDIS_CONTAINER, "CONFIG container");
    TAP_EQ_INT(rb_redis_cmd_fallback("CONFIG GET"), RB_REDIS_READ, "CONFIG GET read");
    TAP_EQ_INT(rb_redis_cmd_fallback("CONFIG SET"), RB_REDIS_WRITE, "CONFIG SET write");
    TAP_EQ_INT(rb_redis_cmd_fallback("FLUSHALL"), RB_REDIS_WRITE, "FLUSHALL write");
    TAP_EQ_INT(rb_redis_cmd_fallback("NOSUCHCMD"), RB_REDIS_UNKNOWN, "unknown stays unknown");
    TAP_OK(rb_redis_cmd_read_allowed("CONFIG GET"), "CONFIG GET on the inspection allow-list");
    TAP_OK(rb_redis_cmd_read_allowed("SLOWLOG GET"), "SLOWLOG GET on the allow-list");
    TAP_OK(rb_redis_cmd_read_allowed("INFO"), "INFO on the allow-list");
    TAP_OK(!rb_redis_cmd_read_allowed("CONFIG SET"), "CONFIG SET is not");
    TAP_OK(!rb_redis_cmd_read_allowed("SLOWLOG RESET"), "SLOWLOG RESET is not");
    TAP_OK(!rb_redis_cmd_read_allowed("KEYS"), "KEYS is not");
    TAP_EQ_INT(decide("GET", (const char *[]){"readonly", "fast", "@read", NULL}), RB_REDIS_READ, "readonly flags: read");
    TAP_EQ_INT(decide("SET", (const char *[]){"write", "denyoom", "@write", NULL}), RB_REDIS_WRITE, "write flag: write");
    TAP_EQ_INT(decide("PUBLISH", (const char *[]){"pubsub", "fast", NULL}), RB_REDIS_WRITE, "pubsub flag: write");
    TAP_EQ_INT(decide("SOMECMD", (const char *[]){"may_replicate", NULL}), RB_REDIS_WRITE, "may_replicate: write");
    TAP_EQ_INT(decide("INFO", (const char *[]){"loading", "@slow", "@dangerous", NULL}), RB_REDIS_READ,
               "INFO is @dangerous but on the allow-list: read");
    TAP_EQ_INT(decide("CONFIG GET", (const char *[]){"admin", "@admin", NULL}), RB_REDIS_READ, "CONFIG GET admin, allow-listed");
    TAP_EQ_INT(decide("CONFIG SET", (const char *[]){"admin", "@admin", NULL}), RB_REDIS_WRITE, "CONFIG SET admin: write");
    TAP_EQ_INT(decide("EVAL", (const char *[]){"noscript", "@slow", "@scripting", NULL}), RB_REDIS_WRITE,
               "a script not flagged readonly: write");
    /* every script is a write whatever its flags: EVAL_RO can run SLOWLOG RESET */
    static const char *const scripts[] = {"EVAL_RO", "EVALSHA_RO", "FCALL_RO", "EVAL", "EVALSHA", "FCALL",
                                          "SCRIPT LOAD", "SCRIPT FLUSH", "SCRIPT KILL", "FUNCTION LOAD",
                                          "FUNCTION DELETE", "FUNCTION FLUSH", "FUNCTION RESTORE",
                                          "FUNCTION KILL", NULL};
    for (int i = 0; scripts[i]; i++)
        TAP_EQ_INT(decide(scripts[i], (const char *[]){"readonly", "@read", "@scripting", NULL}), RB_REDIS_WRITE,
                   scripts[i]);
    /* administrative sub-commands that change server state, whatever their flags */
    static const char *const admin[] = {"SLOWLOG RESET", "LATENCY RESET", "MEMORY PURGE", "CLIENT KILL",
                                        "CLIENT PAUSE", "CLIENT UNPAUSE", "CLIENT NO-EVICT", "CLIENT SETNAME",
                                        "CONFIG SET", "CONFIG RESETSTAT", "CONFIG REWRITE", "DEBUG",
                                        "ACL SETUSER", "ACL DELUSER", "MODULE LOAD", "FAILOVER", "SHUTDOWN",
                                        "CLUSTER RESET", "SWAPDB", NULL};
    for (int i = 0; admin[i]; i++)
        TAP_EQ_INT(decide(admin[i], (const char *[]){"readonly", "fast", NULL}), RB_REDIS_WRITE, admin[i]);
    TAP_OK(rb_redis_cmd_arg_writes("ACL LOG", "reset", 5), "ACL LOG RESET is a write");
    TAP_OK(!rb_redis_cmd_arg_writes("ACL LOG", "10", 2), "ACL LOG 10 is not");
    TAP_EQ_INT(decide("ACL LOG", (const char *[]){"admin", NULL}), RB_REDIS_READ, "ACL LOG allow-listed");
    TAP_EQ_INT(decide("SCRIPT EXISTS", (const char *[]){"noscript", "@scripting", NULL}), RB_REDIS_READ,
               "SCRIPT EXISTS allow-listed");
    TAP_EQ_INT(decide("MEMORY PURGE", (const char *[]){"@slow", NULL}), RB_REDIS_WRITE,
               "unflagged but a write in the static table: write");
    TAP_EQ_INT(decide("READSTUFF", (const char *[]){"Readonly", "writes", NULL}), RB_REDIS_READ,
               "whole words, any case");
    TAP_OK(rb_redis_cmd_unsupported("SUBSCRIBE") != NULL, "SUBSCRIBE unsupported");
    TAP_OK(rb_redis_cmd_unsupported("select") != NULL, "select unsupported (any case)");
    TAP_OK(rb_redis_cmd_unsupported("CLIENT REPLY") != NULL, "CLIENT REPLY unsupported");
    TAP_OK(rb_redis_cmd_unsupported("GET") == NULL, "GET supported");
}

int main(void)
{
    test_url_tcp();
    test_url_unix();
    test_url_errors();
    test_info();
    test_commands();
    return TAP_DONE();
}
