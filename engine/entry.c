/* entry.c — the engine's one entry point (engine.h): its module table (every
 * luaopen_rb_* in engine/bind/, generated into preload.h), per-state setup
 * and the redactor the core's error handler uses. */
#include "engine.h"
#include "errors.h"
#include "preload.h"
#include "redact.h"

static void engine_init(lua_State *L) { rb_error_init(L); }

const rb_engine_entry rb_engine = {rb_preload, engine_init, rb_redact};
