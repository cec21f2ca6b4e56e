#!/usr/bin/env python3
"""httprec — a small HTTP service for the e2e tests and the demo: answers on
127.0.0.1 and appends every request it receives to a log (one JSON line:
method, path, headers, body), so tests can prove what did and did not reach
the server.

  httprec.py PORTFILE LOGFILE     (port chosen by the kernel, written to PORTFILE)

GET /health -> {"status":"ok"}; GET /slow?s=N sleeps N s (bounded to 30);
GET /garbage -> a non-JSON body; POST/PUT/PATCH/DELETE anything -> 200 JSON echo.
"""
import json, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

LOCK = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _record(self, body):
        entry = {"method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body.decode("utf-8", "replace")}
        with LOCK, open(self.server.logfile, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def _reply(self, code, obj, ctype="application/json"):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self._record(body)
        u = urlparse(self.path)
        if u.path == "/slow":
            time.sleep(min(float(parse_qs(u.query).get("s", ["5"])[0]), 30))
        if u.path == "/garbage":
            return self._reply(200, b"<html>not json", "text/html")
        if u.path.startswith("/status/"):
            return self._reply(int(u.path.split("/")[2]), {"status": u.path})
        if self.command in ("GET", "HEAD"):
            return self._reply(200, {"status": "ok", "path": u.path})
        return self._reply(200, {"received": self.command, "path": u.path, "bytes": len(body)})

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

def main():
    portfile, logfile = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.logfile = logfile
    open(logfile, "a").close()
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()

if __name__ == "__main__":
    main()
