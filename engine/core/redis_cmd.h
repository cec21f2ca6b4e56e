/* redis_cmd.h — what a Redis command does to the server: read or write (pure C).
 *
 * rb.redis learns each command's flags from the server (COMMAND INFO) and
 * decides with rb_redis_flag_marks_write() and rb_redis_cmd_read_allowed();
 * when COMMAND is unavailable (renamed, ACL, old server) it falls back to the
 * static table here. Names are upper case, subcommands after one space:
 * "GET", "CONFIG SET" (COMMAND INFO spells them "config|set").
 *
 * The rule (docs/lua/redis.md):
 *   write  for every script (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL,
 *          FCALL_RO, SCRIPT LOAD/FLUSH/KILL, FUNCTION LOAD/DELETE/FLUSH/
 *          RESTORE/KILL) and every administrative sub-command that changes
 *          server state (SLOWLOG RESET, LATENCY RESET, MEMORY PURGE, CLIENT
 *          KILL/PAUSE/..., CONFIG SET/RESETSTAT/REWRITE, ACL SETUSER/...,
 *          ACL LOG RESET, MODULE LOAD, FAILOVER, SHUTDOWN, ...) whatever
 *          COMMAND INFO says: the static table's writes are final;
 *   write  if the flags hold write, may_replicate, admin or pubsub, or the ACL
 *          categories hold @write, @admin or @dangerous, or @scripting without
 *          the readonly flag (EVAL, FCALL), or the static table knows the
 *          command as a write that Redis does not flag (SCRIPT FLUSH,
 *          SCRIPT LOAD, MEMORY PURGE);
 *   read   otherwise, and for the inspection commands that Redis flags admin
 *          or dangerous although they change nothing (INFO, CONFIG GET,
 *          SLOWLOG GET, CLIENT LIST, LATENCY LATEST, ...): the allow-list;
 *   write  for anything unknown (fail closed). */
#ifndef RB_REDIS_CMD_H
#define RB_REDIS_CMD_H
#include <stddef.h>

typedef enum {
    RB_REDIS_READ = 0,
    RB_REDIS_WRITE = 1,
    RB_REDIS_CONTAINER = 2,   /* the effect depends on the subcommand */
    RB_REDIS_UNKNOWN = 3      /* not in the table: callers treat it as a write */
} rb_redis_cmd_kind;

/* Static table: the kind of "GET", "CONFIG", "CONFIG GET" (case-insensitive). */
rb_redis_cmd_kind rb_redis_cmd_fallback(const char *name);

/* What COMMAND INFO says about one command, flag by flag. */
typedef struct {
    int write;      /* write, may_replicate, admin, pubsub, @write, @admin, @dangerous */
    int readonly;   /* readonly */
    int scripting;  /* @scripting: scripts can write unless flagged readonly */
} rb_redis_flags;

/* Notes one flag or ACL category ("write", "@admin") in *f. */
void rb_redis_flags_add(rb_redis_flags *f, const char *flag, size_t len);

/* The kind of name from its server flags: write if the flags say so, if it
 * is a script not flagged readonly (EVAL, FCALL), or if the static table
 * knows it as a write that Redis does not flag (SCRIPT FLUSH, MEMORY PURGE);
 * read if on the inspection allow-list; otherwise read. */
rb_redis_cmd_kind rb_redis_cmd_decide(const char *name, const rb_redis_flags *f);

/* 1 if the argument after name makes it a write ("ACL LOG" "RESET"). */
int rb_redis_cmd_arg_writes(const char *name, const char *arg, size_t len);

/* 1 if name is an inspection command that is a read whatever its flags. */
int rb_redis_cmd_read_allowed(const char *name);

/* Non-NULL (the reason) if conn:call must refuse name because it changes the
 * connection's protocol state behind the binding's back. */
const char *rb_redis_cmd_unsupported(const char *name);

/* For tests: 1 if the static tables are sorted (bsearch needs it). */
int rb_redis_cmd_tables_sorted(void);
#endif
