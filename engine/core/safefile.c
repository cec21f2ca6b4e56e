/* safefile.c — open a file the engine writes without being redirected (see
 * safefile.h). The directory chain is checked twice: as given (symbolic
 * links must belong to root or the user) and as resolved (every real
 * directory must belong to root or the user and not be writable by others
 * unless sticky); the file is then opened relative to the resolved
 * directory's descriptor with O_NOFOLLOW, and judged by fstat of what was
 * opened, so a swap between the check and the open gains nothing. */
#include "core/safefile.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -1;
}

static int trusted_owner(uid_t uid) { return uid == 0 || uid == geteuid(); }

static const char *user_name(uid_t uid, char *buf, size_t n)
{
    struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name) snprintf(buf, n, "%s", pw->pw_name);
    else snprintf(buf, n, "uid %u", (unsigned)uid);
    return buf;
}

/* A directory nobody else can add, rename or remove entries in. */
static int check_dir_stat(const struct stat *st, const char *dir, const char *what, char *err, size_t errsz)
{
    char who[64];
    if (!S_ISDIR(st->st_mode))
        return refuse(err, errsz, "%s: %s is not a directory", what, dir);
    if (!trusted_owner(st->st_uid))
        return refuse(err, errsz, "%s: directory %s is owned by %s, not by you or root: refusing",
                      what, dir, user_name(st->st_uid, who, sizeof who));
    if ((st->st_mode & 022) && !(st->st_mode & S_ISVTX))
        return refuse(err, errsz, "%s: directory %s is writable by %s (mode %04o): refusing; chmod go-w %s",
                      what, dir, (st->st_mode & 002) ? "others" : "its group",
                      (unsigned)(st->st_mode & 07777), dir);
    return 0;
}

/* Calls fn on "/", "/a", "/a/b", ... up to and including abs. */
static int each_prefix(const char *abs, int (*fn)(const char *, const char *, char *, size_t),
                       const char *what, char *err, size_t errsz)
{
    char buf[PATH_MAX];
    size_t n = strlen(abs);
    if (n >= sizeof buf) return refuse(err, errsz, "%s: path too long", what);
    memcpy(buf, abs, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (i < n && buf[i] != '/') continue;
        char save = buf[i];
        buf[i] = 0;
        int rc = fn(buf, what, err, errsz);
        buf[i] = save;
        if (rc < 0) return -1;
    }
    return fn("/", what, err, errsz);
}

/* As given: a symbolic link on the way must be the user's or root's. */
static int check_link(const char *prefix, const char *what, char *err, size_t errsz)
{
    struct stat st;
    char who[64];
    if (lstat(prefix, &st) < 0)
        return refuse(err, errsz, "%s: %s: %s", what, prefix, strerror(errno));
    if (S_ISLNK(st.st_mode) && !trusted_owner(st.st_uid))
        return refuse(err, errsz, "%s: %s is a symbolic link owned by %s, not by you or root: refusing",
                      what, prefix, user_name(st.st_uid, who, sizeof who));
    return 0;
}

/* As resolved: every directory. */
static int check_real_dir(const char *prefix, const char *what, char *err, size_t errsz)
{
    struct stat st;
    if (stat(prefix, &st) < 0)
        return refuse(err, errsz, "%s: %s: %s", what, prefix, strerror(errno));
    return check_dir_stat(&st, prefix, what, err, errsz);
}

static int mkdirs(const char *dir)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char save = *p;
        *p = 0;
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
        if (!(*p = save)) return 0;
    }
}

/* Splits path into an absolute directory and a base name. */
static int split(const char *path, char *dir, size_t dirsz, const char **base, const char *what,
                 char *err, size_t errsz)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
        return refuse(err, errsz, "%s: %s does not name a file", what, path);
    char cwd[PATH_MAX] = "";
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return refuse(err, errsz, "%s: cannot read the current directory: %s", what, strerror(errno));
    int dlen = slash ? (int)(slash - path) : 0;
    int n = path[0] == '/' ? snprintf(dir, dirsz, "%.*s", dlen, path)
                           : snprintf(dir, dirsz, "%s%s%.*s", cwd, dlen ? "/" : "", dlen, path);
    if (n < 0 || (size_t)n >= dirsz) return refuse(err, errsz, "%s: path too long", what);
    if (!dir[0]) snprintf(dir, dirsz, "/");
    return 0;
}

