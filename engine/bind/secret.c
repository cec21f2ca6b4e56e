/* bind/secret.c — rb._secret, what rb.secret() stands on:
 *   add(s)   registers s with the redactor (redact.h)
 *   error(kind, message, fields)  the one error constructor (errors.h): its
 *            values are redacted, so it lives beside the redactor; rb.json
 *            publishes it as rb.json.error
 * Called from runbook code (a world, world_tag.h), a secret must be long
 * enough to be unambiguous in free text (RB_SECRET_MIN bytes): a runbook
 * cannot register a short word ("delete", "tmi") and so blank out the
 * operation names and targets of its own plan. The engine registers short
 * credentials itself where it knows their place (DSN, URL userinfo, AUTH).
 * Nor can it register without bound: every line the engine writes is
 * scanned for every secret, so 100,000 of them made each note cost tens of
 * milliseconds and registering them minutes (RB_SECRET_MAX_RUNBOOK). */
#include "errors.h"
#include "redact.h"
#include "world_tag.h"
#include <lauxlib.h>
#include <string.h>

#define RB_SECRET_MIN 8
#define RB_SECRET_MAX_RUNBOOK 1000

static int from_runbooks;   /* secrets registered by runbook code, process-wide */

/* Whether s is already a registered secret as a whole (registering it again
 * adds nothing: a step may register its param on every pass). */
static int known(const char *s, size_t len)
{
    size_t rlen;
    char *r = rb_redact(s, len, &rlen);
    int yes = r && rlen == sizeof RB_REDACTED - 1 && memcmp(r, RB_REDACTED, rlen) == 0;
    if (r) rb_wipe_free(r, rlen);
    return yes;
}

static int secret_add(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (rb_world_tag_of(L) && len < RB_SECRET_MIN)
        return luaL_error(L, "rb.secret: a secret registered by a runbook must be at least %d characters "
                          "(shorter ones would hide ordinary words of plans and messages)", RB_SECRET_MIN);
    if (rb_world_tag_of(L) && !known(s, len) && from_runbooks++ >= RB_SECRET_MAX_RUNBOOK)
        return luaL_error(L, "rb.secret: runbook code may register at most %d secrets", RB_SECRET_MAX_RUNBOOK);
    if (rb_redact_add(s, len) < 0) return luaL_error(L, "out of memory");
    return 0;
}

int luaopen_rb__secret(lua_State *L)
{
    static const luaL_Reg lib[] = {{"add", secret_add}, {"error", rb_error_new}, {NULL, NULL}};
    luaL_newlib(L, lib);
    return 1;
}
