#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# proxy_tools.py - TCP peers and clients for the proxy's integration tests
# (20-proxy-tcp.sh, 70-proxy-admin.sh). Loopback only; every wait bounded.
#
#   servers (run until killed):
#     echo PORT             echo each connection; answer its FIN with one
#     banner PORT           server-first: greet at once, then echo
#     sink PORT             read and discard (throughput measurements)
#     stuck PORT            a listener whose accept queue is full: SYNs to
#                           it go unanswered, so connects time out
#   clients (print one line; exit 0 when it went as expected):
#     send PORT TEXT        send TEXT, half-close, print what came back
#     halfclose PORT        send, half-close, then still read the echo
#     bulk PORT MIB         send MIB MiB while reading the echo; check it
#     banner-read PORT      read the greeting without saying anything
#     silent PORT SECS      say nothing for SECS, then ping through
#     garbage PORT          random bytes, echoed back identically
#     flood PORT N SECS     open N connections at once, hold SECS, close
#     closed PORT           expect the proxy to close on us (dead upstream)
#     idle PORT             one echo, then wait for the proxy to close
#     source PORT MIB       send MIB MiB to a sink, print MB/s
#     pipeline PORT         two admin requests in one write, two answers
#     raw PORT HEX          send bytes (hex), print the answer in hex
#     request PORT TEXT     send TEXT (\r \n escapes), print the answer's
#                           first line
#     bigheader PORT KIB    a request with a KIB KiB header: status line
#     slow PORT             half a request line, then nothing: what came
#                           back and after how long
import hashlib
import os
import select
import socket
import sys
import threading
import time

# PROXY_TOOLS_HOST=::1 for IPv6
HOST = os.environ.get("PROXY_TOOLS_HOST", "127.0.0.1")
TIMEOUT = 20


