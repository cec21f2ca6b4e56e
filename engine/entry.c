/* entry.c — the engine's one entry point (engine.h): its module table (every
 * luaopen_rb_* in engine/bind/, generated into preload.h), per-state setup
 * and the redactor the host's error handler uses. The only symbol engine.so
 * exports. */
#include "engine.h"
#include "errors.h"
#include "preload.h"
#include "redact.h"

static void engine_init(lua_State *L) { rb_error_init(L); }

RB_ENGINE_EXPORT const rb_engine_entry rb_engine = {
    .abi = RB_ENGINE_ABI, .modules = rb_preload, .init = engine_init, .redact = rb_redact,
};
