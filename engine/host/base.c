/* base.c — rb._base, what rb.lua needs from the engine in every state:
 *   target(name) -> value | nil   a target of the run (--env/--config)
 *   set_targets(t)                the engine sets them; refused from a runbook world
 *   sleep_ms(ms)                  a wait that a signal ends early
 * Targets are kept in a small private lua_State of their own and copied out
 * (xfer.c) on each read, so every world and the engine see the same values
 * and none of them can change what the others read. */
#include "world.h"
#include "world_tag.h"
#include "xfer.h"
#include <lauxlib.h>
#include <time.h>

static lua_State *targets;   /* holds one table at index 1 */

static int base_set_targets(lua_State *L)
{
    if (rb_world_tag_of(L)) return luaL_error(L, "targets are set by the engine, not by runbook code");
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!targets && !(targets = luaL_newstate())) return luaL_error(L, "out of memory");
    lua_settop(targets, 0);
    rb_xfer x = {0};
    if (!rb_xfer_copy(&x, L, 1, targets)) return luaL_error(L, "targets: %s", x.err);
    return 0;
}

static int base_target(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!targets || lua_gettop(targets) < 1) { lua_pushnil(L); return 1; }
    lua_getfield(targets, 1, name);
    rb_xfer x = {0};
    int ok = rb_xfer_copy(&x, targets, -1, L);
    lua_pop(targets, 1);
    if (!ok) lua_pushnil(L);
    return 1;
}

static int base_sleep_ms(lua_State *L)
{
    lua_Number ms = luaL_checknumber(L, 1);
    if (ms < 0) ms = 0;
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (lua_Number)(time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);   /* EINTR: a signal ends the wait, its hook stops the run */
    return 0;
}

int rb_open_base(lua_State *L)
{
    static const luaL_Reg lib[] = {
        {"target", base_target}, {"set_targets", base_set_targets}, {"sleep_ms", base_sleep_ms}, {NULL, NULL}
    };
    luaL_newlib(L, lib);
    return 1;
}
