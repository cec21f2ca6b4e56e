/* engine_load.c — loads the engine shared object embedded in the binary
 * (engine.h). The bytes are written to an anonymous memfd and dlopen'ed
 * through /proc/self/fd, so the binary stays one file that runs from any
 * directory; where /proc is missing a private temporary file is used. When
 * the engine is linked statically (unit tests), its entry is used directly. */
#include "engine.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern const rb_engine_entry rb_engine __attribute__((weak));
extern const unsigned char rb_engine_blob[] __attribute__((weak));
extern const unsigned char rb_engine_blob_end[] __attribute__((weak));

static const rb_engine_entry *loaded;

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Returns a dlopen handle for the embedded bytes, or NULL. */
static void *open_blob(char *err, size_t errsz)
{
    size_t n = (size_t)(rb_engine_blob_end - rb_engine_blob);
    char path[64];
    int fd = memfd_create("runbook-engine", MFD_CLOEXEC);
    int tmp = 0;
    if (fd >= 0) snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (fd < 0 || access(path, R_OK) != 0) {
        if (fd >= 0) close(fd);
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/runbook-engine.XXXXXX", dir && strlen(dir) < 30 ? dir : "/tmp");
        fd = mkstemp(path);
        tmp = 1;
    }
    if (fd < 0 || write_all(fd, rb_engine_blob, n) < 0) {
        snprintf(err, errsz, "cannot stage the engine library");
        if (fd >= 0) close(fd);
        return NULL;
    }
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h) snprintf(err, errsz, "cannot load the engine: %s", dlerror());
    if (tmp) unlink(path);
    close(fd);
    return h;
}

const rb_engine_entry *rb_engine_get(char *err, size_t errsz)
{
    if (loaded) return loaded;
    if (&rb_engine) return loaded = &rb_engine;
    if (!rb_engine_blob || !rb_engine_blob_end) {
        snprintf(err, errsz, "this binary has no engine library");
        return NULL;
    }
    void *h = open_blob(err, errsz);
    if (!h) return NULL;
    loaded = dlsym(h, "rb_engine");
    if (!loaded) snprintf(err, errsz, "engine library has no entry point");
    return loaded;
}

int rb_engine_loaded(void) { return loaded != NULL; }
