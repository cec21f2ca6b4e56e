/* test_redact_memory.c — memory that holds secrets: the process becomes
 * non-dumpable when the first secret is registered (no core file, no
 * ptrace or /proc/PID/mem by the user's other processes), not before; and
 * a child that crashes afterwards leaves no core file behind. Sanitizer
 * builds stay dumpable (LeakSanitizer uses ptrace): those checks are skipped. */
#include "redact.h"
#include "tap.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

int main(void)
{
    TAP_EQ_INT(prctl(PR_GET_DUMPABLE), 1, "dumpable before any secret is known");
    rb_redact_add("ab", 2);
    TAP_EQ_INT(prctl(PR_GET_DUMPABLE), 1, "a string too short to be a secret changes nothing");
#ifdef SANITIZED
    TAP_OK(1, "# skip non-dumpable: sanitizer build");
#else
    rb_redact_add("hunter2-CANARY", 14);
    TAP_EQ_INT(prctl(PR_GET_DUMPABLE), 0, "registering a secret makes the process non-dumpable");
    char dir[] = "/tmp/rb-test-core.XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
        setrlimit(RLIMIT_CORE, &rl);
        abort();
    }
    int st = 0;
    waitpid(pid, &st, 0);
    TAP_OK(WIFSIGNALED(st) && !WCOREDUMP(st), "a child that aborts with the secret in memory dumps no core");
    if (chdir("/") != 0 || system("true") != 0) return 1;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
#endif
    char *buf = malloc(32);
    memcpy(buf, "wipe-me", 8);
    rb_wipe_free(buf, 32);
    rb_wipe_free(NULL, 0);
    TAP_OK(1, "rb_wipe_free takes a buffer and NULL");
    rb_redact_reset();
    char *out = rb_redact("hunter2-CANARY", 14, NULL);
    TAP_EQ_STR(out, "hunter2-CANARY", "reset forgets (and wipes) every secret");
    free(out);
    return TAP_DONE();
}
