#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 35-grpc: conduit's gRPC server and client (src/grpc.c over src/h2.c)
# against real peers: Debian's python3-grpcio as client of our server and
# as server for our client (unary, server streaming, an error whose message
# carries spaces, quotes and UTF-8, deadlines, cancels, unknown methods,
# oversized messages, no server at all), then h2load and nghttp hammering
# our server with many streams, garbage and a rapid-reset flood while a
# good call still succeeds. Our side is build/test/grpc-peer (a test-only
# program, test/peers/grpc_peer.c); the service is test/peers/echo.proto,
# whose python stubs are generated here with protoc.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PEER=${GRPC_PEER:-$(dirname "$CONDUIT")/test/grpc-peer}
PY=/usr/bin/python3

if [ ! -x "$PEER" ]; then
	skip "gRPC against grpcio" "$PEER missing (make $(dirname "$CONDUIT")/test/grpc-peer)"
	finish
fi
for tool in protoc /usr/bin/grpc_python_plugin; do
	if ! command -v "$tool" >/dev/null; then
		skip "gRPC against grpcio" "$tool missing (scripts/install-deps)"
		finish
	fi
done
if ! $PY -c 'import grpc, google.protobuf' 2>/dev/null; then
	skip "gRPC against grpcio" "python3-grpcio or python3-protobuf missing (scripts/install-deps)"
	finish
fi

# --- python stubs and tools ---------------------------------------------------
mkdir -p "$TMP/py"
check "protoc generates the python stubs of echo.proto" \
	protoc -I "$HERE/../peers" --python_out="$TMP/py" --grpc_out="$TMP/py" \
	--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$HERE/../peers/echo.proto"

cat >"$TMP/py/echo_client.py" <<'EOF'
# grpcio as a client of our server: one call per run, results on stdout
import sys, grpc, echo_pb2, echo_pb2_grpc

def status(e):
    print("status: %s %s" % (e.code().name, e.details()))

