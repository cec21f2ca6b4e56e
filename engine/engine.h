/* engine.h — the boundary between the core in the runbook binary (main.c,
 * state.c, engine_load.c and the embedded Lua library) and the engine proper
 * (gate, audit, redactor, every binding), which links libcurl, libpq,
 * hiredis, libyaml, OpenSSL and zlib. The engine is built as a shared object
 * embedded in the binary and loaded the first time a module of it is used,
 * so commands that only read runbooks (list, show, check, --help) start
 * without loading 35 shared libraries. Unit tests link it statically. */
#ifndef RB_ENGINE_H
#define RB_ENGINE_H
#include <lua.h>
#include <stddef.h>

typedef struct { const char *name; lua_CFunction open; } rb_module;

typedef struct {
    const rb_module *modules;                 /* NULL-terminated */
    void (*init)(lua_State *L);               /* once per state */
    char *(*redact)(const char *s, size_t len, size_t *outlen);
} rb_engine_entry;

/* Names of the engine's modules ("rb.http", "rb._gate", ...), known to the
 * core without loading the engine (generated; NULL-terminated). */
extern const char *const rb_module_names[];

/* The engine, loaded on first call; NULL with a message in err on failure. */
const rb_engine_entry *rb_engine_get(char *err, size_t errsz);
/* Non-zero once the engine is loaded. */
int rb_engine_loaded(void);
#endif
