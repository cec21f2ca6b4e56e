/* test_serve_proc.c — core/proc.c, the processes `runbook serve` runs:
 * a child holds only stdin/stdout/stderr (a descriptor the parent left open
 * without close-on-exec, as a listening socket could be, is not inherited),
 * runs in a session of its own, writes to new 0600 files and refuses to
 * overwrite one; killing the group ends its grandchildren too; an exec
 * failure is reported by spawn, not as an exit status. */
#include "core/proc.h"
#include "tap.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/rb-proc-XXXXXX";

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return buf;
}

static int wait_for(pid_t want, int *code, int *sig)
{
    pid_t p;
    for (int i = 0; i < 1000; i++) {
        if (rb_proc_reap(&p, code, sig) && p == want) return 0;
        usleep(10000);
    }
    return -1;
}

/* gone or a zombie (killed; its new parent may not reap it at once) */
static int dead(int pid)
{
    char p[64], state = 0;
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    FILE *f = fopen(p, "r");
    if (!f) return 1;
    int n = fscanf(f, "%*d (%*[^)]) %c", &state);
    fclose(f);
    return n == 1 && (state == 'Z' || state == 'X');
}

static void path(char *out, const char *name) { snprintf(out, 256, "%s/%s", dir, name); }

int main(void)
{
    char out[256], err[256], msg[512];
    int code = -2, sig = -2;
    if (!mkdtemp(dir)) return 1;
    int leak = socket(AF_INET, SOCK_STREAM, 0);   /* no SOCK_CLOEXEC on purpose */
    TAP_OK(leak > 2, "a socket without close-on-exec is open in the parent");

    path(out, "fds.out"); path(err, "fds.err");
    char *ls[] = { "/bin/sh", "-c", "ls /proc/$$/fd | sort -n | tr '\\n' ' '; echo \"|$(ps -o sid= -p $$)\"", NULL };
    pid_t pid = rb_proc_spawn(ls, out, err, msg, sizeof msg);
    TAP_OK(pid > 0, "spawn starts /bin/sh");
    TAP_OK(wait_for(pid, &code, &sig) == 0 && code == 0 && sig == 0, "it is reaped with exit 0");
    char *text = slurp(out);
    text[strcspn(text, "\n")] = 0;
    TAP_OK(strncmp(text, "0 1 2 |", 7) == 0, "the child holds only fds 0, 1, 2 (got '%.30s')", text);
    char *bar = strchr(text, '|');
    int sid = bar ? atoi(bar + 1) : -1;
    TAP_OK(sid == pid, "the child leads a session of its own (sid %d, pid %d)", sid, (int)pid);
    struct stat st;
    TAP_OK(stat(out, &st) == 0 && (st.st_mode & 0777) == 0600, "its output file is 0600");

    pid = rb_proc_spawn(ls, out, err, msg, sizeof msg);
    TAP_OK(pid < 0 || (wait_for(pid, &code, &sig) == 0 && code == 127), "an existing output file is not overwritten");
    TAP_OK(strncmp(slurp(out), "0 1 2 |", 7) == 0, "... and keeps its content");

    path(out, "grand.out"); path(err, "grand.err");
    char *tree[] = { "/bin/sh", "-c", "sleep 30 & echo $! ; wait", NULL };
    pid = rb_proc_spawn(tree, out, err, msg, sizeof msg);
    usleep(300000);
    int grand = atoi(slurp(out));
    TAP_OK(grand > 0 && !dead(grand), "a grandchild runs (%d)", grand);
    TAP_EQ_INT(rb_proc_kill_group(pid, SIGKILL), 0, "kill_group sends to the group");
    TAP_OK(wait_for(pid, &code, &sig) == 0 && sig == SIGKILL && code == -1, "the child ends by SIGKILL");
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = dead(grand);
        if (!gone) usleep(10000);
    }
    TAP_OK(gone, "the grandchild is gone too");
    TAP_OK(rb_proc_kill_group(1, SIGTERM) < 0 && rb_proc_kill_group(0, SIGTERM) < 0, "pid 0 and 1 are refused");

    path(out, "none.out"); path(err, "none.err");
    char *none[] = { "/nonexistent/runbook", NULL };
    TAP_OK(rb_proc_spawn(none, out, err, msg, sizeof msg) < 0 && strstr(msg, "cannot start /nonexistent/runbook"),
           "an exec failure is reported by spawn (%s)", msg);
    TAP_OK(!rb_proc_reap(&pid, &code, &sig), "and leaves no child to reap");
    close(leak);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return TAP_DONE();
}
