/* webhook_post.h — the notification `runbook serve` sends when a run ends:
 * one JSON POST (Slack's incoming-webhook format) to the URL the operator
 * configured. Plain C over libcurl, no Lua. This is the server's own output,
 * like the report it writes, not a binding call: runbook code cannot reach it
 * (rb._serve is engine-private). http and https only, no redirects, bounded
 * time. */
#ifndef RB_WEBHOOK_POST_H
#define RB_WEBHOOK_POST_H
#include <stddef.h>

/* Returns the HTTP status, or -1 with a message in err. */
long rb_webhook_post(const char *url, const char *body, size_t len, long timeout_ms,
                     char *err, size_t errsz);
#endif
