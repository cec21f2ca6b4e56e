/* proc.c — spawning, reaping and stopping the investigation processes of
 * `runbook serve` (proc.h). */
#include "core/proc.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_UNSHARE
#include <linux/close_range.h>
#endif
#include <sys/syscall.h>

static int open_out(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* In the child: a session of its own, the three standard descriptors, nothing
 * else, then exec. On failure writes errno to the report pipe. */
static void child(char *const argv[], const char *out_path, const char *err_path, int report)
{
    int e = 0;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (setsid() < 0) e = errno;
    int in = e ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open_out(out_path);
    int err = out < 0 ? -1 : open_out(err_path);
    if (!e && err < 0) e = errno;
    if (!e && (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)) e = errno;
    if (!e) {
        /* everything above the report pipe is closed; the pipe itself is close-on-exec */
        for (int fd = 3; fd < report; fd++) close(fd);
        syscall(SYS_close_range, (unsigned)report + 1, ~0U, 0);
        execv(argv[0], argv);
        e = errno;
    }
    ssize_t w = write(report, &e, sizeof e);
    (void)w;
    _exit(127);
}

pid_t rb_proc_spawn(char *const argv[], const char *out_path, const char *err_path,
                    char *err, size_t errsz)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { snprintf(err, errsz, "pipe: %s", strerror(errno)); return -1; }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) { close(p[0]); child(argv, out_path, err_path, p[1]); }
    close(p[1]);
    int e = 0;
    ssize_t n;
    do n = read(p[0], &e, sizeof e); while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof e) {
        snprintf(err, errsz, "cannot start %s: %s", argv[0], strerror(e));
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

int rb_proc_reap(pid_t *pid, int *code, int *sig)
{
    int st;
    pid_t p;
    do p = waitpid(-1, &st, WNOHANG); while (p < 0 && errno == EINTR);
    if (p <= 0) return 0;
    *pid = p;
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return 1;
}

int rb_proc_kill_group(pid_t pid, int sig)
{
    if (pid <= 1) { errno = EINVAL; return -1; }
    return kill(-pid, sig);
}
