#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# proxy_h2_tools.py - hand-made HTTP/2 clients for 22-proxy-h2.sh: frames
# no well-behaved client sends, and a client that stops reading. Loopback
# only; every wait bounded. Each command prints one line.
#
#   garbage PORT          the preface, then random bytes: "goaway N closed B"
#   truncated PORT        half the preface, then FIN: "closed B"
#   bigheaders PORT       a request whose header list is over 64 KiB on
#                         stream 1, then a good GET on stream 3:
#                         "rst1 CODE status3 S"
#   streams PORT N        N requests left open at once on one connection:
#                         "refused R protocol P goaway G closed B"
#   rapid-reset PORT N    N requests each reset at once: "goaway N closed B"
#   goaway-server PORT    an origin whose odd connections answer the
#                         first request with GOAWAY(last stream 0): nothing
#                         processed; even ones answer each request
#                         200 "served on connection N" (runs until killed;
#                         prints "listening", then "conn N" per connection)
#   cancel PORT           a request left open, then RST_STREAM CANCEL
#   idle PORT SECS        a connection that says nothing more for SECS:
#                         "goaway N closed B"
#   reset-server PORT     an origin that answers each request's head, then
#                         resets it with INTERNAL_ERROR
#   drop-server PORT      an origin whose odd connections close at their
#                         first request (no GOAWAY, no answer); even ones
#                         answer as goaway-server's
#   stall-server PORT     an origin that takes requests and never answers;
#                         prints "rst stream S code C" per RST_STREAM
#   slow-read PORT PATH SECS  GET PATH with huge windows, then read nothing
#                         for SECS; then read what is there and print
#                         "stalled"; the caller samples the proxy meanwhile
import os
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(typ, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + \
        struct.pack(">I", sid) + payload


def lit(index, value):
    # literal without indexing, indexed name (4-bit prefix), short value
    out = bytes([index]) if index < 15 else bytes([15, index - 15])
    return out + enc_len(len(value)) + value


def lit_new(name, value):
    # literal without indexing, new name
    return b"\x00" + enc_len(len(name)) + name + enc_len(len(value)) + value


def enc_len(n):
    # 7-bit prefix integer, no Huffman
    if n < 127:
        return bytes([n])
    out, n = [127], n - 127
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def get_block(path, extra=b""):
    # :method GET, :scheme http, :path, :authority
    return b"\x82\x86" + lit(4, path) + lit(1, b"h2.test") + extra


def settings(pairs):
    return frame(4, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def frames(data):
    """(type, flags, sid, payload) of the whole frames in data"""
    out, at = [], 0
    while at + 9 <= len(data):
        n = int.from_bytes(data[at:at + 3], "big")
        if at + 9 + n > len(data):
            break
        out.append((data[at + 3], data[at + 4],
                    int.from_bytes(data[at + 5:at + 9], "big") & 0x7fffffff,
                    data[at + 9:at + 9 + n]))
        at += 9 + n
    return out


def read_for(s, secs, until=None):
    """read for at most secs (or until until(data) says so); (data, eof)"""
    data, end = b"", time.time() + secs
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not b:
            return data, True
        data += b
        if until and until(data):
            break
    return data, False


def goaway(fs):
    for t, _, _, p in fs:
        if t == 7:
            return int.from_bytes(p[4:8], "big")
    return None


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def start(port, pairs=()):
    s = connect(port)
    s.sendall(PREFACE + settings(pairs) + frame(4, 1, 0))
    return s


def status_of(block):
    # the proxy's answers from nghttp2: ":status" is a static-table index
    # (0x88 200, 0x89 204, 0x8d 404...) or a literal with name index 8
    static = {0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400,
              0x8d: 404, 0x8e: 500}
    if block and block[0] in static:
        return static[block[0]]
    if len(block) >= 5 and block[0] & 0xf0 in (0x00, 0x10, 0x40) and \
            block[0] & 0x0f == 8:
        return int(block[2:2 + block[1]])
    return -1


def serve_conn(c, n, stall=False):
    c.settimeout(30)
    buf = b""
    try:
        while len(buf) < len(PREFACE):
            d = c.recv(65536)
            if not d:
                return
            buf += d
        buf = buf[len(PREFACE):]
        c.sendall(settings(()))
        while True:
            fs = frames(buf)
            buf = buf[sum(9 + len(p) for _, _, _, p in fs):]
            for t, flags, sid, p in fs:
                if t == 4 and not flags & 1:
                    c.sendall(frame(4, 1, 0))
                elif stall == "drop" and t == 1 and n % 2 == 1:
                    # odd connections: the request arrives, the
                    # connection goes without a word (a crash)
                    print("dropped conn %d" % n, flush=True)
                    c.shutdown(socket.SHUT_RDWR)
                    return
                elif stall == "reset":
                    if t == 1:
                        c.sendall(frame(1, 4, sid, b"\x88") +
                                  frame(0, 0, sid, b"partial") +
                                  frame(3, 0, sid, struct.pack(">I", 2)))
                elif stall is True:
                    if t == 3:
                        print("rst stream %d code %d" % (
                            sid, int.from_bytes(p[:4], "big")), flush=True)
                elif not stall and t == 1 and n % 2 == 1:
                    # the first request: nothing will be processed here
                    c.sendall(frame(7, 0, 0, struct.pack(">II", 0, 0)))
                    time.sleep(0.2)
                    return
                elif (t == 1 or t == 0) and flags & 1:
                    body = b"served on connection %d\n" % n
                    c.sendall(frame(1, 4, sid, b"\x88") +
                              frame(0, 1, sid, body))
            d = c.recv(65536)
            if not d:
                return
            buf += d
    except OSError:
        pass
    finally:
        c.close()


def goaway_server(port, stall=False):
    import threading
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    print("listening", flush=True)
    n = 0
    while True:
        c, _ = ls.accept()
        n += 1
        print("conn %d" % n, flush=True)
        threading.Thread(target=serve_conn, args=(c, n, stall),
                         daemon=True).start()


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "garbage":
        s = connect(port)
        s.sendall(PREFACE + settings(()) + os.urandom(4096))
        data, eof = read_for(s, 5)
        print("goaway %s closed %s" % (goaway(frames(data)), eof))
    elif cmd == "truncated":
        s = connect(port)
        s.sendall(PREFACE[:12])
        s.shutdown(socket.SHUT_WR)
        _, eof = read_for(s, 8)
        print("closed %s" % eof)
    elif cmd == "bigheaders":
        s = start(port)
        block = get_block(b"/hello", b"".join(
            lit_new(b"x-big-%02d" % i, b"v" * 1000) for i in range(80)))
        # HEADERS + CONTINUATIONs of 16 KiB
        chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)]
        out = frame(1, 1 | (4 if len(chunks) == 1 else 0), 1, chunks[0])
        for i, c in enumerate(chunks[1:]):
            out += frame(9, 4 if i == len(chunks) - 2 else 0, 1, c)
        out += frame(1, 5, 3, get_block(b"/hello"))
        s.sendall(out)
        rst1, st3 = None, None
        data, _ = read_for(s, 5, lambda d: any(
            t == 1 and sid == 3 for t, _, sid, _ in frames(d)))
        for t, _, sid, p in frames(data):
            if t == 3 and sid == 1:
                rst1 = int.from_bytes(p[:4], "big")
            if t == 1 and sid == 3:
                st3 = status_of(p)
        print("rst1 %s status3 %s" % (rst1, st3))
    elif cmd == "streams":
        n = int(sys.argv[3])
        s = start(port)
        # POST heads without END_STREAM: the streams stay open
        out = b"".join(frame(1, 4, 2 * i + 1, b"\x83\x86" + lit(4, b"/hello") +
                             lit(1, b"h2.test")) for i in range(n))
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, eof = read_for(s, 3)
        fs = frames(data)
        codes = [int.from_bytes(p[:4], "big") for t, _, _, p in fs if t == 3]
        # over SETTINGS_MAX_CONCURRENT_STREAMS: a stream error (REFUSED or
        # PROTOCOL_ERROR) for each extra one, or a connection error
        if codes.count(7) + codes.count(1) >= n - 10 or \
                (goaway(fs) in (1, 11) and eof):
            print("limited")
        else:
            print("refused %d protocol %d goaway %s closed %s" % (
                codes.count(7), codes.count(1), goaway(fs), eof))
    elif cmd == "rapid-reset":
        n = int(sys.argv[3])
        s = start(port)
        out = b""
        for i in range(n):
            sid = 2 * i + 1
            out += frame(1, 4, sid, b"\x83\x86" + lit(4, b"/hello") +
                         lit(1, b"h2.test"))
            out += frame(3, 0, sid, struct.pack(">I", 8))
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, eof = read_for(s, 5)
        print("goaway %s closed %s" % (goaway(frames(data)), eof))
    elif cmd == "goaway-server":
        goaway_server(port)
    elif cmd == "stall-server":
        goaway_server(port, stall=True)
    elif cmd == "reset-server":
        goaway_server(port, stall="reset")
    elif cmd == "drop-server":
        goaway_server(port, stall="drop")
    elif cmd == "cancel":
        s = start(port)
        s.sendall(frame(1, 4, 1, b"\x83\x86" + lit(4, b"/cancel") +
                        lit(1, b"h2.test")))
        time.sleep(0.5)
        s.sendall(frame(3, 0, 1, struct.pack(">I", 8)))
        read_for(s, 1)
        print("cancelled")
    elif cmd == "idle":
        s = start(port)
        data, eof = read_for(s, float(sys.argv[3]))
        print("goaway %s closed %s" % (goaway(frames(data)), eof))
    elif cmd == "slow-read":
        path, secs = sys.argv[3].encode(), float(sys.argv[4])
        s = connect(port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        # windows as large as allowed: only our not reading holds it back
        s.sendall(PREFACE + settings([(4, 0x7fffffff)]) + frame(4, 1, 0) +
                  frame(8, 0, 0, struct.pack(">I", 0x7fffffff - 65535)) +
                  frame(1, 5, 1, get_block(path)))
        print("stalled", flush=True)
        time.sleep(secs)
        s.close()
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
