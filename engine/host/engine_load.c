/* engine_load.c — finds and loads the engine shared object (engine.h) from
 * the file installed beside the binary: PREFIX/lib/runbook/engine.so for
 * PREFIX/bin/runbook, else engine.so in the binary's own directory (a source
 * tree: build/runbook and build/engine.so). The binary's path is read from
 * /proc/self/exe, which the kernel gives with every symlink resolved, so a
 * link to the binary elsewhere still finds the engine of the real install.
 * dlopen with RTLD_NOW: a library the engine needs that is missing fails
 * here, at the first use of a binding, with dlopen's message naming it, not
 * later in the middle of a step. Loading from a file on disk lets debuggers,
 * sanitizers, perf and packaging tools see the engine and what it links.
 * When the engine is linked statically (unit tests), its entry is used. */
#include "engine.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern const rb_engine_entry rb_engine __attribute__((weak));

static const rb_engine_entry *loaded;

/* The directory of the running binary into dir (no trailing slash). */
static int exe_dir(char *dir, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", dir, n - 1);
    if (len <= 0 || (size_t)len >= n - 1) return -1;
    dir[len] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash) return -1;
    *slash = '\0';
    return 0;
}

/* The engine's path into path: the first candidate that exists. On failure
 * err names every place looked at. */
static int find_engine(char *path, size_t n, char *err, size_t errsz)
{
    char dir[PATH_MAX];
    if (exe_dir(dir, sizeof dir) != 0) {
        snprintf(err, errsz, "cannot find the engine library: /proc/self/exe is unreadable");
        return -1;
    }
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%s", dir);
    char *slash = strrchr(prefix, '/');
    if (slash) *slash = '\0';            /* PREFIX/bin -> PREFIX ("/bin" -> "") */
    char installed[PATH_MAX + 32], beside[PATH_MAX + 16];
    snprintf(installed, sizeof installed, "%s/lib/runbook/engine.so", prefix);
    snprintf(beside, sizeof beside, "%s/engine.so", dir);
    const char *cand[] = {installed, beside};
    for (size_t i = 0; i < sizeof cand / sizeof *cand; i++) {
        if (access(cand[i], F_OK) == 0 && strlen(cand[i]) < n) {
            snprintf(path, n, "%s", cand[i]);
            return 0;
        }
    }
    snprintf(err, errsz, "engine library not found: looked for %s and %s "
             "(build it with `make`, or install with `make install`)", installed, beside);
    return -1;
}

static const rb_engine_entry *open_engine(const char *path, char *err, size_t errsz)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errsz, "cannot load the engine library: %s", dlerror());
        return NULL;
    }
    const rb_engine_entry *en = dlsym(h, "rb_engine");
    if (!en) {
        snprintf(err, errsz, "%s is not a runbook engine (no rb_engine symbol)", path);
        dlclose(h);
        return NULL;
    }
    if (en->abi != RB_ENGINE_ABI) {
        snprintf(err, errsz, "%s is built for another runbook (engine interface %d, this binary %d): "
                 "install the binary and the engine together", path, en->abi, RB_ENGINE_ABI);
        dlclose(h);
        return NULL;
    }
    return en;
}

const rb_engine_entry *rb_engine_get(char *err, size_t errsz)
{
    if (loaded) return loaded;
    if (&rb_engine) return loaded = &rb_engine;
    char path[PATH_MAX];
    if (find_engine(path, sizeof path, err, errsz) != 0) return NULL;
    return loaded = open_engine(path, err, errsz);
}

int rb_engine_loaded(void) { return loaded != NULL; }
