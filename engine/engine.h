/* engine.h — the boundary between the host in the runbook binary
 * (engine/host/: main.c, state.c, engine_load.c and the embedded Lua library)
 * and the engine proper (gate, audit, redactor, every binding), which links
 * libcurl, libpq, hiredis, libyaml, OpenSSL and zlib. The engine is a shared
 * object installed beside the binary (PREFIX/lib/runbook/engine.so, or
 * build/engine.so in a source tree) and loaded the first time a module of it
 * is used, so commands that only read runbooks (list, show, check, --help)
 * start without loading 35 shared libraries. It is built with
 * -fvisibility=hidden and exports one symbol, rb_engine. Unit tests link it
 * statically. */
#ifndef RB_ENGINE_H
#define RB_ENGINE_H
#include <lua.h>
#include <stddef.h>

typedef struct { const char *name; lua_CFunction open; } rb_module;

/* Bumped whenever rb_engine_entry changes: a binary refuses an engine.so
 * built against another layout (a half-finished upgrade) instead of
 * calling through the wrong pointers. */
#define RB_ENGINE_ABI 1
/* The one symbol engine.so exports. */
#define RB_ENGINE_EXPORT __attribute__((visibility("default")))

typedef struct {
    int abi;                                  /* RB_ENGINE_ABI */
    const rb_module *modules;                 /* NULL-terminated */
    void (*init)(lua_State *L);               /* once per state */
    char *(*redact)(const char *s, size_t len, size_t *outlen);
} rb_engine_entry;

/* Names of the engine's modules ("rb.http", "rb._gate", ...), known to the
 * core without loading the engine (generated; NULL-terminated). */
extern const char *const rb_module_names[];

/* The engine, loaded on first call; NULL with a message in err on failure
 * (which file was looked for, or what dlopen said was missing). */
const rb_engine_entry *rb_engine_get(char *err, size_t errsz);
/* Non-zero once the engine is loaded. */
int rb_engine_loaded(void);
#endif
