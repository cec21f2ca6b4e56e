/* safefile.h — opening a file the engine writes (audit log, report, run
 * directory files) so that nobody else can redirect or read it.
 *
 * The rules, checked on what was actually opened (fstat of the descriptor):
 * - the file itself is never a symbolic link (O_NOFOLLOW), and a file that
 *   does not exist yet is created with O_EXCL, mode 0600;
 * - an existing file must be a regular file with one link, owned by the
 *   effective user, and not writable by group or others (like ssh with keys:
 *   "audit file X is writable by others (mode 0666): refusing; chmod 600 X");
 * - every directory on the way to it is owned by root or the user and not
 *   writable by group or others unless sticky (/tmp), and every symbolic link
 *   on the way is owned by root or the user: a link planted by someone else
 *   (a world-writable directory's "state -> /etc") is refused;
 * - a truncating open truncates only after these checks pass.
 * Pure C, no Lua. */
#ifndef RB_SAFEFILE_H
#define RB_SAFEFILE_H
#include <stddef.h>

typedef enum {
    RB_SAFE_TRUNCATE,   /* write from empty ("w") */
    RB_SAFE_APPEND,     /* O_APPEND, keep the content ("a") */
    RB_SAFE_RDAPPEND    /* O_APPEND and readable (the audit chain reads its last line) */
} rb_safe_mode;

/* Opens path for writing as above; `what` names the file in messages ("audit
 * file", "report"). mkdirs creates missing parent directories (0700).
 * Returns a descriptor (O_CLOEXEC), or -1 with a one-line reason in err. */
int rb_safefile_open(const char *path, rb_safe_mode mode, int mkdirs, const char *what,
                     char *err, size_t errsz);
#endif
