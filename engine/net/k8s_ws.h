/* k8s_ws.h — Kubernetes exec over WebSocket (RFC 6455, channel protocols
 * v5.channel.k8s.io then v4.channel.k8s.io), framed by hand over a libcurl
 * CONNECT_ONLY connection because Debian's libcurl 7.88 has no WebSocket
 * support. Plain C, no Lua: the TLS and credential fields of an rb_http_req
 * in, the channels' bytes out. */
#ifndef RB_K8S_WS_H
#define RB_K8S_WS_H
#include "net/http_client.h"
#include <stddef.h>

typedef struct {
    char *out, *err, *status;           /* channels 1, 2, 3 (malloc'd, NUL-terminated) */
    size_t out_len, err_len, status_len;
    char protocol[32];                  /* the subprotocol the server chose */
    long http_status;                   /* 101, or the status of a refused upgrade */
    char *http_body;                    /* body of a refused upgrade (a Status), or NULL */
    rb_http_errkind err_kind;
    char errmsg[256];
} rb_k8s_ws_result;

/* Opens req->url (https://host:port/api/.../exec?query) as a WebSocket with
 * req's TLS settings and credentials (bearer or basic), sends in (channel 0;
 * with v5 then closes stdin), and collects the output channels until the
 * server closes, within req->timeout_ms. Nothing connects unless
 * req->ticket is sendable (gate.h): without it, -1 with err_kind
 * RB_HTTP_ENOTICKET. Returns 0 when an exchange took
 * place (res->http_status says whether the upgrade happened), -1 on a
 * transport failure with err_kind and errmsg set. */
int rb_k8s_ws_exec(const rb_http_req *req, const char *in, size_t in_len, rb_k8s_ws_result *res);

void rb_k8s_ws_result_free(rb_k8s_ws_result *res);

/* Frame codec, exposed for unit tests. Encodes one masked client frame
 * (FIN set) with opcode op into out (room for len + 14 bytes); returns its
 * length. */
size_t rb_ws_encode(unsigned char *out, int op, const unsigned char *payload, size_t len,
                    const unsigned char mask[4]);

/* Decodes the frame at the start of buf[0..n): returns the frame's total
 * length and sets *op, *fin, *payload, *plen (unmasked in place), 0 when
 * more bytes are needed, -1 when the header is invalid. */
long rb_ws_decode(unsigned char *buf, size_t n, int *op, int *fin, unsigned char **payload, size_t *plen);
#endif
