/* test_audit_files.c — files the engine writes (core/safefile.h, used by the
 * audit writer): each redirection a local attacker could plant is refused
 * AND the file it aimed at is unchanged; invalid UTF-8 in an event is
 * escaped so every line is strict JSON and the chain still verifies.
 * Foreign ownership needs root (chown to nobody); those cases are skipped,
 * with a passing "skip" line, when the test does not run as root. */
#include "audit.h"
#include "core/safefile.h"
#include "tap.h"
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/rb-test-safefile.XXXXXX";
static char victim[600];
static const char VICTIM_TEXT[] = "precious: must not change\n";

static const char *at(const char *name)
{
    static char buf[4][600];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) perror(path);
    if (fd >= 0) close(fd);
    chmod(path, mode);
}

static int victim_intact(void)
{
    char buf[256] = "";
    int fd = open(victim, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    return n == (ssize_t)strlen(VICTIM_TEXT) && memcmp(buf, VICTIM_TEXT, (size_t)n) == 0;
}

/* Opens path, expecting a refusal that mentions `why`; the victim unchanged. */
static void refused(const char *path, rb_safe_mode mode, const char *why, const char *name)
{
    char err[512] = "";
    int fd = rb_safefile_open(path, mode, 0, "report", err, sizeof err);
    if (fd >= 0) { if (write(fd, "X", 1) < 0) perror("write"); close(fd); }
    TAP_OK(fd < 0 && strstr(err, why), "%s is refused: %s", name, err);
    TAP_OK(victim_intact(), "%s: the target file is unchanged", name);
}

static void test_create_and_modes(void)
{
    char err[512];
    int fd = rb_safefile_open(at("new/sub/report.md"), RB_SAFE_TRUNCATE, 1, "report", err, sizeof err);
    struct stat st;
    TAP_OK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600, "a new file is created 0600");
    TAP_OK(stat(at("new/sub"), &st) == 0 && (st.st_mode & 0777) == 0700, "missing directories are created 0700");
    if (fd >= 0) { if (write(fd, "one\n", 4) < 0) perror("write"); close(fd); }
    fd = rb_safefile_open(at("new/sub/report.md"), RB_SAFE_APPEND, 0, "report", err, sizeof err);
    if (fd >= 0) { if (write(fd, "two\n", 4) < 0) perror("write"); close(fd); }
    TAP_OK(stat(at("new/sub/report.md"), &st) == 0 && st.st_size == 8, "append keeps what was there");
    fd = rb_safefile_open(at("new/sub/report.md"), RB_SAFE_TRUNCATE, 0, "report", err, sizeof err);
    if (fd >= 0) close(fd);
    TAP_OK(stat(at("new/sub/report.md"), &st) == 0 && st.st_size == 0, "truncate empties the user's own file");
    TAP_OK(rb_safefile_open(at("nodir/x"), RB_SAFE_APPEND, 0, "report", err, sizeof err) < 0 &&
           strstr(err, "No such file"), "a missing directory without mkdirs is an error: %s", err);
}

static void test_redirections(void)
{
    if (symlink(victim, at("link.md")) < 0) perror("symlink");
    refused(at("link.md"), RB_SAFE_TRUNCATE, "is a symbolic link: refusing", "a symlink to another file (w)");
    refused(at("link.md"), RB_SAFE_APPEND, "is a symbolic link: refusing", "a symlink to another file (a)");

    write_text(at("open.jsonl"), VICTIM_TEXT, 0666);
    strcpy(victim, at("open.jsonl"));
    refused(victim, RB_SAFE_TRUNCATE, "is writable by others (mode 0666): refusing; chmod 600", "a mode 0666 file");
    chmod(victim, 0620);
    refused(victim, RB_SAFE_APPEND, "is writable by its group (mode 0620)", "a group-writable file");

    strcpy(victim, at("victim.txt"));
    if (link(victim, at("hard.md")) < 0) perror("link");
    refused(at("hard.md"), RB_SAFE_TRUNCATE, "hard links", "a hard link to another file");

    if (mkfifo(at("fifo.md"), 0600) < 0) perror("mkfifo");
    alarm(5);  /* a FIFO must not hang the open */
    refused(at("fifo.md"), RB_SAFE_APPEND, "not a regular file", "a planted FIFO");
    alarm(0);

    mkdir(at("wide"), 0777);
    chmod(at("wide"), 0777);
    refused(at("wide/report.md"), RB_SAFE_TRUNCATE, "directory", "a file in a world-writable, non-sticky directory");
}

