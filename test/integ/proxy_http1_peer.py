#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# proxy_http1_peer.py - an HTTP/1.1 origin and raw clients for 21-proxy-http1.sh.
# Loopback only; every wait bounded.
#
#   server PORT          an HTTP/1.1 origin (keep-alive), one thread per
#                        connection, counting connections and requests:
#     GET  /hello            200 "hello\n" (Content-Length)
#     HEAD /hello            its head, no body
#     GET  /big?mib=N        N MiB of a fixed pattern (Content-Length)
#     GET  /chunked          chunked, three chunks and a trailer
#     GET  /eof              no length: the body ends with the connection
#     GET  /slow?s=N         answers after N seconds
#     GET  /status?code=N    answers status N
#     POST /echo             the body back (chunked if it came chunked),
#                            after a 100 Continue when asked for one
#     POST /sha              "<bytes> <sha256>" of the body, streamed
#     GET  /ws (Upgrade)     101, then echoes raw bytes
#     CONNECT x              200, then echoes raw bytes
#     GET  /stats            "conns=N requests=N" (ask it directly)
#   clients (print one line):
#     tunnel PORT ws|connect   upgrade, then echo "ping": "ok <status>"
#     raw PORT TEXT            send TEXT (\r \n escapes), print the status
#                              line and the conduit-proxy-error field
#     slowloris PORT           a request head one byte a second: how long
#                              until the proxy closes, and what it said
import hashlib
import socket
import sys
import threading
import time
from urllib.parse import urlsplit, parse_qs

TIMEOUT = 30
STATS = {"conns": 0, "requests": 0}
LOCK = threading.Lock()
PATTERN = bytes(range(256)) * 256  # 64 KiB


class Conn:
    def __init__(self, s):
        self.s = s
        self.buf = b""

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def read(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def some(self, most):
        if not self.buf:
            self.fill()
        d, self.buf = self.buf[:most], self.buf[most:]
        return d

    def head(self):
        start = self.line()
        fields = []
        while True:
            l = self.line()
            if not l:
                break
            k, v = l.split(":", 1)
            fields.append((k.strip().lower(), v.strip()))
        return start, fields

    def body(self, fields):
        """yield the body's pieces"""
        f = dict(fields)
        if f.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.line().split(";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    return
                left = size
                while left:
                    d = self.some(left)
                    left -= len(d)
                    yield d
                self.read(2)
        n = int(f.get("content-length", "0"))
        while n:
            d = self.some(min(n, 65536))
            n -= len(d)
            yield d


def send_chunk(s, d):
    s.sendall(b"%x\r\n" % len(d) + d + b"\r\n")


def relay_echo(c):
    s = c.s
    if c.buf:
        s.sendall(c.buf)
    while True:
        d = s.recv(65536)
        if not d:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(d)


def serve(s):
    with LOCK:
        STATS["conns"] += 1
    c = Conn(s)
    try:
        while True:
            start, fields = c.head()
            with LOCK:
                STATS["requests"] += 1
            f = dict(fields)
            method, target, _ = start.split(" ", 2)
            u = urlsplit(target)
            q = {k: v[0] for k, v in parse_qs(u.query).items()}
            close = f.get("connection", "").lower() == "close"
            ka = b"Connection: close\r\n" if close else b""
            if method == "CONNECT":
                s.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                return relay_echo(c)
            if u.path == "/ws" and f.get("upgrade", "").lower() == "websocket":
                s.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                          b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                return relay_echo(c)
            if f.get("expect", "").lower() == "100-continue":
                s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if u.path == "/echo":
                if f.get("transfer-encoding", "").lower() == "chunked":
                    s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + ka + b"\r\n")
                    for d in c.body(fields):
                        send_chunk(s, d)
                    s.sendall(b"0\r\nx-trailer: done\r\n\r\n")
                else:
                    n = int(f.get("content-length", "0"))
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % n + ka + b"\r\n")
                    for d in c.body(fields):
                        s.sendall(d)
            elif u.path == "/sha":
                h, n = hashlib.sha256(), 0
                for d in c.body(fields):
                    h.update(d)
                    n += len(d)
                b = b"%d %s\n" % (n, h.hexdigest().encode())
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(b) + ka + b"\r\n" + b)
            else:
                for _ in c.body(fields):
                    pass
                if u.path == "/big":
                    n = int(q.get("mib", "1")) << 20
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % n + ka + b"\r\n")
                    for _ in range(n // len(PATTERN)):
                        s.sendall(PATTERN)
                elif u.path == "/chunked":
                    s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                              b"Trailer: x-sum\r\n" + ka + b"\r\n")
                    for d in (b"one,", b"two,", b"three\n"):
                        send_chunk(s, d)
                    s.sendall(b"0\r\nx-sum: 3\r\n\r\n")
                elif u.path == "/eof":
                    s.sendall(b"HTTP/1.1 200 OK\r\n\r\nuntil the end\n")
                    s.shutdown(socket.SHUT_WR)
                    return
                elif u.path == "/stats":
                    with LOCK:
                        b = b"conns=%d requests=%d\n" % (STATS["conns"], STATS["requests"])
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
                else:
                    if u.path == "/slow":
                        time.sleep(float(q.get("s", "1")))
                    code = int(q.get("code", "200")) if u.path == "/status" else 200
                    b = b"" if method == "HEAD" else b"hello\n"
                    s.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 6\r\n" % code + ka + b"\r\n" + b)
            if close:
                return
    except (EOFError, ConnectionError, OSError):
        pass
    finally:
        s.close()


def server(port):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port))
    l.listen(128)
    while True:
        s, _ = l.accept()
        threading.Thread(target=serve, args=(s,), daemon=True).start()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return s


def tunnel(port, how):
    s = connect(port)
    if how == "ws":
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\n")
    else:
        s.sendall(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n")
    c = Conn(s)
    start, _ = c.head()
    # bytes right after the answer, then a round trip
    s.sendall(b"ping")
    got = c.read(4)
    s.sendall(b"pong" * 4096)
    got2 = c.read(4 * 4096)
    s.shutdown(socket.SHUT_WR)
    print("ok %s" % start.split(" ")[1] if got == b"ping" and got2 == b"pong" * 4096
          else "bad %r %r" % (start, got))


def raw(port, text):
    s = connect(port)
    s.sendall(text.encode("latin-1").decode("unicode_escape").encode("latin-1"))
    c = Conn(s)
    try:
        start, fields = c.head()
    except (EOFError, ConnectionError):
        print("closed")
        return
    print("%s | %s" % (start, dict(fields).get("conduit-proxy-error", "")))


def slowloris(port):
    s = connect(port)
    t0 = time.monotonic()
    # the request line at once (detection needs it), then a trickle
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: slow\r\n")
    req = b"X-Slow: " + b"a" * 100
    got = b""
    try:
        for b in req:
            s.sendall(bytes([b]))
            s.settimeout(1)
            try:
                d = s.recv(4096)
                if not d:
                    break
                got += d
                break
            except socket.timeout:
                pass
    except (ConnectionError, OSError):
        pass
    s.settimeout(TIMEOUT)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except (ConnectionError, OSError):
        pass
    print("closed after=%.1f said=%s" % (time.monotonic() - t0,
                                          got.split(b"\r\n")[0].decode() or "nothing"))


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "server":
        server(port)
    elif cmd == "tunnel":
        tunnel(port, sys.argv[3])
    elif cmd == "raw":
        raw(port, sys.argv[3])
    elif cmd == "slowloris":
        slowloris(port)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