/* Opens and checks the resolved directory; returns its descriptor. */
static int open_dir(const char *dir, int make, const char *what, char *err, size_t errsz)
{
    char real[PATH_MAX];
    if (make && mkdirs(dir) < 0)
        return refuse(err, errsz, "%s: cannot create %s: %s", what, dir, strerror(errno));
    if (each_prefix(dir, check_link, what, err, errsz) < 0) return -1;
    if (!realpath(dir, real))
        return refuse(err, errsz, "%s: %s: %s", what, dir, strerror(errno));
    if (each_prefix(real, check_real_dir, what, err, errsz) < 0) return -1;
    int dfd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (dfd < 0) return refuse(err, errsz, "%s: %s: %s", what, real, strerror(errno));
    if (fstat(dfd, &st) < 0 || check_dir_stat(&st, real, what, err, errsz) < 0) {
        if (!err[0]) refuse(err, errsz, "%s: %s: %s", what, real, strerror(errno));
        close(dfd);
        return -1;
    }
    return dfd;
}

/* Judges an existing file by what was opened. */
static int check_file(int fd, const char *path, const char *what, char *err, size_t errsz)
{
    struct stat st;
    char who[64], me[64];
    if (fstat(fd, &st) < 0)
        return refuse(err, errsz, "%s %s: %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return refuse(err, errsz, "%s %s is not a regular file: refusing", what, path);
    if (st.st_uid != geteuid())
        return refuse(err, errsz, "%s %s is owned by %s, not by you (%s): refusing", what, path,
                      user_name(st.st_uid, who, sizeof who), user_name(geteuid(), me, sizeof me));
    if (st.st_nlink > 1)
        return refuse(err, errsz, "%s %s has %lu hard links: refusing (another name could be read or "
                      "swapped)", what, path, (unsigned long)st.st_nlink);
    if (st.st_mode & 022)
        return refuse(err, errsz, "%s %s is writable by %s (mode %04o): refusing; chmod 600 %s", what, path,
                      (st.st_mode & 002) ? "others" : "its group", (unsigned)(st.st_mode & 07777), path);
    return 0;
}

static int open_in(int dfd, const char *base, const char *path, rb_safe_mode mode, const char *what,
                   char *err, size_t errsz)
{
    int flags = (mode == RB_SAFE_RDAPPEND ? O_RDWR : O_WRONLY) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    if (mode != RB_SAFE_TRUNCATE) flags |= O_APPEND;
    int fd = openat(dfd, base, flags | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) return fd;
    if (errno == EEXIST)  /* O_NONBLOCK: a planted FIFO must not hang us; refused below */
        fd = openat(dfd, base, flags | O_NONBLOCK);
    if (fd < 0 && errno == ELOOP)
        return refuse(err, errsz, "%s %s is a symbolic link: refusing (give the real path)", what, path);
    if (fd < 0 && errno == ENXIO)
        return refuse(err, errsz, "%s %s is not a regular file (a FIFO or socket): refusing", what, path);
    if (fd < 0)
        return refuse(err, errsz, "cannot open %s %s: %s", what, path, strerror(errno));
    if (check_file(fd, path, what, err, errsz) < 0 ||
        fcntl(fd, F_SETFL, flags & O_APPEND) < 0 ||
        (mode == RB_SAFE_TRUNCATE && ftruncate(fd, 0) < 0)) {
        if (!err[0]) refuse(err, errsz, "%s %s: %s", what, path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int rb_safefile_open(const char *path, rb_safe_mode mode, int make, const char *what,
                     char *err, size_t errsz)
{
    char dir[PATH_MAX];
    const char *base;
    err[0] = 0;
    if (!path || !*path) return refuse(err, errsz, "%s: empty path", what);
    if (split(path, dir, sizeof dir, &base, what, err, errsz) < 0) return -1;
    int dfd = open_dir(dir, make, what, err, errsz);
    if (dfd < 0) return -1;
    int fd = open_in(dfd, base, path, mode, what, err, errsz);
    close(dfd);
    return fd;
}
