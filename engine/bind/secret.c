/* bind/secret.c — rb._secret, what rb.secret() stands on:
 *   add(s)   registers s with the redactor (redact.h)
 *   error(kind, message, fields)  the one error constructor (errors.h): its
 *            values are redacted, so it lives beside the redactor; rb.json
 *            publishes it as rb.json.error
 * Called from runbook code (a world, world_tag.h), a secret must be long
 * enough to be unambiguous in free text (RB_SECRET_MIN bytes): a runbook
 * cannot register a short word ("delete", "tmi") and so blank out the
 * operation names and targets of its own plan. The engine registers short
 * credentials itself where it knows their place (DSN, URL userinfo, AUTH). */
#include "errors.h"
#include "redact.h"
#include "world_tag.h"
#include <lauxlib.h>

#define RB_SECRET_MIN 8

static int secret_add(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (rb_world_tag_of(L) && len < RB_SECRET_MIN)
        return luaL_error(L, "rb.secret: a secret registered by a runbook must be at least %d characters "
                          "(shorter ones would hide ordinary words of plans and messages)", RB_SECRET_MIN);
    if (rb_redact_add(s, len) < 0) return luaL_error(L, "out of memory");
    return 0;
}

int luaopen_rb__secret(lua_State *L)
{
    static const luaL_Reg lib[] = {{"add", secret_add}, {"error", rb_error_new}, {NULL, NULL}};
    luaL_newlib(L, lib);
    return 1;
}
