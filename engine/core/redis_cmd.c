/* redis_cmd.c — read or write for Redis commands (see redis_cmd.h): the static
 * fallback table, the inspection allow-list, and the flags that mean "write".
 * Pure C; the tables are sorted case-insensitively for bsearch (a unit test
 * checks it). */
#include "core/redis_cmd.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    rb_redis_cmd_kind kind;
    int inspect;   /* read even though the server flags it admin/dangerous */
} cmd_entry;

/* Commands as Redis 7.0 defines them. Unlisted commands are UNKNOWN (= write).
 * A WRITE here is final whatever COMMAND INFO says: every script (EVAL*,
 * FCALL*, their _RO forms: a script can call SLOWLOG RESET, which Redis does
 * not stop) and every administrative sub-command that changes server state. */
static const cmd_entry commands[] = {
    {"ACL", RB_REDIS_CONTAINER, 0},
    {"ACL CAT", RB_REDIS_READ, 0},
    {"ACL DELUSER", RB_REDIS_WRITE, 0},
    {"ACL DRYRUN", RB_REDIS_READ, 1},
    {"ACL GETUSER", RB_REDIS_READ, 1},
    {"ACL HELP", RB_REDIS_READ, 0},
    {"ACL LIST", RB_REDIS_READ, 1},
    {"ACL LOAD", RB_REDIS_WRITE, 0},
    {"ACL LOG", RB_REDIS_READ, 1}, /* ACL LOG RESET is a write: rb_redis_cmd_arg_writes */
    {"ACL SAVE", RB_REDIS_WRITE, 0},
    {"ACL SETUSER", RB_REDIS_WRITE, 0},
    {"ACL USERS", RB_REDIS_READ, 1},
    {"ACL WHOAMI", RB_REDIS_READ, 0},
    {"APPEND", RB_REDIS_WRITE, 0},
    {"BGREWRITEAOF", RB_REDIS_WRITE, 0},
    {"BGSAVE", RB_REDIS_WRITE, 0},
    {"BITCOUNT", RB_REDIS_READ, 0},
    {"BITFIELD_RO", RB_REDIS_READ, 0},
    {"BITPOS", RB_REDIS_READ, 0},
    {"BLPOP", RB_REDIS_WRITE, 0},
    {"BRPOP", RB_REDIS_WRITE, 0},
    {"CLIENT", RB_REDIS_CONTAINER, 0},
    {"CLIENT CACHING", RB_REDIS_WRITE, 0},
    {"CLIENT GETNAME", RB_REDIS_READ, 0},
    {"CLIENT GETREDIR", RB_REDIS_READ, 0},
    {"CLIENT HELP", RB_REDIS_READ, 0},
    {"CLIENT ID", RB_REDIS_READ, 0},
    {"CLIENT INFO", RB_REDIS_READ, 0},
    {"CLIENT KILL", RB_REDIS_WRITE, 0},
    {"CLIENT LIST", RB_REDIS_READ, 1},
    {"CLIENT NO-EVICT", RB_REDIS_WRITE, 0},
    {"CLIENT NO-TOUCH", RB_REDIS_WRITE, 0},
    {"CLIENT PAUSE", RB_REDIS_WRITE, 0},
    {"CLIENT SETINFO", RB_REDIS_WRITE, 0},
    {"CLIENT SETNAME", RB_REDIS_WRITE, 0},
    {"CLIENT TRACKING", RB_REDIS_WRITE, 0},
    {"CLIENT TRACKINGINFO", RB_REDIS_READ, 0},
    {"CLIENT UNBLOCK", RB_REDIS_WRITE, 0},
    {"CLIENT UNPAUSE", RB_REDIS_WRITE, 0},
    {"CLUSTER", RB_REDIS_CONTAINER, 0},
    {"CLUSTER ADDSLOTS", RB_REDIS_WRITE, 0},
    {"CLUSTER ADDSLOTSRANGE", RB_REDIS_WRITE, 0},
    {"CLUSTER BUMPEPOCH", RB_REDIS_WRITE, 0},
    {"CLUSTER COUNT-FAILURE-REPORTS", RB_REDIS_READ, 1},
    {"CLUSTER COUNTKEYSINSLOT", RB_REDIS_READ, 0},
    {"CLUSTER DELSLOTS", RB_REDIS_WRITE, 0},
    {"CLUSTER DELSLOTSRANGE", RB_REDIS_WRITE, 0},
    {"CLUSTER FAILOVER", RB_REDIS_WRITE, 0},
    {"CLUSTER FLUSHSLOTS", RB_REDIS_WRITE, 0},
    {"CLUSTER FORGET", RB_REDIS_WRITE, 0},
    {"CLUSTER GETKEYSINSLOT", RB_REDIS_READ, 0},
    {"CLUSTER HELP", RB_REDIS_READ, 0},
    {"CLUSTER INFO", RB_REDIS_READ, 0},
    {"CLUSTER KEYSLOT", RB_REDIS_READ, 0},
    {"CLUSTER LINKS", RB_REDIS_READ, 0},
    {"CLUSTER MEET", RB_REDIS_WRITE, 0},
    {"CLUSTER MYID", RB_REDIS_READ, 0},
    {"CLUSTER NODES", RB_REDIS_READ, 0},
    {"CLUSTER REPLICAS", RB_REDIS_READ, 1},
    {"CLUSTER REPLICATE", RB_REDIS_WRITE, 0},
    {"CLUSTER RESET", RB_REDIS_WRITE, 0},
    {"CLUSTER SAVECONFIG", RB_REDIS_WRITE, 0},
    {"CLUSTER SET-CONFIG-EPOCH", RB_REDIS_WRITE, 0},
    {"CLUSTER SETSLOT", RB_REDIS_WRITE, 0},
    {"CLUSTER SHARDS", RB_REDIS_READ, 0},
    {"CLUSTER SLAVES", RB_REDIS_READ, 1},
    {"CLUSTER SLOTS", RB_REDIS_READ, 0},
    {"COMMAND", RB_REDIS_CONTAINER, 1}, /* bare COMMAND lists them all */
    {"COMMAND COUNT", RB_REDIS_READ, 0},
    {"COMMAND DOCS", RB_REDIS_READ, 0},
    {"COMMAND GETKEYS", RB_REDIS_READ, 0},
    {"COMMAND GETKEYSANDFLAGS", RB_REDIS_READ, 0},
    {"COMMAND HELP", RB_REDIS_READ, 0},
    {"COMMAND INFO", RB_REDIS_READ, 0},
    {"COMMAND LIST", RB_REDIS_READ, 0},
    {"CONFIG", RB_REDIS_CONTAINER, 0},
    {"CONFIG GET", RB_REDIS_READ, 1},
    {"CONFIG HELP", RB_REDIS_READ, 0},
    {"CONFIG RESETSTAT", RB_REDIS_WRITE, 0},
    {"CONFIG REWRITE", RB_REDIS_WRITE, 0},
    {"CONFIG SET", RB_REDIS_WRITE, 0},
    {"COPY", RB_REDIS_WRITE, 0},
    {"DBSIZE", RB_REDIS_READ, 0},
    {"DEBUG", RB_REDIS_WRITE, 0},
    {"DECR", RB_REDIS_WRITE, 0},
    {"DECRBY", RB_REDIS_WRITE, 0},
    {"DEL", RB_REDIS_WRITE, 0},
    {"DUMP", RB_REDIS_READ, 0},
    {"ECHO", RB_REDIS_READ, 0},
    {"EVAL", RB_REDIS_WRITE, 0},
    {"EVAL_RO", RB_REDIS_WRITE, 0},
    {"EVALSHA", RB_REDIS_WRITE, 0},
    {"EVALSHA_RO", RB_REDIS_WRITE, 0},
    {"EXISTS", RB_REDIS_READ, 0},
    {"EXPIRE", RB_REDIS_WRITE, 0},
    {"EXPIREAT", RB_REDIS_WRITE, 0},
    {"EXPIRETIME", RB_REDIS_READ, 0},
    {"FAILOVER", RB_REDIS_WRITE, 0},
    {"FCALL", RB_REDIS_WRITE, 0},
    {"FCALL_RO", RB_REDIS_WRITE, 0},
    {"FLUSHALL", RB_REDIS_WRITE, 0},
    {"FLUSHDB", RB_REDIS_WRITE, 0},
    {"FUNCTION", RB_REDIS_CONTAINER, 0},
    {"FUNCTION DELETE", RB_REDIS_WRITE, 0},
    {"FUNCTION DUMP", RB_REDIS_READ, 1},
    {"FUNCTION FLUSH", RB_REDIS_WRITE, 0},
    {"FUNCTION HELP", RB_REDIS_READ, 1},
    {"FUNCTION KILL", RB_REDIS_WRITE, 0},
    {"FUNCTION LIST", RB_REDIS_READ, 1},
    {"FUNCTION LOAD", RB_REDIS_WRITE, 0},
    {"FUNCTION RESTORE", RB_REDIS_WRITE, 0},
    {"FUNCTION STATS", RB_REDIS_READ, 1},
    {"GEODIST", RB_REDIS_READ, 0},
    {"GEOHASH", RB_REDIS_READ, 0},
    {"GEOPOS", RB_REDIS_READ, 0},
    {"GEORADIUS_RO", RB_REDIS_READ, 0},
    {"GEORADIUSBYMEMBER_RO", RB_REDIS_READ, 0},
    {"GEOSEARCH", RB_REDIS_READ, 0},
    {"GET", RB_REDIS_READ, 0},
    {"GETBIT", RB_REDIS_READ, 0},
    {"GETDEL", RB_REDIS_WRITE, 0},
    {"GETEX", RB_REDIS_WRITE, 0},
    {"GETRANGE", RB_REDIS_READ, 0},
    {"GETSET", RB_REDIS_WRITE, 0},
    {"HDEL", RB_REDIS_WRITE, 0},
    {"HEXISTS", RB_REDIS_READ, 0},
    {"HGET", RB_REDIS_READ, 0},
    {"HGETALL", RB_REDIS_READ, 0},
    {"HINCRBY", RB_REDIS_WRITE, 0},
    {"HKEYS", RB_REDIS_READ, 0},
    {"HLEN", RB_REDIS_READ, 0},
    {"HMGET", RB_REDIS_READ, 0},
    {"HRANDFIELD", RB_REDIS_READ, 0},
    {"HSCAN", RB_REDIS_READ, 0},
    {"HSET", RB_REDIS_WRITE, 0},
    {"HSETNX", RB_REDIS_WRITE, 0},
    {"HSTRLEN", RB_REDIS_READ, 0},
    {"HVALS", RB_REDIS_READ, 0},
    {"INCR", RB_REDIS_WRITE, 0},
    {"INCRBY", RB_REDIS_WRITE, 0},
    {"INCRBYFLOAT", RB_REDIS_WRITE, 0},
    {"INFO", RB_REDIS_READ, 1},
    {"KEYS", RB_REDIS_WRITE, 0},
    {"LASTSAVE", RB_REDIS_READ, 1},
    {"LATENCY", RB_REDIS_CONTAINER, 0},
    {"LATENCY DOCTOR", RB_REDIS_READ, 1},
    {"LATENCY GRAPH", RB_REDIS_READ, 1},
    {"LATENCY HELP", RB_REDIS_READ, 0},
    {"LATENCY HISTOGRAM", RB_REDIS_READ, 1},
    {"LATENCY HISTORY", RB_REDIS_READ, 1},
    {"LATENCY LATEST", RB_REDIS_READ, 1},
    {"LATENCY RESET", RB_REDIS_WRITE, 0},
    {"LCS", RB_REDIS_READ, 0},
    {"LINDEX", RB_REDIS_READ, 0},
    {"LLEN", RB_REDIS_READ, 0},
    {"LPOP", RB_REDIS_WRITE, 0},
    {"LPOS", RB_REDIS_READ, 0},
    {"LPUSH", RB_REDIS_WRITE, 0},
    {"LRANGE", RB_REDIS_READ, 0},
    {"LREM", RB_REDIS_WRITE, 0},
    {"LSET", RB_REDIS_WRITE, 0},
    {"LTRIM", RB_REDIS_WRITE, 0},
    {"MEMORY", RB_REDIS_CONTAINER, 0},
    {"MEMORY DOCTOR", RB_REDIS_READ, 0},
    {"MEMORY HELP", RB_REDIS_READ, 0},
    {"MEMORY MALLOC-STATS", RB_REDIS_READ, 0},
    {"MEMORY PURGE", RB_REDIS_WRITE, 0},
    {"MEMORY STATS", RB_REDIS_READ, 0},
    {"MEMORY USAGE", RB_REDIS_READ, 0},
    {"MGET", RB_REDIS_READ, 0},
    {"MIGRATE", RB_REDIS_WRITE, 0},
    {"MODULE", RB_REDIS_CONTAINER, 0},
    {"MODULE LIST", RB_REDIS_READ, 1},
    {"MODULE LOAD", RB_REDIS_WRITE, 0},
    {"MODULE LOADEX", RB_REDIS_WRITE, 0},
    {"MODULE UNLOAD", RB_REDIS_WRITE, 0},
    {"MOVE", RB_REDIS_WRITE, 0},
    {"MSET", RB_REDIS_WRITE, 0},
    {"OBJECT", RB_REDIS_CONTAINER, 0},
    {"OBJECT ENCODING", RB_REDIS_READ, 0},
    {"OBJECT FREQ", RB_REDIS_READ, 0},
    {"OBJECT HELP", RB_REDIS_READ, 0},
    {"OBJECT IDLETIME", RB_REDIS_READ, 0},
    {"OBJECT REFCOUNT", RB_REDIS_READ, 0},
    {"PERSIST", RB_REDIS_WRITE, 0},
    {"PEXPIRE", RB_REDIS_WRITE, 0},
    {"PEXPIRETIME", RB_REDIS_READ, 0},
    {"PFADD", RB_REDIS_WRITE, 0},
    {"PFCOUNT", RB_REDIS_WRITE, 0},
    {"PFDEBUG", RB_REDIS_WRITE, 0},
    {"PFMERGE", RB_REDIS_WRITE, 0},
    {"PFSELFTEST", RB_REDIS_WRITE, 0},
    {"PING", RB_REDIS_READ, 0},
    {"PSETEX", RB_REDIS_WRITE, 0},
    {"PTTL", RB_REDIS_READ, 0},
    {"PUBLISH", RB_REDIS_WRITE, 0},
    {"PUBSUB", RB_REDIS_CONTAINER, 0},
    {"PUBSUB CHANNELS", RB_REDIS_READ, 1},
    {"PUBSUB HELP", RB_REDIS_READ, 0},
    {"PUBSUB NUMPAT", RB_REDIS_READ, 1},
    {"PUBSUB NUMSUB", RB_REDIS_READ, 1},
    {"PUBSUB SHARDCHANNELS", RB_REDIS_READ, 1},
    {"PUBSUB SHARDNUMSUB", RB_REDIS_READ, 1},
    {"RANDOMKEY", RB_REDIS_READ, 0},
    {"RENAME", RB_REDIS_WRITE, 0},
    {"REPLICAOF", RB_REDIS_WRITE, 0},
    {"RESTORE", RB_REDIS_WRITE, 0},
    {"ROLE", RB_REDIS_READ, 1},
    {"RPOP", RB_REDIS_WRITE, 0},
    {"RPUSH", RB_REDIS_WRITE, 0},
    {"SADD", RB_REDIS_WRITE, 0},
    {"SAVE", RB_REDIS_WRITE, 0},
    {"SCAN", RB_REDIS_READ, 0},
    {"SCARD", RB_REDIS_READ, 0},
    {"SCRIPT", RB_REDIS_CONTAINER, 0},
    {"SCRIPT EXISTS", RB_REDIS_READ, 1},
    {"SCRIPT FLUSH", RB_REDIS_WRITE, 0},
    {"SCRIPT HELP", RB_REDIS_READ, 1},
    {"SCRIPT KILL", RB_REDIS_WRITE, 0},
    {"SCRIPT LOAD", RB_REDIS_WRITE, 0},
    {"SDIFF", RB_REDIS_READ, 0},
    {"SET", RB_REDIS_WRITE, 0},
    {"SETEX", RB_REDIS_WRITE, 0},
    {"SETNX", RB_REDIS_WRITE, 0},
    {"SETRANGE", RB_REDIS_WRITE, 0},
    {"SHUTDOWN", RB_REDIS_WRITE, 0},
    {"SINTER", RB_REDIS_READ, 0},
    {"SINTERCARD", RB_REDIS_READ, 0},
    {"SISMEMBER", RB_REDIS_READ, 0},
    {"SLAVEOF", RB_REDIS_WRITE, 0},
    {"SLOWLOG", RB_REDIS_CONTAINER, 0},
    {"SLOWLOG GET", RB_REDIS_READ, 1},
    {"SLOWLOG HELP", RB_REDIS_READ, 0},
    {"SLOWLOG LEN", RB_REDIS_READ, 1},
    {"SLOWLOG RESET", RB_REDIS_WRITE, 0},
    {"SMEMBERS", RB_REDIS_READ, 0},
    {"SMISMEMBER", RB_REDIS_READ, 0},
    {"SMOVE", RB_REDIS_WRITE, 0},
    {"SORT", RB_REDIS_WRITE, 0},
    {"SORT_RO", RB_REDIS_WRITE, 0},
    {"SPOP", RB_REDIS_WRITE, 0},
    {"SPUBLISH", RB_REDIS_WRITE, 0},
    {"SRANDMEMBER", RB_REDIS_READ, 0},
    {"SREM", RB_REDIS_WRITE, 0},
    {"SSCAN", RB_REDIS_READ, 0},
    {"STRLEN", RB_REDIS_READ, 0},
    {"SUBSTR", RB_REDIS_READ, 0},
    {"SUNION", RB_REDIS_READ, 0},
    {"SWAPDB", RB_REDIS_WRITE, 0},
    {"TIME", RB_REDIS_READ, 0},
    {"TOUCH", RB_REDIS_READ, 0},
    {"TTL", RB_REDIS_READ, 0},
    {"TYPE", RB_REDIS_READ, 0},
    {"UNLINK", RB_REDIS_WRITE, 0},
    {"XADD", RB_REDIS_WRITE, 0},
    {"XDEL", RB_REDIS_WRITE, 0},
    {"XGROUP", RB_REDIS_CONTAINER, 0},
    {"XINFO", RB_REDIS_CONTAINER, 0},
    {"XINFO CONSUMERS", RB_REDIS_READ, 0},
    {"XINFO GROUPS", RB_REDIS_READ, 0},
    {"XINFO HELP", RB_REDIS_READ, 0},
    {"XINFO STREAM", RB_REDIS_READ, 0},
    {"XLEN", RB_REDIS_READ, 0},
    {"XPENDING", RB_REDIS_READ, 0},
    {"XRANGE", RB_REDIS_READ, 0},
    {"XREAD", RB_REDIS_READ, 0},
    {"XREVRANGE", RB_REDIS_READ, 0},
    {"XTRIM", RB_REDIS_WRITE, 0},
    {"ZADD", RB_REDIS_WRITE, 0},
    {"ZCARD", RB_REDIS_READ, 0},
    {"ZCOUNT", RB_REDIS_READ, 0},
    {"ZDIFF", RB_REDIS_READ, 0},
    {"ZINCRBY", RB_REDIS_WRITE, 0},
    {"ZINTER", RB_REDIS_READ, 0},
    {"ZINTERCARD", RB_REDIS_READ, 0},
    {"ZLEXCOUNT", RB_REDIS_READ, 0},
    {"ZMSCORE", RB_REDIS_READ, 0},
    {"ZRANDMEMBER", RB_REDIS_READ, 0},
    {"ZRANGE", RB_REDIS_READ, 0},
    {"ZRANGEBYLEX", RB_REDIS_READ, 0},
    {"ZRANGEBYSCORE", RB_REDIS_READ, 0},
    {"ZRANK", RB_REDIS_READ, 0},
    {"ZREM", RB_REDIS_WRITE, 0},
    {"ZREVRANGE", RB_REDIS_READ, 0},
    {"ZREVRANGEBYLEX", RB_REDIS_READ, 0},
    {"ZREVRANGEBYSCORE", RB_REDIS_READ, 0},
    {"ZREVRANK", RB_REDIS_READ, 0},
    {"ZSCAN", RB_REDIS_READ, 0},
    {"ZSCORE", RB_REDIS_READ, 0},
    {"ZUNION", RB_REDIS_READ, 0},
};