cmd, addr = sys.argv[1], sys.argv[2]
ch = grpc.insecure_channel(addr)
grpc.channel_ready_future(ch).result(timeout=5)
stub = echo_pb2_grpc.EchoStub(ch)
try:
    if cmd == "unary":
        r = stub.Unary(echo_pb2.EchoRequest(message=sys.argv[3]), timeout=5)
        print("reply: %s" % r.message)
    elif cmd == "stream":
        for r in stub.ServerStream(echo_pb2.StreamRequest(
                message=sys.argv[3], count=int(sys.argv[4]), interval_ms=5), timeout=5):
            print("reply: %s %d" % (r.message, r.seq))
    elif cmd == "fail":
        stub.Fail(echo_pb2.FailRequest(code=int(sys.argv[3]), message=sys.argv[4]), timeout=5)
    elif cmd == "deadline":
        stub.Unary(echo_pb2.EchoRequest(message="slow", delay_ms=int(sys.argv[3])),
                   timeout=float(sys.argv[4]))
    elif cmd == "cancel":
        it = stub.ServerStream(echo_pb2.StreamRequest(message="c", count=1000, interval_ms=20))
        for n, r in enumerate(it):
            if n + 1 == int(sys.argv[3]):
                it.cancel()
                print("cancelled after %d" % (n + 1))
                break
    elif cmd == "method":
        call = ch.unary_unary(sys.argv[3], request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        call(b"", timeout=5)
    elif cmd == "big":
        r = stub.Unary(echo_pb2.EchoRequest(message="x" * int(sys.argv[3])), timeout=5)
        print("reply: %d bytes" % len(r.message))
    print("status: OK")
except grpc.RpcError as e:
    status(e)
EOF

cat >"$TMP/py/echo_server.py" <<'EOF'
# grpcio as the server our client calls; says on stdout what it saw
import sys, time, grpc, echo_pb2, echo_pb2_grpc
from concurrent import futures

class Echo(echo_pb2_grpc.EchoServicer):
    def Unary(self, req, ctx):
        end = time.time() + req.delay_ms / 1000.0
        while time.time() < end and ctx.is_active():
            time.sleep(0.01)
        if not ctx.is_active():
            print("cancelled Unary", flush=True)
        return echo_pb2.EchoReply(message=req.message)

    def ServerStream(self, req, ctx):
        # grpcio may close the generator at a yield when the client
        # cancels: the termination callback sees it either way
        done = []
        ctx.add_callback(lambda: done or print("cancelled ServerStream", flush=True))
        for i in range(req.count):
            if not ctx.is_active():
                return
            yield echo_pb2.EchoReply(message="%s %d" % (req.message, i), seq=i)
            time.sleep(req.interval_ms / 1000.0)
        done.append(True)

    def Fail(self, req, ctx):
        code = [c for c in grpc.StatusCode if c.value[0] == req.code][0]
        ctx.abort(code, req.message)

srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
echo_pb2_grpc.add_EchoServicer_to_server(Echo(), srv)
port = srv.add_insecure_port("127.0.0.1:0")
srv.start()
print("listening 127.0.0.1:%d" % port, flush=True)
srv.wait_for_termination()
EOF

cat >"$TMP/py/abuse.py" <<'EOF'
# hand-made bytes for our server: garbage, cut prefaces, a rapid reset
import os, socket, struct, sys, time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

def frame(typ, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + \
        struct.pack(">I", sid) + payload

def hpack_literal(index, value):
    # literal without indexing, indexed name (4-bit prefix)
    out = bytes([index]) if index < 15 else bytes([15, index - 15])
    return out + bytes([len(value)]) + value

def request_block(path):
    return b"\x83\x86" + hpack_literal(4, path) + hpack_literal(1, b"t") + \
        hpack_literal(31, b"application/grpc")

def read_all(s, secs):
    s.settimeout(secs)
    data, end = b"", time.time() + secs
    while time.time() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not b:
            return data, True
        data += b
    return data, False

def goaway_code(data):
    at = 0
    while at + 9 <= len(data):
        n = int.from_bytes(data[at:at + 3], "big")
        if data[at + 3] == 7 and at + 9 + 8 <= len(data):
            return int.from_bytes(data[at + 13:at + 17], "big")
        at += 9 + n
    return None

port = int(sys.argv[2])
if sys.argv[1] == "garbage":
    cases = [os.urandom(4096), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", PREFACE[:10],
             b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),
             PREFACE + os.urandom(2048),
             PREFACE + frame(4, 0, 0) + frame(1, 4, 2, b"\xff" * 64),
             PREFACE + frame(4, 0, 0) + frame(0, 0, 1, b"data on an idle stream")]
    closed = 0
    for c in cases:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(c)
        if c == PREFACE[:10]:
            s.shutdown(socket.SHUT_WR)
        _, eof = read_all(s, 3)
        closed += eof
        s.close()
    print("closed %d of %d" % (closed, len(cases)))
elif sys.argv[1] == "rapid-reset":
    s = socket.create_connection(("127.0.0.1", port))
    out = PREFACE + frame(4, 0, 0) + frame(4, 1, 0)
    for i in range(int(sys.argv[3])):
        sid = 2 * i + 1
        out += frame(1, 4, sid, request_block(b"/conduit.test.Echo/ServerStream"))
        out += frame(3, 0, sid, struct.pack(">I", 8))
    try:
        s.sendall(out)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data, eof = read_all(s, 5)
    print("goaway %s closed %s" % (goaway_code(data), eof))
elif sys.argv[1] == "many-conns":
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(int(sys.argv[3]))]
    for s in socks:
        s.sendall(PREFACE + frame(4, 0, 0))
    time.sleep(0.5)
    for s in socks:
        s.close()
    print("opened %d" % len(socks))
EOF

CLIENT="$PY $TMP/py/echo_client.py"
export PYTHONPATH="$TMP/py"

