#!/usr/bin/env python3
"""cdp.py — open a page in headless Chromium and report what happened, through
the DevTools protocol (tests of the HTML report; python3 standard library
only, so it needs nothing beyond DEPS_DEB: a 60-line WebSocket client is
below).

    python3 tests/lab/cdp.py PAGE [--js FILE] [--screenshot PNG] [--timeout S]

prints one JSON object: {"url", "load_ms" (navigate to load event, as
the client saw it), "page_load_ms" (the page's own navigation timing),
"requests": [every URL the page
asked for, the page included], "console": [{level, text}], "exceptions":
[text], "log": [{level, source, text}] (CSP violations, failed loads),
"result": the value of the --js expression (evaluated after load, promises
awaited), "screenshot": PNG path}.

Chromium listens for DevTools on 127.0.0.1 only, with a private profile, its
background networking off and every host name except 127.0.0.1/localhost
resolving to nothing, so a report can reach no other machine even if it
tried: the test then sees the attempt in "requests"."""
import base64, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request


class WS:
    """A minimal RFC 6455 client: text frames out (masked), frames in."""

    def __init__(self, url, timeout):
        hostport, path = url[len("ws://"):].split("/", 1)
        host, port = hostport.split(":")
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(1)
            if not chunk:
                raise IOError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise IOError("websocket handshake refused: " + head.decode(errors="replace"))

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise IOError("websocket closed")
            buf += chunk
        return buf

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        payload = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 8:
                raise IOError("websocket closed by the browser")
            if opcode in (0, 1, 2):
                payload += data
                if b0 & 0x80:
                    return json.loads(payload)


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = self.ws.recv()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name, deadline):
        while time.monotonic() < deadline:
            for e in self.events:
                if e["method"] == name:
                    return e
            self.events.append(self.ws.recv())
        raise TimeoutError(f"no {name} before the timeout")


def launch(profile):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("cdp.py: chromium is not installed (make deps installs Debian's chromium)")
    args = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            f"--user-data-dir={profile}", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--disable-extensions", "--no-pings",
            "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            "--hide-scrollbars", "--window-size=1200,900", "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(port_file):
            lines = open(port_file).read().split()
            if lines:
                return proc, int(lines[0])
        if proc.poll() is not None:
            raise SystemExit(f"cdp.py: chromium exited with {proc.returncode}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("cdp.py: chromium did not open its DevTools port within 30 s")


def screenshot(page, path):
    m = page.call("Page.getLayoutMetrics")
    size = m.get("cssContentSize") or m["contentSize"]
    w, h = int(size["width"]), min(int(size["height"]), 16000)
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                     clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def collect(page):
    out = {"requests": [], "console": [], "exceptions": [], "log": []}
    for e in page.events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.requestWillBeSent":
            out["requests"].append(p["request"]["url"])
        elif m == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out["console"].append({"level": p.get("type"), "text": text})
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out["exceptions"].append(d.get("exception", {}).get("description") or d.get("text"))
        elif m == "Log.entryAdded":
            en = p.get("entry", {})
            out["log"].append({"level": en.get("level"), "source": en.get("source"), "text": en.get("text")})
    return out


def main():
    argv = sys.argv[1:]
    opts = {"--js": None, "--screenshot": None, "--timeout": "30"}
    pos = []
    while argv:
        a = argv.pop(0)
        if a in opts:
            opts[a] = argv.pop(0)
        else:
            pos.append(a)
    if len(pos) != 1:
        raise SystemExit(__doc__)
    url = "file://" + os.path.abspath(pos[0])
    timeout = float(opts["--timeout"])
    profile = tempfile.mkdtemp(prefix="rb-cdp-")
    proc = None
    try:
        proc, port = launch(profile)
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        target = next(t for t in targets if t.get("type") == "page")
        page = Page(WS(target["webSocketDebuggerUrl"], timeout))
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(domain + ".enable")
        page.events.clear()
        t0 = time.monotonic()
        page.call("Page.navigate", url=url)
        page.wait_event("Page.loadEventFired", t0 + timeout)
        result = {"url": url, "load_ms": round((time.monotonic() - t0) * 1000)}
        nav = page.call("Runtime.evaluate", returnByValue=True, expression=(
            "(function(){var n=performance.getEntriesByType('navigation')[0];"
            "return n?Math.round(n.loadEventEnd-n.startTime):null})()"))
        result["page_load_ms"] = nav.get("result", {}).get("value")
        if opts["--js"]:
            expr = open(opts["--js"]).read()
            r = page.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
            if "exceptionDetails" in r:
                d = r["exceptionDetails"]
                result["js_error"] = d.get("exception", {}).get("description") or d.get("text")
            result["result"] = r.get("result", {}).get("value")
        if opts["--screenshot"]:
            screenshot(page, opts["--screenshot"])
            result["screenshot"] = opts["--screenshot"]
        result.update(collect(page))
        print(json.dumps(result, indent=1))
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
