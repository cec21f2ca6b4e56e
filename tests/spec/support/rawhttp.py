#!/usr/bin/env python3
"""rawhttp — a raw-socket HTTP/1.1 server that counts what really arrives, for
the security specs: a smuggled request (a CR/LF inside a header, a URL or a
credential) shows up here as a second request line, which an HTTP library
server would hide or reject.

  rawhttp.py PORTFILE LOG     (127.0.0.1, port chosen by the kernel, written to PORTFILE)

Every connection accepted adds a line to LOG.conns; every byte received is
appended to LOG.raw; every request parsed from the byte
stream (request line, headers, Content-Length body) is appended to LOG as one
JSON line {method, target, headers (lower-case names), body} and answered
200 with a small JSON body, keeping the connection open.
"""
import json, os, socket, sys, threading

LOCK = threading.Lock()


def record(path, data, mode="a"):
    with LOCK, open(path, mode) as f:
        f.write(data)


def parse_head(head):
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    method = parts[0].decode("latin-1") if parts else ""
    target = parts[1].decode("latin-1") if len(parts) > 1 else ""
    return method, target, headers


def serve(conn, log):
    buf = b""
    with conn:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            with LOCK, open(log + ".raw", "ab") as f:
                f.write(chunk)
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                method, target, headers = parse_head(head)
                n = int(headers.get("content-length") or 0)
                if len(rest) < n:
                    break
                body, buf = rest[:n], rest[n:]
                entry = {"method": method, "target": target, "headers": headers,
                         "body": body.decode("latin-1")}
                record(log, json.dumps(entry) + "\n")
                answer = json.dumps({"method": method, "target": target}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(answer)
                             + (b"" if method == "HEAD" else answer))


def main():
    portfile, log = sys.argv[1], sys.argv[2]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    record(log, "", "w")
    for suffix in (".raw", ".conns"):
        with open(log + suffix, "w"):
            pass
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = srv.accept()
        record(log + ".conns", "connection\n")
        threading.Thread(target=serve, args=(conn, log), daemon=True).start()


if __name__ == "__main__":
    main()