# --- grpcio client -> our server ------------------------------------------------
spawn peer "$PEER" serve 127.0.0.1:0
SERVER_PID=$SPAWNED
wait_until 5 grep -q '^listening' "$TMP/peer.log"
ADDR=$(sed -n 's/^listening //p' "$TMP/peer.log")
PORT=${ADDR##*:}
expect_match "our server listens" "$ADDR" '^127\.0\.0\.1:[0-9]+$'

run $CLIENT unary "$ADDR" "hello conduit"
expect_eq "grpcio unary call to our server" "$OUT" "reply: hello conduit
status: OK"

run $CLIENT stream "$ADDR" item 5
expect_eq "grpcio server-streaming call: 5 replies pushed from a timer, in order" "$OUT" \
"reply: item 0 0
reply: item 1 1
reply: item 2 2
reply: item 3 3
reply: item 4 4
status: OK"

MSG='pod "web-1" is not ready: café ✗ 100% done'
run $CLIENT fail "$ADDR" 9 "$MSG"
expect_eq "an error status with spaces, quotes, %, UTF-8 reaches grpcio intact" "$OUT" \
	"status: FAILED_PRECONDITION $MSG"

run $CLIENT deadline "$ADDR" 3000 0.3
expect_match "grpcio deadline: DEADLINE_EXCEEDED (its own timer or our server's status, whichever first)" "$OUT" '^status: DEADLINE_EXCEEDED [Dd]eadline [Ee]xceeded$'
wait_until 3 grep -q 'cancelled /conduit.test.Echo/Unary' "$TMP/peer.log"
expect_match "our handler was told (grpc-timeout or RST_STREAM)" "$(cat "$TMP/peer.log")" \
	'cancelled /conduit.test.Echo/Unary'

run $CLIENT cancel "$ADDR" 3
expect_eq "grpcio cancels a stream after 3 replies" "$OUT" "cancelled after 3
status: OK"
wait_until 3 grep -q 'cancelled /conduit.test.Echo/ServerStream' "$TMP/peer.log"
expect_match "our handler hears of the cancel and drops its timer" "$(cat "$TMP/peer.log")" \
	'cancelled /conduit.test.Echo/ServerStream'

run $CLIENT method "$ADDR" /conduit.test.Echo/Nope
expect_eq "unknown method: UNIMPLEMENTED" "$OUT" \
	"status: UNIMPLEMENTED unknown method /conduit.test.Echo/Nope"
run $CLIENT method "$ADDR" /no.Such/Service
expect_match "unknown service: UNIMPLEMENTED" "$OUT" '^status: UNIMPLEMENTED'

spawn small "$PEER" serve 127.0.0.1:0 max_recv=1024
wait_until 5 grep -q '^listening' "$TMP/small.log"
SMALL=$(sed -n 's/^listening //p' "$TMP/small.log")
run $CLIENT big "$SMALL" 4096
expect_match "a request over max_recv: RESOURCE_EXHAUSTED" "$OUT" \
	'^status: RESOURCE_EXHAUSTED request message larger than max \([0-9]+ vs\. 1024\)'
run $CLIENT big "$SMALL" 900
expect_eq "one under it passes" "$OUT" "reply: 900 bytes
status: OK"

# --- our client -> grpcio server --------------------------------------------------
spawn pysrv $PY "$TMP/py/echo_server.py"
wait_until 10 grep -q '^listening' "$TMP/pysrv.log"
PYADDR=$(sed -n 's/^listening //p' "$TMP/pysrv.log")
expect_match "the grpcio server listens" "$PYADDR" '^127\.0\.0\.1:[0-9]+$'

run "$PEER" call "$PYADDR" unary "message=hello grpcio"
expect_eq "our unary call to grpcio" "$OUT" "reply: hello grpcio 0
status: 0 OK "

run "$PEER" call "$PYADDR" stream message=s count=4 interval=5
expect_eq "our server-streaming call to grpcio: 4 replies" "$OUT" "reply: s 0 0
reply: s 1 1
reply: s 2 2
reply: s 3 3
status: 0 OK "

run "$PEER" call "$PYADDR" fail code=5 "message=$MSG"
expect_eq "grpcio's error status and UTF-8 message reach our client intact" "$OUT" \
	"status: 5 NOT_FOUND $MSG"

run "$PEER" call "$PYADDR" unary message=slow delay=3000 timeout=0.3
expect_match "our deadline: DEADLINE_EXCEEDED (our timer or grpcio's status, whichever first)" "$OUT" '^status: 4 DEADLINE_EXCEEDED [Dd]eadline [Ee]xceeded$'
wait_until 5 grep -q 'cancelled Unary' "$TMP/pysrv.log"
expect_match "grpcio saw the deadline (grpc-timeout) or our RST_STREAM" \
	"$(cat "$TMP/pysrv.log")" 'cancelled Unary'

run "$PEER" call "$PYADDR" stream count=1000 interval=20 cancel_after=2
expect_eq "our client cancels a grpcio stream" "$OUT" "reply:  0 0
reply:  1 1
cancelled after 2"
wait_until 5 grep -q 'cancelled ServerStream' "$TMP/pysrv.log"
expect_match "grpcio's handler sees the cancel" "$(cat "$TMP/pysrv.log")" 'cancelled ServerStream'

DEAD=$(free_port)
run "$PEER" call "127.0.0.1:$DEAD" unary message=x timeout=2
expect_match "no server: UNAVAILABLE at once" "$OUT" '^status: 14 UNAVAILABLE connect to 127\.0\.0\.1:[0-9]+: Connection refused'

# --- hammering our server ----------------------------------------------------------
printf '\0\0\0\0\6\x0a\x04load' >"$TMP/req.bin"
rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
if command -v h2load >/dev/null; then
	run h2load -n 20000 -c 8 -m 50 -d "$TMP/req.bin" -H 'content-type: application/grpc' \
		-H 'te: trailers' "http://$ADDR/conduit.test.Echo/Unary"
	expect_match "h2load: 20000 gRPC calls over 8 connections, 50 streams each" "$OUT" \
		'requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed'
	expect_match "h2load: every response 2xx" "$OUT" 'status codes: 20000 2xx'
	run h2load -n 2000 -c 1 -m 150 -d "$TMP/req.bin" -H 'content-type: application/grpc' \
		"http://$ADDR/conduit.test.Echo/Unary"
	expect_match "h2load: 150 streams asked on one connection, 100 allowed, all served" "$OUT" \
		'2000 succeeded, 0 failed'
else
	skip "h2load" "nghttp2-client missing"
fi

if command -v nghttp >/dev/null; then
	run nghttp -nv -H ':method: POST' -H 'content-type: text/plain' -d "$TMP/req.bin" \
		"http://$ADDR/conduit.test.Echo/Unary"
	expect_match "nghttp with a bad content-type: HTTP 415" "$OUT" ':status: 415'
	expect_match "... and grpc-status INTERNAL" "$OUT" 'grpc-status: 13'
else
	skip "nghttp" "nghttp2-client missing"
fi

run $PY "$TMP/py/abuse.py" garbage "$PORT"
expect_eq "garbage, HTTP/1, TLS, cut prefaces and bad frames: every connection closed" \
	"$OUT" "closed 7 of 7"
run $PY "$TMP/py/abuse.py" rapid-reset "$PORT" 500
expect_eq "a rapid-reset flood gets GOAWAY ENHANCE_YOUR_CALM and is closed" \
	"$OUT" "goaway 11 closed True"
run $PY "$TMP/py/abuse.py" many-conns "$PORT" 200
expect_eq "200 connections at once" "$OUT" "opened 200"

run $CLIENT unary "$ADDR" "still here"
expect_eq "after all that, a good call still succeeds" "$OUT" "reply: still here
status: OK"
check "our server is still running" kill -0 "$SERVER_PID"
rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
if [ -n "$rss0" ] && [ -n "$rss1" ] && [ "$rss1" -lt $((rss0 + 65536)) ]; then
	ok "server memory stays bounded (RSS ${rss0} -> ${rss1} KiB)"
else
	not_ok "server memory grew: RSS ${rss0:-?} -> ${rss1:-?} KiB"
fi

stop "$SERVER_PID"
expect_eq "SIGTERM stops our server cleanly" "$?" 0
finish
