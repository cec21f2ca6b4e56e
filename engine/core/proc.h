/* proc.h — child processes for `runbook serve`: each investigation runs as a
 * process of its own, in a session (and process group) of its own, so a crash
 * or hang of one run cannot take the server down and a time limit can stop
 * the whole group. Plain C, no Lua.
 *
 * The child gets stdin from /dev/null, stdout and stderr in new files
 * (O_EXCL|O_NOFOLLOW, 0600) and no other descriptor: everything from 3 up is
 * closed before exec, so a worker never inherits the listening socket. */
#ifndef RB_PROC_H
#define RB_PROC_H
#include <stddef.h>
#include <sys/types.h>

/* Starts argv[0] (a path) with argv. Returns the pid, or -1 with a message
 * in err (exec failures are reported here too, through a close-on-exec pipe). */
pid_t rb_proc_spawn(char *const argv[], const char *out_path, const char *err_path,
                    char *err, size_t errsz);

/* Reaps one finished child without blocking. Returns 1 and fills pid and
 * either *code (exit status) or *sig (terminating signal; *code = -1), or 0
 * when no child has finished. */
int rb_proc_reap(pid_t *pid, int *code, int *sig);

/* Sends sig to the child's whole process group. 0 or -1 (errno). */
int rb_proc_kill_group(pid_t pid, int sig);
#endif
