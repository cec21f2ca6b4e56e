/* strmatch.h — Lua 5.4's pattern functions (string.find, match, gmatch,
 * gsub) for runbook worlds, with the same syntax and results, that can be
 * stopped.
 *
 * Lua's own matcher runs in C without ever reaching a hook: a backtracking
 * pattern (("a"):rep(1e5):find(".-.-.-b")) or a plain find of a long needle
 * keeps the CPU for hours, past the world's load limit and past Ctrl-C. This
 * one calls poll(L) every few thousand steps; poll raises to stop it (a file
 * loading too long, an interrupt). A plain find uses memmem (linear). */
#ifndef RB_STRMATCH_H
#define RB_STRMATCH_H
#include <lua.h>

/* Pushes a table {find, match, gmatch, gsub}; poll is called with the
 * calling state while a match runs and may raise. */
void rb_strmatch_push(lua_State *L, void (*poll)(lua_State *L));
#endif
