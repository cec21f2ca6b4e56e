/* box.c — to-be-closed boxes for C memory (see box.h). */
#include "box.h"
#include <lauxlib.h>
#include <stddef.h>
#include <string.h>

static char box_mt;  /* registry key: the metatable of every box */

static int box_release(lua_State *L)
{
    rb_box *b = lua_touserdata(L, 1);
    if (b && b->ptr && b->release) b->release(b->ptr);
    if (b) b->ptr = NULL;
    return 0;
}

void *rb_tbc_new(lua_State *L, size_t size, void *key, lua_CFunction close, const char *name)
{
    void *u = lua_newuserdatauv(L, size, 0);
    memset(u, 0, size);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__close");
        lua_pushstring(L, name);
        lua_setfield(L, -2, "__name");
        lua_pushstring(L, name);
        lua_setfield(L, -2, "__metatable");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, key);
    }
    lua_setmetatable(L, -2);
    lua_toclose(L, -1);
    return u;
}

rb_box *rb_box_push(lua_State *L, void (*release)(void *))
{
    rb_box *b = rb_tbc_new(L, sizeof *b, &box_mt, box_release, "rb.box");
    b->release = release;
    return b;
}

void *rb_box_take(rb_box *b)
{
    void *p = b->ptr;
    b->ptr = NULL;
    return p;
}
