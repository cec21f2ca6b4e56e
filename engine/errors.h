/* errors.h — operational errors as Lua values: the one error constructor.
 *
 * Bindings return `nil, err` for failures of the world (refused connection,
 * timeout, SQL error); err is a table {kind = "...", message = "...", ...}
 * whose metatable ("rb.Error") has __tostring, so `assert(f())` prints the
 * message. Misuse (wrong argument types, a write in investigate) raises
 * instead. The message and every string field pass through the redactor
 * before they are stored. C code uses rb_error_push / rb_error_return; Lua
 * code (the bindings' Lua halves, rb.json, runbooks) uses rb_error_new,
 * published as rb.json.error(kind, message, fields) — the same values. */
#ifndef RB_ERRORS_H
#define RB_ERRORS_H
#include <lua.h>

/* Pushes a new error table with kind and a printf-formatted message (redacted,
 * whole: no length cut). */
void rb_error_push(lua_State *L, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Pushes nil and a new error table; returns 2, for `return rb_error_return(...)`.
 * To add fields (sqlstate, status...), use rb_error_push, lua_setfield on it,
 * then lua_pushnil + lua_insert(L, -2) and return 2. */
int rb_error_return(lua_State *L, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err[field] = string (redacted) on the error table at index idx. */
void rb_error_setstr(lua_State *L, int idx, const char *field, const char *value);

/* lua_CFunction: error(kind, message [, fields]) -> err. kind is a lower-case
 * word ("config", "timeout", ...); fields (a table) adds members: strings are
 * redacted, other values kept; kind and message cannot be overridden. */
int rb_error_new(lua_State *L);

/* Installs the rb.Error metatable; called once per state by the host (and
 * on first use, should a state skip it). */
void rb_error_init(lua_State *L);
#endif