def listen(port, backlog=512):
    s = socket.socket(socket.AF_INET6 if ":" in HOST else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(backlog)
    return s


def serve(port, handler):
    s = listen(port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def echo_conn(c, greet=None):
    try:
        if greet:
            c.sendall(greet)
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            c.sendall(d)
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        c.close()


def sink_conn(c):
    buf = bytearray(1 << 20)
    try:
        while c.recv_into(buf):
            pass
    except OSError:
        pass
    c.close()


def connect(port):
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    return s


def read_all(s):
    out = bytearray()
    while True:
        d = s.recv(1 << 16)
        if not d:
            return bytes(out)
        out += d


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    if cmd == "echo":
        serve(port, echo_conn)
    elif cmd == "banner":
        serve(port, lambda c: echo_conn(c, b"220 conduit-test ready\r\n"))
    elif cmd == "sink":
        serve(port, sink_conn)
    elif cmd == "stuck":
        s = listen(port, 0)
        # fill the accept queue (never accepted): later SYNs are dropped
        held = []
        for _ in range(4):
            c = socket.socket(s.family)
            c.setblocking(False)
            c.connect_ex((HOST, port))
            held.append(c)
        time.sleep(3600)
    elif cmd == "send":
        s = connect(port)
        s.sendall(args[0].encode())
        s.shutdown(socket.SHUT_WR)
        print(read_all(s).decode(errors="replace"))
    elif cmd == "halfclose":
        s = connect(port)
        msg = b"half-closed but still listening\n"
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        got = read_all(s)
        print("ok" if got == msg else "got %r" % got)
    elif cmd == "bulk":
        mib = int(args[0])
        s = connect(port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        chunk = os.urandom(1 << 20)
        sent = hashlib.sha256()
        for _ in range(mib):
            sent.update(chunk)
        err = []

        def writer():
            try:
                for _ in range(mib):
                    s.sendall(chunk)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)

        t0 = time.time()
        w = threading.Thread(target=writer)
        w.start()
        got = hashlib.sha256()
        n = 0
        buf = bytearray(1 << 20)
        while True:
            k = s.recv_into(buf)
            if not k:
                break
            got.update(memoryview(buf)[:k])
            n += k
        w.join()
        dt = time.time() - t0
        ok = not err and n == mib << 20 and got.digest() == sent.digest()
        print("%s bytes=%d seconds=%.2f MBps=%.0f" %
              ("ok" if ok else "bad", n, dt, 2 * n / dt / 1e6))
    elif cmd == "banner-read":
        s = connect(port)
        s.settimeout(3)
        line = s.recv(100)
        print(line.decode(errors="replace").strip())
    elif cmd == "silent":
        s = connect(port)
        time.sleep(float(args[0]))
        s.sendall(b"ping\n")
        s.shutdown(socket.SHUT_WR)
        print(read_all(s).decode().strip())
    elif cmd == "garbage":
        data = os.urandom(65536) + b"\x16\x03\x01\x00" + os.urandom(1000)
        s = connect(port)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = read_all(s)
        print("ok" if got == data else "bad: %d bytes back" % len(got))
    elif cmd == "flood":
        n, secs = int(args[0]), float(args[1])
        socks = []
        for _ in range(n):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex((HOST, port))
            socks.append(c)
        # wait for the handshakes (poll: select stops at fd 1024), then hold
        deadline = time.time() + secs
        poller = select.poll()
        byfd = {c.fileno(): c for c in socks}
        for fd in byfd:
            poller.register(fd, select.POLLOUT)
        connected = 0
        while time.time() < deadline and connected < n:
            for fd, _ in poller.poll(200):
                poller.unregister(fd)
                connected += 1
        time.sleep(max(0, deadline - time.time()))
        for c in socks:
            c.close()
        print("opened=%d" % connected)
    elif cmd == "closed":
        s = connect(port)
        s.settimeout(5)
        t0 = time.time()
        try:
            s.sendall(b"hello?")
            d = s.recv(100)
            res = "eof" if not d else "data %r" % d
        except ConnectionResetError:
            res = "reset"
        except socket.timeout:
            res = "timeout"
        print("%s after=%.2fs" % (res, time.time() - t0))
    elif cmd == "idle":
        s = connect(port)
        s.sendall(b"once\n")
        s.settimeout(5)
        first = s.recv(100)
        t0 = time.time()
        try:
            rest = s.recv(100)
            res = "eof" if not rest else "data"
        except ConnectionResetError:
            res = "reset"
        except socket.timeout:
            res = "timeout"
        print("%s %s after=%.1fs" % (first.decode().strip(), res,
                                     time.time() - t0))
    elif cmd == "source":
        mib = int(args[0])
        s = connect(port)
        chunk = b"\0" * (1 << 20)
        t0 = time.time()
        for _ in range(mib):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        read_all(s)
        dt = time.time() - t0
        print("MBps=%.0f" % ((mib << 20) / dt / 1e6))
    elif cmd == "pipeline":
        s = connect(port)
        s.sendall(b"GET /live HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        got = read_all(s).decode()
        print(" ".join(l for l in got.replace("\r\n", "\n").split("\n")
                       if l.startswith("HTTP/") or l in ("live", "ready")))
    elif cmd == "raw":
        s = connect(port)
        s.sendall(bytes.fromhex(args[0]))
        print(read_all(s).hex())
    elif cmd == "request":
        s = connect(port)
        s.sendall(args[0].encode().decode("unicode_escape").encode("latin1"))
        print(read_all(s).decode(errors="replace").split("\r\n")[0])
    elif cmd == "bigheader":
        s = connect(port)
        s.sendall(b"GET /live HTTP/1.1\r\nX-Big: " +
                  b"a" * (int(args[0]) << 10) + b"\r\n\r\n")
        print(read_all(s).decode(errors="replace").split("\r\n")[0])
    elif cmd == "slow":
        s = connect(port)
        t0 = time.time()
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n")
        got = read_all(s).decode(errors="replace")
        print("%s after=%.1fs" % (got.split("\r\n")[0] or "eof",
                                  time.time() - t0))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
