/* box.c — to-be-closed boxes for C memory (see box.h). */
#include "box.h"
#include <lauxlib.h>
#include <stddef.h>

static char box_mt;  /* registry key: the metatable of every box */

static int box_release(lua_State *L)
{
    rb_box *b = lua_touserdata(L, 1);
    if (b && b->ptr && b->release) b->release(b->ptr);
    if (b) b->ptr = NULL;
    return 0;
}

rb_box *rb_box_push(lua_State *L, void (*release)(void *))
{
    rb_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->ptr = NULL;
    b->release = release;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &box_mt) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 3);
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__close");
        lua_pushliteral(L, "rb.box");
        lua_setfield(L, -2, "__name");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &box_mt);
    }
    lua_setmetatable(L, -2);
    lua_toclose(L, -1);
    return b;
}

void *rb_box_take(rb_box *b)
{
    void *p = b->ptr;
    b->ptr = NULL;
    return p;
}
