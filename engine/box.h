/* box.h — C memory held across Lua calls that may raise (the pattern of
 * lauxlib's UBox): a userdata owning one pointer and the function that frees
 * it, with one idempotent release for __gc and __close, marked to-be-closed
 * (lua_toclose) the moment it is pushed. The memory is therefore freed when
 * the C function returns OR raises, never later and never twice:
 *
 *     rb_box *b = rb_box_push(L, rb_pprof_free);   // on the stack until return
 *     b->ptr = rb_pprof_parse(...);                // owned by the box
 *     ... lua_* calls that may raise ...
 *     return 1;                                    // results above the box
 *
 * rb_box_take() hands the pointer over (e.g. to a longer-lived userdata).
 * The box's stack slot must stay where it is until the function returns. */
#ifndef RB_BOX_H
#define RB_BOX_H
#include <lua.h>

typedef struct {
    void *ptr;
    void (*release)(void *);
} rb_box;

/* Pushes an empty box that will call release(ptr) (if ptr is set). */
rb_box *rb_box_push(lua_State *L, void (*release)(void *));

/* The constructor under boxes and gate tickets: pushes a zeroed userdata of
 * size bytes whose metatable (kept in the registry under key, made once; its
 * name also protects it from getmetatable) calls close for __gc and __close,
 * and marks it to-be-closed. close must be idempotent. */
void *rb_tbc_new(lua_State *L, size_t size, void *key, lua_CFunction close, const char *name);

/* Returns ptr and empties the box. */
void *rb_box_take(rb_box *b);
#endif
