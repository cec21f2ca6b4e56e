/* world_tag.h — how the gate tells runbook code from the engine's own code.
 *
 * Runbook code (section files, book lib/ modules, step functions and all they
 * create) runs in a lua_State of its own, a "world" (engine/host/world.c).
 * The world's main thread carries a pointer to its tag in the state's extra
 * space; Lua copies that space into every coroutine created from it, so any
 * lua_State a binding is called with says whether the caller is runbook code
 * and, if so, which mode the engine opened for it. The mode is written only
 * by the engine (world.c) around one step call and is RB_MODE_LOAD (no I/O)
 * at every other moment: while files load, between steps, in finalizers. */
#ifndef RB_WORLD_TAG_H
#define RB_WORLD_TAG_H
#include <lua.h>

#define RB_WORLD_MAGIC 0x57524c44u

typedef struct {
    unsigned magic;
    int mode;            /* an rb_mode (gate.h); RB_MODE_LOAD outside a step window */
} rb_world_tag;

/* The tag of the world L belongs to, or NULL for the engine's own state. */
static inline rb_world_tag *rb_world_tag_of(lua_State *L)
{
    rb_world_tag *t = *(rb_world_tag **)lua_getextraspace(L);
    return t && t->magic == RB_WORLD_MAGIC ? t : NULL;
}
#endif
