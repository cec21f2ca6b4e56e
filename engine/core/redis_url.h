/* redis_url.h — Redis connection URLs, parsed into a flat struct (pure C).
 *
 *   redis://[[user]:password@]host[:port][/db][?db=N]      TCP, port 6379, db 0
 *   unix://[[user]:password@]/path/to.sock[?db=N]          unix socket
 *   redis+unix://...                                        same as unix://
 *   rediss://...                                            refused: no TLS here
 *
 * User, password and path are percent-decoded. IPv6 hosts go in brackets.
 * No allocation: fixed buffers, so a caller can keep the struct in a Lua
 * userdata and a longjmp cannot leak it. Error texts never quote the URL (it
 * may hold the password). */
#ifndef RB_REDIS_URL_H
#define RB_REDIS_URL_H
#include <stddef.h>

typedef struct {
    int unix_socket;        /* 1: connect to path, else host:port */
    char host[256];
    int port;
    char path[108];         /* sun_path is 108 bytes on Linux */
    char user[256];
    char password[1024];
    size_t password_len;    /* 0: no AUTH */
    int db;
} rb_redis_url;

/* Fills *u from url. Returns 0, or -1 with a reason in err (never the URL or
 * the password). The password is stored as soon as it is decoded, even when a
 * later part fails, so the caller can register it with the redactor either way. */
int rb_redis_url_parse(const char *url, rb_redis_url *u, char *err, size_t errlen);
#endif
