/* errors.h — operational errors as Lua values.
 *
 * Bindings return `nil, err` for failures of the world (refused connection,
 * timeout, SQL error); err is a table {kind = "...", message = "...", ...}
 * whose metatable ("rb.Error") has __tostring, so `assert(f())` prints the
 * message. Misuse (wrong argument types, a write in investigate) raises
 * instead. The message passes through the redactor before it is stored. */
#ifndef RB_ERRORS_H
#define RB_ERRORS_H
#include <lua.h>

/* Pushes a new error table with kind and a printf-formatted message (redacted). */
void rb_error_push(lua_State *L, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Pushes nil and a new error table; returns 2, for `return rb_error_return(...)`.
 * To add fields (sqlstate, status...), use rb_error_push, lua_setfield on it,
 * then lua_pushnil + lua_insert(L, -2) and return 2. */
int rb_error_return(lua_State *L, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err[field] = string (redacted) on the error table at index idx. */
void rb_error_setstr(lua_State *L, int idx, const char *field, const char *value);

/* Installs the rb.Error metatable; called once by the host. */
void rb_error_init(lua_State *L);
#endif