typedef struct { const char *name; const char *why; } refusal;

/* Commands that would change the connection behind the binding's back: the
 * reply stream (SUBSCRIBE, MONITOR, CLIENT REPLY), the protocol (HELLO 3:
 * hiredis 0.14 reads RESP2 only), or the identity and database that the
 * target and the reconnect logic rely on (AUTH, SELECT, RESET). */
static const refusal unsupported[] = {
    {"AUTH", "credentials go in the URL (redis://user:password@host)"},
    {"CLIENT REPLY", "replies must stay on for conn:call"},
    {"HELLO", "rb.redis speaks RESP2 (hiredis 0.14)"},
    {"MONITOR", "it turns the connection into a stream; use redis-cli monitor"},
    {"PSUBSCRIBE", "subscriptions turn the connection into a stream"},
    {"PSYNC", "replication streams are not commands"},
    {"PUNSUBSCRIBE", "subscriptions turn the connection into a stream"},
    {"QUIT", "use conn:close()"},
    {"RESET", "it drops AUTH and the database; open a new connection"},
    {"SELECT", "the database goes in the URL (redis://host:port/DB)"},
    {"SSUBSCRIBE", "subscriptions turn the connection into a stream"},
    {"SUBSCRIBE", "subscriptions turn the connection into a stream"},
    {"SUNSUBSCRIBE", "subscriptions turn the connection into a stream"},
    {"SYNC", "replication streams are not commands"},
    {"UNSUBSCRIBE", "subscriptions turn the connection into a stream"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int cmp_entry(const void *key, const void *e)
{
    return strcasecmp((const char *)key, ((const cmd_entry *)e)->name);
}

static int cmp_refusal(const void *key, const void *e)
{
    return strcasecmp((const char *)key, ((const refusal *)e)->name);
}

static const cmd_entry *find(const char *name)
{
    return bsearch(name, commands, COUNT(commands), sizeof commands[0], cmp_entry);
}

rb_redis_cmd_kind rb_redis_cmd_fallback(const char *name)
{
    const cmd_entry *e = find(name);
    return e ? e->kind : RB_REDIS_UNKNOWN;
}

int rb_redis_cmd_read_allowed(const char *name)
{
    const cmd_entry *e = find(name);
    return e && e->inspect;
}

const char *rb_redis_cmd_unsupported(const char *name)
{
    const refusal *r = bsearch(name, unsupported, COUNT(unsupported), sizeof unsupported[0], cmp_refusal);
    return r ? r->why : NULL;
}

static int is_word(const char *flag, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(flag, word, len) == 0;
}

void rb_redis_flags_add(rb_redis_flags *f, const char *flag, size_t len)
{
    static const char *const marks[] = {
        "write", "may_replicate", "admin", "pubsub", "@write", "@admin", "@dangerous",
    };
    for (size_t i = 0; i < COUNT(marks); i++)
        if (is_word(flag, len, marks[i])) f->write = 1;
    if (is_word(flag, len, "readonly")) f->readonly = 1;
    if (is_word(flag, len, "@scripting")) f->scripting = 1;
}

rb_redis_cmd_kind rb_redis_cmd_decide(const char *name, const rb_redis_flags *f)
{
    const cmd_entry *e = find(name);
    if (e && e->kind == RB_REDIS_WRITE) return RB_REDIS_WRITE;   /* the table is final for writes */
    if (e && e->inspect) return RB_REDIS_READ;
    if (f->write || (f->scripting && !f->readonly)) return RB_REDIS_WRITE;
    return e && e->kind == RB_REDIS_WRITE ? RB_REDIS_WRITE : RB_REDIS_READ;
}

int rb_redis_cmd_tables_sorted(void)
{
    for (size_t i = 1; i < COUNT(commands); i++)
        if (strcasecmp(commands[i - 1].name, commands[i].name) >= 0) return 0;
    for (size_t i = 1; i < COUNT(unsupported); i++)
        if (strcasecmp(unsupported[i - 1].name, unsupported[i].name) >= 0) return 0;
    return 1;
}

/* Commands whose effect depends on an argument after the name. */
int rb_redis_cmd_arg_writes(const char *name, const char *arg, size_t len)
{
    return strcasecmp(name, "ACL LOG") == 0 && len == 5 && strncasecmp(arg, "RESET", 5) == 0;
}
