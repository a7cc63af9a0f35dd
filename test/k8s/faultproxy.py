#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# faultproxy.py - a TCP relay on loopback that breaks on demand, for
# 20-kube-client.sh: it sits between a client and the apiserver (TLS passes
# through untouched) and, on a signal,
#   SIGUSR1  cuts every connection it relays (both ends closed at once)
#   SIGUSR2  toggles a stall: nothing is read or forwarded, and new
#            connections are accepted but held, until the next SIGUSR2
#   SIGTERM  exits
# usage: faultproxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT
# Prints "listening PORT" once it accepts, and one line per fault.
import signal
import socket
import sys
import threading
import time

lport, uhost, uport = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
stalled = threading.Event()
lock = threading.Lock()
socks = set()


def close(s):
    with lock:
        socks.discard(s)
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


def hold():
    while stalled.is_set():
        time.sleep(0.05)


def pump(src, dst):
    try:
        while True:
            hold()
            data = src.recv(65536)
            if not data:
                break
            hold()
            dst.sendall(data)
    except OSError:
        pass
    close(src)
    close(dst)


def handle(c):
    hold()
    try:
        u = socket.create_connection((uhost, uport), timeout=5)
        u.settimeout(None)
    except OSError:
        close(c)
        return
    with lock:
        socks.add(u)
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()


def on_cut(signum, frame):
    with lock:
        victims = list(socks)
    for s in victims:
        close(s)
    print("cut %d sockets" % len(victims), flush=True)


def on_stall(signum, frame):
    if stalled.is_set():
        stalled.clear()
        print("stall off", flush=True)
    else:
        stalled.set()
        print("stall on", flush=True)


signal.signal(signal.SIGUSR1, on_cut)
signal.signal(signal.SIGUSR2, on_stall)
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(64)
print("listening %d" % lport, flush=True)
while True:
    c, _ = ls.accept()
    with lock:
        socks.add(c)
    threading.Thread(target=handle, args=(c,), daemon=True).start()