static void test_foreign(void)
{
    struct passwd *nobody = getpwnam("nobody");
    if (geteuid() != 0 || !nobody) {
        TAP_OK(1, "# skip foreign ownership: not root or no user nobody");
        return;
    }
    write_text(at("theirs.jsonl"), VICTIM_TEXT, 0600);
    if (chown(at("theirs.jsonl"), nobody->pw_uid, nobody->pw_gid) < 0) perror("chown");
    strcpy(victim, at("theirs.jsonl"));
    refused(victim, RB_SAFE_RDAPPEND, "is owned by nobody, not by you", "a file owned by nobody");
    char err[512];
    TAP_OK(rb_audit_append(victim, "\"event\":\"x\"", 11, 0, err, sizeof err) < 0 &&
           strstr(err, "audit file"), "the audit writer refuses it too: %s", err);
    TAP_OK(victim_intact(), "and the foreign audit file is unchanged");

    /* a world-writable sticky directory (like /tmp) where nobody planted state -> our dir */
    strcpy(victim, at("victim.txt"));
    mkdir(at("sticky"), 01777);
    chmod(at("sticky"), 01777);
    mkdir(at("mine"), 0700);
    write_text(at("mine/audit.jsonl"), VICTIM_TEXT, 0600);
    strcpy(victim, at("mine/audit.jsonl"));
    if (symlink(at("mine"), at("sticky/state")) < 0 || lchown(at("sticky/state"), nobody->pw_uid, nobody->pw_gid) < 0)
        perror("planted link");
    refused(at("sticky/state/audit.jsonl"), RB_SAFE_RDAPPEND, "symbolic link owned by nobody",
            "a directory link planted by another user");

    mkdir(at("theirdir"), 0755);
    if (chown(at("theirdir"), nobody->pw_uid, nobody->pw_gid) < 0) perror("chown dir");
    char err2[512];
    TAP_OK(rb_safefile_open(at("theirdir/r.md"), RB_SAFE_TRUNCATE, 0, "report", err2, sizeof err2) < 0 &&
           strstr(err2, "owned by nobody"), "a directory owned by another user is refused: %s", err2);
}

static void test_utf8(void)
{
    char err[512];
    const char *p = at("utf8.jsonl");
    /* invalid: lone continuation, overlong '/', a UTF-16 surrogate, a cut sequence; valid: é and an emoji */
    const char m[] = "\"event\":\"note\",\"text\":\"a\x80 b\xc0\xaf c\xed\xa0\x80 \xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\"";
    TAP_OK(rb_audit_append(p, m, sizeof m - 1, 0, err, sizeof err) == 0, "an event with invalid UTF-8 is written");
    char line[1024] = "";
    FILE *f = fopen(p, "r");
    if (f) { if (!fgets(line, sizeof line, f)) line[0] = 0; fclose(f); }
    TAP_OK(strstr(line, "a\\\\x80 b\\\\xc0\\\\xaf c\\\\xed\\\\xa0\\\\x80 \xc3\xa9 \xf0\x9f\x98\x80 \\\\xe2\\\\x82\""),
           "each invalid byte is written as \\\\xHH, valid UTF-8 is kept");
    long n, bad;
    char why[256];
    TAP_EQ_INT(rb_audit_verify(p, &n, &bad, why, sizeof why), 0, "the chain still verifies");
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    strcpy(victim, at("victim.txt"));
    write_text(victim, VICTIM_TEXT, 0600);
    test_create_and_modes();
    test_redirections();
    test_foreign();
    test_utf8();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return TAP_DONE();
}
