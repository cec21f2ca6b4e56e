#!/usr/bin/env python3
"""target.py — the Prometheus lab's small servers, all on 127.0.0.1:

  metrics  a scrape target: /metrics in the text format, scraped every second
  stub     answers shaped like a misbehaving or fronted Prometheus, by path prefix:
             /garbage/...  200 text/plain that is not JSON (parse errors)
             /auth/...     401 unless the lab's bearer token or basic user is sent;
                           then a one-sample vector, with a warning attached
             /echo/...     a vector describing the request it got (method,
                           content type, query length): long queries use POST
             /slow/...     the same vector after 1.5 s (query_many isolation)
             /status/N/... HTTP status N with a Prometheus-style JSON error
             /nodata/...   "success" without data
             /shape/...    a vector whose sample is not a [time, value] pair
  silent   a socket that listens but never accepts: the handshake completes in
           the kernel, the request is never answered (timeouts)
  closed   a port held bound but not listening: connections are refused

    python3 target.py PORTS_FILE

Writes "metrics=P stub=P silent=P closed=P" to PORTS_FILE once listening, then serves
until killed.
"""
import base64
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BEARER = "rb-lab-token-5f3a"
BASIC = ("lab", "rb-lab-pass-9c1e")
STARTED = time.time()


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # headers and body leave in separate writes: without NODELAY a
        # keep-alive client waits out its delayed ACK (~40 ms) on each answer
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status, ctype, body):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Metrics(Quiet):
    def do_GET(self):
        if self.path != "/metrics":
            return self.reply(404, "text/plain", "not found\n")
        up = time.time() - STARTED
        self.reply(200, "text/plain; version=0.0.4",
                   "# TYPE rb_lab_uptime_seconds gauge\n"
                   "rb_lab_uptime_seconds %.3f\n"
                   "# TYPE rb_lab_ticks_total counter\n"
                   "rb_lab_ticks_total %d\n" % (up, int(up * 10)))


def vector(labels, value):
    return json.dumps({"status": "success",
                       "data": {"resultType": "vector",
                                "result": [{"metric": labels, "value": [time.time(), str(value)]}]}})


class Stub(Quiet):
    def params(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        q = urllib.parse.urlsplit(self.path).query
        return urllib.parse.parse_qs(q + "&" + body if body else q)

    def handle_any(self):
        parts = self.path.split("/")
        kind = parts[1] if len(parts) > 1 else ""
        params = self.params()
        if kind == "garbage":
            return self.reply(200, "text/plain", "<html>this is not JSON</html>\n")
        if kind == "auth":
            return self.auth()
        if kind == "status":
            return self.reply(int(parts[2]), "application/json",
                              json.dumps({"status": "error", "errorType": "unavailable",
                                          "error": "stub says %s" % parts[2]}))
        if kind == "nodata":
            return self.reply(200, "application/json", '{"status": "success"}')
        if kind == "shape":
            return self.reply(200, "application/json", json.dumps(
                {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": "oops"}]}}))
        if kind == "slow":
            time.sleep(1.5)
        if kind in ("echo", "slow"):
            query = params.get("query", [""])[0]
            return self.reply(200, "application/json", vector(
                {"method": self.command, "content_type": self.headers.get("Content-Type") or ""},
                len(query)))
        return self.reply(404, "text/plain", "not found\n")

    def auth(self):
        got = self.headers.get("Authorization") or ""
        basic = "Basic " + base64.b64encode(("%s:%s" % BASIC).encode()).decode()
        if got not in ("Bearer " + BEARER, basic):
            return self.reply(401, "text/plain", "Unauthorized\n")
        body = json.loads(vector({"auth": got.split(" ")[0].lower()}, 1))
        body["warnings"] = ["stub warning: results may be incomplete"]
        self.reply(200, "application/json", json.dumps(body))

    do_GET = handle_any
    do_POST = handle_any


class Server(ThreadingHTTPServer):
    request_queue_size = 128   # the default 5 drops SYNs of a concurrent batch
    daemon_threads = True


def serve(handler):
    srv = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def main():
    metrics = serve(Metrics)
    stub = serve(Stub)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)          # never accept()ed
    closed = socket.socket()   # bound, never listening: connects are refused, and
    closed.bind(("127.0.0.1", 0))   # no other process can take the port meanwhile
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("metrics=%d stub=%d silent=%d closed=%d\n"
                % (metrics, stub, silent.getsockname()[1], closed.getsockname()[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
