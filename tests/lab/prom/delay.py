#!/usr/bin/env python3
"""delay.py — a reverse proxy on 127.0.0.1 that holds every request for a fixed
time before passing it to the lab Prometheus: a stand-in for a Prometheus that
is a network round trip away (bench/prom.sh).

    python3 delay.py UPSTREAM_URL DELAY_MS PORT_FILE
"""
import os
import sys
import time
import urllib.request

from target import Quiet, Server   # same directory: the lab's quiet, NODELAY handler

UPSTREAM, DELAY = sys.argv[1].rstrip("/"), int(sys.argv[2]) / 1000.0


class Proxy(Quiet):
    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        time.sleep(DELAY)
        req = urllib.request.Request(UPSTREAM + self.path, data=body, method=self.command)
        if self.headers.get("Content-Type"):
            req.add_header("Content-Type", self.headers["Content-Type"])
        try:
            with urllib.request.urlopen(req) as r:
                status, ctype, data = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            status, ctype, data = e.code, e.headers.get("Content-Type", ""), e.read()
        self.reply(status, ctype, data)

    do_GET = forward
    do_POST = forward


def main():
    srv = Server(("127.0.0.1", 0), Proxy)
    with open(sys.argv[3] + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(sys.argv[3] + ".tmp", sys.argv[3])
    srv.serve_forever()


if __name__ == "__main__":
    main()
