"""Slow clients against `runbook serve` (client_timeout seconds given):
three connections at once, each printing one line when the server ends it:

  body     sends the headers and one byte of a 100-byte body, then waits
  loris    dribbles its headers one byte every 0.3 s (never idle for long,
           so an inactivity timeout alone would keep it for ever)
  idle     connects and sends nothing

Each line: NAME closed after S s: FIRST-LINE-OF-ANSWER | no answer.
Bounded: every socket gives up after 3 x client_timeout."""
import socket, sys, threading, time

port, limit = int(sys.argv[1]), float(sys.argv[2])
HEAD = b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
out, lock = [], threading.Lock()


def report(name, t0, data):
    first = data.split(b"\r\n", 1)[0].decode("latin-1") if data else "no answer"
    with lock:
        out.append("%s closed after %.1f s: %s" % (name, time.time() - t0, first))


def read_all(s, deadline):
    data = b""
    while time.time() < deadline:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def body():
    s = socket.create_connection(("127.0.0.1", port)); t0 = time.time()
    s.sendall(HEAD + b"\r\n{"); s.settimeout(0.2)
    report("body", t0, read_all(s, t0 + 3 * limit))


def loris():
    s = socket.create_connection(("127.0.0.1", port)); t0 = time.time()
    s.settimeout(0.3)
    data = b""
    for b in HEAD * 20:
        if time.time() > t0 + 3 * limit:
            break
        try:
            s.send(bytes([b]))
        except OSError:
            break
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        except socket.timeout:
            pass
        except OSError:
            break
    report("loris", t0, data)


def idle():
    s = socket.create_connection(("127.0.0.1", port)); t0 = time.time()
    s.settimeout(0.2)
    report("idle", t0, read_all(s, t0 + 3 * limit))


threads = [threading.Thread(target=f) for f in (body, loris, idle)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(sorted(out)))
