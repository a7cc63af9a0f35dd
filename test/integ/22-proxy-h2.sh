#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 22-proxy-h2: `conduit proxy` in explicit mode on loopback serves HTTP/2
# itself (proxy_h2.c): nghttp, curl and h2load against nghttpd through it,
# pooled upstream connections, 100 MiB each way in bounded memory, a
# client that stops reading, gRPC (python3-grpcio both ends: unary, server
# streaming, an error status and message intact, a dead upstream, a
# grpc-timeout), hand-made abuse (garbage, a cut preface, oversized
# headers, too many streams, a rapid-reset flood) after which a good
# client is still served, and metrics that match the traffic exactly.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
TOOLS="$PY $HERE/proxy_h2_tools.py"

for tool in nghttp nghttpd h2load curl promtool protoc /usr/bin/grpc_python_plugin; do
	if ! command -v $tool >/dev/null; then
		skip "proxy HTTP/2 tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done
if ! $PY -c 'import grpc, google.protobuf' 2>/dev/null; then
	skip "proxy HTTP/2 tests" "python3-grpcio or python3-protobuf missing (scripts/install-deps)"
	finish
fi

# metrics NAME MATCH FILE: the sum of NAME's series whose labels hold MATCH
msum() { awk -v n="$1" -v m="$2" '$1 ~ "^"n"{" && index($1, m) { s += $2 } END { print s + 0 }' "$3"; }
scrape() { curl -s -m 5 "http://127.0.0.1:$1/metrics" >"$2"; }

# --- origins ------------------------------------------------------------------
mkdir -p "$TMP/www"
echo hello >"$TMP/www/hello"
head -c 300000 /dev/urandom >"$TMP/www/mid"
ORIGIN=$(free_port)
spawn nghttpd nghttpd --no-tls -d "$TMP/www" "$ORIGIN"
wait_port 127.0.0.1 "$ORIGIN" 10 || { not_ok "nghttpd did not start"; finish; }

start_proxy P "127.0.0.1:$ORIGIN" --http-response-timeout 2s
U="http://127.0.0.1:$P_IN"
SENT=0 # requests through P, for the metrics check

# --- basic exchanges ------------------------------------------------------------
run timeout 10 nghttp -nv "$U/hello"
expect_match "nghttp GET through the proxy: 200" "$OUT" 'recv \(stream_id=[0-9]+\) :status: 200'
expect_match "the origin's headers come back" "$OUT" 'recv \(stream_id=[0-9]+\) server: nghttpd'
SENT=$((SENT + 1))
expect_match "detected and served by the h2 handler" "$(cat "$TMP/P.log")" \
	'msg="protocol detected" dir=inbound proto=h2 handler=h2'

run timeout 10 nghttp "$U/mid"
cp "$TMP/out" "$TMP/mid.out"
check "nghttp GET: the 300 kB body byte for byte" cmp "$TMP/www/mid" "$TMP/mid.out"
SENT=$((SENT + 1))

head -c 200000 /dev/urandom >"$TMP/up.bin"
run timeout 10 nghttp -nv -d "$TMP/up.bin" "$U/hello"
expect_match "nghttp POST with a 200 kB body: 200" "$OUT" ':status: 200'
SENT=$((SENT + 1))
wait_until 3 grep -q 'path=/hello status=200 .*up_bytes=200000 ' "$TMP/P.log"
expect_match "the proxy forwarded all 200000 body bytes" "$(cat "$TMP/P.log")" \
	'msg="h2 stream" .*path=/hello status=200 .*up_bytes=200000 '

run timeout 10 curl -s --http2-prior-knowledge -w ' %{http_version} %{http_code}' "$U/hello"
expect_eq "curl --http2-prior-knowledge through the proxy" "$OUT" "hello
 2 200"
SENT=$((SENT + 1))

run timeout 10 curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$U/nope"
expect_eq "an upstream 404 reaches the client" "$OUT" 404
SENT=$((SENT + 1))

# --- pooling --------------------------------------------------------------------
scrape "$P_ADMIN" "$TMP/m0"
dst0=$(msum tcp_open_total 'peer="dst"' "$TMP/m0")
run timeout 60 h2load -c4 -m10 -n2000 "$U/hello"
expect_match "h2load -c4 -m10 -n2000: all succeed" "$OUT" \
	'requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed'
expect_match "h2load: all 2xx" "$OUT" 'status codes: 2000 2xx'
SENT=$((SENT + 2000))
scrape "$P_ADMIN" "$TMP/m1"
dst1=$(msum tcp_open_total 'peer="dst"' "$TMP/m1")
echo "# upstream connections opened for 4 client connections x 2000 streams: $((dst1 - dst0))"
if [ "$((dst1 - dst0))" -le 1 ]; then
	ok "pooled: 2000 streams from 4 clients took $((dst1 - dst0)) new upstream connection(s)"
else
	not_ok "pooling: $((dst1 - dst0)) upstream connections for 2000 streams"
fi
expect_eq "the pooled connection stays open for the next client" \
	"$(msum tcp_open_connections 'peer="dst"' "$TMP/m1")" 1

# --- 100 MiB each way --------------------------------------------------------------
truncate -s 100M "$TMP/www/big"
run timeout 120 curl -s --http2-prior-knowledge -o "$TMP/big.out" -w '%{size_download}' "$U/big"
expect_eq "a 100 MiB download through the proxy" "$OUT" 104857600
check "with the right bytes" cmp "$TMP/www/big" "$TMP/big.out"
rm -f "$TMP/big.out"
SENT=$((SENT + 1))
run timeout 120 sh -c "head -c 104857600 /dev/urandom | curl -s --http2-prior-knowledge \
	--data-binary @- -o /dev/null -w '%{http_code}' '$U/hello'"
expect_eq "a 100 MiB upload through the proxy: 200" "$OUT" 200
SENT=$((SENT + 1))
wait_until 3 grep -q 'up_bytes=104857600 ' "$TMP/P.log"
expect_match "the upstream got all 104857600 bytes" "$(cat "$TMP/P.log")" \
	'msg="h2 stream" .*status=200 .*up_bytes=104857600 '
rm -f "$TMP/www/big"
hwm=$(hwm_kib "$P_PID")
echo "# proxy VmHWM after 200 MiB of HTTP/2 bodies: ${hwm} KiB"
if [ -n "$hwm" ] && [ "$hwm" -lt "$(rss_bound 24576)" ]; then
	ok "peak RSS stays under 24 MiB (${hwm} KiB)"
else
	not_ok "peak RSS ${hwm} KiB, want < $(rss_bound 24576)"
fi

# --- a client that stops reading ----------------------------------------------------
truncate -s 200M "$TMP/www/huge"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
r0=$(rss "$P_PID")
coproc SLOW { $TOOLS slow-read "$P_IN" /huge 4 2>&1; }
read -r -t 5 line <&"${SLOW[0]}"
sleep 2
r1=$(rss "$P_PID")
sleep 1
r2=$(rss "$P_PID")
echo "# proxy RSS: before ${r0} KiB, slow reader stalled ${r1} -> ${r2} KiB"
if [ "$line" = stalled ] && [ "$r2" -lt $((r0 + 8192)) ] && [ "$r2" -le $((r1 + 512)) ]; then
	ok "a client that stops reading a 200 MiB body: proxy RSS bounded (${r0} -> ${r2} KiB) and flat"
else
	not_ok "slow reader: RSS ${r0} -> ${r1} -> ${r2} KiB ($line)"
fi
run timeout 10 curl -s --http2-prior-knowledge "$U/hello"
expect_eq "meanwhile another client is served" "$OUT" hello
SENT=$((SENT + 2)) # the slow one has its 200 head too
wait "$SLOW_PID" 2>/dev/null
rm -f "$TMP/www/huge"

# --- abuse -----------------------------------------------------------------------
start_proxy A "127.0.0.1:$ORIGIN" --h2-max-concurrent-streams 10
run timeout 10 $TOOLS garbage "$A_IN"
expect_match "garbage after the preface: GOAWAY with an error, closed" "$OUT" '^goaway [1-9][0-9]* closed True$'
run timeout 15 $TOOLS truncated "$A_IN"
expect_eq "a cut preface and FIN: closed" "$OUT" "closed True"
run timeout 10 $TOOLS bigheaders "$A_IN"
expect_eq "an 80 kB header list: that stream reset PROTOCOL_ERROR, the next one served" \
	"$OUT" "rst1 1 status3 200"
run timeout 10 $TOOLS streams "$A_IN" 50
expect_eq "50 streams at once over a limit of 10: refused, or a protocol error" "$OUT" limited
run timeout 10 $TOOLS rapid-reset "$A_IN" 500
expect_eq "a rapid-reset flood: GOAWAY ENHANCE_YOUR_CALM, closed" "$OUT" "goaway 11 closed True"
run timeout 10 curl -s --http2-prior-knowledge -w ' %{http_code}' "http://127.0.0.1:$A_IN/hello"
expect_eq "after all that, a good client is served" "$OUT" "hello
 200"
check "the proxy is still up" kill -0 "$A_PID"

# --- dead upstream --------------------------------------------------------------------
DEAD=$(free_port)
start_proxy D "127.0.0.1:$DEAD"
run timeout 10 curl -s --http2-prior-knowledge -D "$TMP/h" -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$D_IN/x"
expect_eq "a dead upstream: 502" "$OUT" 502
expect_match "with conduit-proxy-error" "$(cat "$TMP/h")" 'conduit-proxy-error: upstream connection refused'

# --- upstream GOAWAY: what it did not process is sent again ---------------------------
GA=$(free_port)
spawn goaway $TOOLS goaway-server "$GA"
wait_until 10 grep -q listening "$TMP/goaway.log" # no probe: it would be a connection
start_proxy R "127.0.0.1:$GA"
run timeout 10 curl -s --http2-prior-knowledge "http://127.0.0.1:$R_IN/x"
expect_eq "a GET the upstream's GOAWAY left unprocessed is retried on a new connection" \
	"$OUT" "served on connection 2"
wait_until 3 grep -q 'path=/x status=200 .*retries=1 ' "$TMP/R.log"
expect_match "... once" "$(cat "$TMP/R.log")" 'msg="h2 stream" .*path=/x status=200 .*retries=1 '
stop "$R_PID"
start_proxy R "127.0.0.1:$GA"
run timeout 10 curl -s --http2-prior-knowledge -d 'a small body' "http://127.0.0.1:$R_IN/post"
expect_eq "a POST with a small body too (the body is kept until the response)" \
	"$OUT" "served on connection 4"
wait_until 3 grep -q 'path=/post status=200 .*retries=1 up_bytes=12 ' "$TMP/R.log"
expect_match "... and its 12 body bytes were sent again" "$(cat "$TMP/R.log")" \
	'msg="h2 stream" .*path=/post status=200 .*retries=1 up_bytes=12 '
stop "$R_PID"
# an upstream that drops the connection with the request in it (a crash):
# maybe processed, so only a safe method is sent again
DR=$(free_port)
spawn drop $TOOLS drop-server "$DR"
wait_until 10 grep -q listening "$TMP/drop.log"
start_proxy DP "127.0.0.1:$DR"
run timeout 10 curl -s --http2-prior-knowledge "http://127.0.0.1:$DP_IN/get"
expect_eq "a GET whose upstream connection dropped is sent again on a new one" \
	"$OUT" "served on connection 2"
wait_until 3 grep -q 'path=/get status=200 .*retries=1 ' "$TMP/DP.log"
expect_match "... once" "$(cat "$TMP/DP.log")" 'msg="h2 stream" .*path=/get status=200 .*retries=1 '
stop "$DP_PID"
start_proxy DP "127.0.0.1:$DR" # a new pool: its connection is the third
run timeout 10 curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}' -d 'pay once' \
	"http://127.0.0.1:$DP_IN/pay"
expect_eq "a POST is not: the client hears 502 (it may have been processed)" "$OUT" 502
expect_eq "the upstream saw it once (connections 1 and 3 dropped, nothing more)" "$(grep -c '^dropped conn' "$TMP/drop.log")" 2
stop "$DP_PID"

# --- gRPC ---------------------------------------------------------------------------
mkdir -p "$TMP/py"
check "protoc generates the python stubs of echo.proto" \
	protoc -I "$HERE/../peers" --python_out="$TMP/py" --grpc_out="$TMP/py" \
	--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$HERE/../peers/echo.proto"
cat >"$TMP/py/client.py" <<'EOF'
import sys, grpc, echo_pb2, echo_pb2_grpc
cmd, addr = sys.argv[1], sys.argv[2]
ch = grpc.insecure_channel(addr)
stub = echo_pb2_grpc.EchoStub(ch)
try:
    if cmd == "unary":
        r = stub.Unary(echo_pb2.EchoRequest(message=sys.argv[3]), timeout=5)
        print("reply: %s" % r.message)
    elif cmd == "big":
        m = "x" * int(sys.argv[3])
        r = stub.Unary(echo_pb2.EchoRequest(message=m), timeout=10)
        print("reply: %d bytes %s" % (len(r.message), r.message == m))
    elif cmd == "stream":
        for r in stub.ServerStream(echo_pb2.StreamRequest(
                message=sys.argv[3], count=int(sys.argv[4]), interval_ms=5), timeout=5):
            print("reply: %s %d" % (r.message, r.seq))
    elif cmd == "fail":
        stub.Fail(echo_pb2.FailRequest(code=int(sys.argv[3]), message=sys.argv[4]), timeout=5)
    elif cmd == "slow":
        stub.Unary(echo_pb2.EchoRequest(message="slow", delay_ms=int(sys.argv[3])),
                   timeout=float(sys.argv[4]))
    print("status: OK")
except grpc.RpcError as e:
    print("status: %s %s" % (e.code().name, e.details()))
EOF
cat >"$TMP/py/server.py" <<'EOF'
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
        for i in range(req.count):
            yield echo_pb2.EchoReply(message="%s %d" % (req.message, i), seq=i)
            time.sleep(req.interval_ms / 1000.0)

    def Fail(self, req, ctx):
        code = [c for c in grpc.StatusCode if c.value[0] == req.code][0]
        ctx.abort(code, req.message)

srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                  options=[("grpc.max_receive_message_length", 8 << 20)])
echo_pb2_grpc.add_EchoServicer_to_server(Echo(), srv)
port = srv.add_insecure_port("127.0.0.1:0")
srv.start()
print("listening 127.0.0.1:%d" % port, flush=True)
srv.wait_for_termination()
EOF
export PYTHONPATH="$TMP/py"
CLIENT="timeout 20 $PY $TMP/py/client.py"
spawn pysrv $PY "$TMP/py/server.py"
wait_until 10 grep -q '^listening' "$TMP/pysrv.log"
GADDR=$(sed -n 's/^listening //p' "$TMP/pysrv.log")
start_proxy G "$GADDR"
G="127.0.0.1:$G_IN"
GOK=0 # gRPC calls through G ending OK

run $CLIENT unary "$G" "hello through the mesh"
expect_eq "grpcio unary call through the proxy" "$OUT" "reply: hello through the mesh
status: OK"
GOK=$((GOK + 1))
run $CLIENT big "$G" 3000000
expect_eq "a 3 MB message each way, intact" "$OUT" "reply: 3000000 bytes True
status: OK"
GOK=$((GOK + 1))
run $CLIENT stream "$G" item 5
expect_eq "server streaming through the proxy: 5 replies in order" "$OUT" "reply: item 0 0
reply: item 1 1
reply: item 2 2
reply: item 3 3
reply: item 4 4
status: OK"
GOK=$((GOK + 1))
MSG='pod "web-1" is not ready: café ✗ 100% done'
run $CLIENT fail "$G" 9 "$MSG"
expect_eq "an error status and its message (quotes, %, UTF-8) reach the client intact" "$OUT" \
	"status: FAILED_PRECONDITION $MSG"
printf '\0\0\0\0\x09\x0a\x04slow\x10\xb8\x17' >"$TMP/slow.bin" # delay_ms=3000
run timeout 10 nghttp -nv -H ':method: POST' -H 'content-type: application/grpc' \
	-H 'te: trailers' -H 'grpc-timeout: 300m' -d "$TMP/slow.bin" "http://$G/conduit.test.Echo/Unary"
expect_match "grpc-timeout forwarded: DEADLINE_EXCEEDED (upstream's or proxy's)" "$OUT" 'grpc-status: 4'
wait_until 5 grep -q 'cancelled Unary' "$TMP/pysrv.log"
expect_match "and the upstream call was cancelled" "$(cat "$TMP/pysrv.log")" 'cancelled Unary'
STALL=$(free_port)
spawn stall $TOOLS stall-server "$STALL"
wait_until 10 grep -q listening "$TMP/stall.log"
start_proxy T "127.0.0.1:$STALL" --http-response-timeout 1s
run timeout 10 nghttp -nv -H ':method: POST' -H 'content-type: application/grpc' \
	-H 'te: trailers' -H 'grpc-timeout: 300m' -d "$TMP/slow.bin" \
	"http://127.0.0.1:$T_IN/conduit.test.Echo/Unary"
expect_match "an upstream that never answers: the proxy honours grpc-timeout" "$OUT" 'grpc-status: 4'
expect_match "... saying why" "$OUT" 'conduit-proxy-error: grpc-timeout exceeded'
wait_until 3 grep -q 'rst stream' "$TMP/stall.log"
expect_match "... and cancels the upstream stream (RST_STREAM CANCEL)" "$(cat "$TMP/stall.log")" \
	'^rst stream 1 code 8$'
run timeout 10 curl -s --http2-prior-knowledge -D "$TMP/h" -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$T_IN/plain"
expect_eq "a plain request to it: 504 after --http-response-timeout" "$OUT" 504
expect_match "with conduit-proxy-error" "$(cat "$TMP/h")" 'conduit-proxy-error: upstream response timeout'
run timeout 10 $TOOLS cancel "$T_IN"
wait_until 3 test "$(grep -c '^rst stream [0-9]* code 8$' "$TMP/stall.log")" -ge 3
# CANCELs so far: the deadline, the 504, and this one
expect_eq "a client's RST_STREAM CANCEL resets the upstream stream" \
	"$(grep -c '^rst stream [0-9]* code 8$' "$TMP/stall.log")" 3
RST=$(free_port)
spawn rst $TOOLS reset-server "$RST"
wait_until 10 grep -q listening "$TMP/rst.log"
start_proxy X "127.0.0.1:$RST"
run timeout 10 nghttp -nv "http://127.0.0.1:$X_IN/x"
expect_match "an upstream's RST_STREAM after the head: the client gets the same code" "$OUT" \
	'recv RST_STREAM frame <length=4, flags=0x00, stream_id=13>'
expect_match "... INTERNAL_ERROR" "$OUT" 'error_code=INTERNAL_ERROR\(0x02\)'

# --- limits: pending requests, connect timeout, idle timeouts ---------------------------
STUCK=$(free_port)
spawn stuck $PY "$HERE/proxy_tools.py" stuck "$STUCK"
sleep 0.5
start_proxy K "127.0.0.1:$STUCK" --inbound-connect-timeout 1s --h2-max-pending-requests 5
run timeout 20 h2load -n10 -c1 -m10 "http://127.0.0.1:$K_IN/x"
expect_match "10 requests to an upstream that does not connect: all 5xx" "$OUT" \
	'status codes: 0 2xx, 0 3xx, 0 4xx, 10 5xx'
expect_eq "5 waited (the queue bound), then 504 at the connect timeout" \
	"$(grep -c 'status=504 .*reason="upstream connect timeout"' "$TMP/K.log")" 5
expect_eq "5 found the queue full: 503 at once" \
	"$(grep -c 'status=503 .*reason="too many pending requests"' "$TMP/K.log")" 5
start_proxy I "127.0.0.1:$ORIGIN" --h2-upstream-idle-timeout 1s --h2-idle-timeout 1s
run timeout 10 curl -s --http2-prior-knowledge "http://127.0.0.1:$I_IN/hello"
expect_eq "a request through a proxy with 1 s idle timeouts" "$OUT" hello
run timeout 10 $TOOLS idle "$I_IN" 4
expect_eq "an idle client connection gets GOAWAY NO_ERROR and is closed" "$OUT" "goaway 0 closed True"
scrape "$I_ADMIN" "$TMP/im.txt"
expect_eq "the idle upstream connection was closed" \
	"$(msum tcp_open_connections 'peer="dst"' "$TMP/im.txt")/$(msum tcp_close_total 'peer="dst"' "$TMP/im.txt")" "0/1"
# grpcio's own deadline races the proxy's (both from grpc-timeout): on a
# proxy of its own, so that G's metrics are exact
start_proxy S "$GADDR"
run $CLIENT slow "127.0.0.1:$S_IN" 3000 0.5
expect_match "grpcio with a 0.5 s deadline to a stalled call: DEADLINE_EXCEEDED" "$OUT" \
	'^status: DEADLINE_EXCEEDED'
run $CLIENT unary "127.0.0.1:$D_IN" "anyone?"
expect_match "a gRPC call to a dead upstream: UNAVAILABLE" "$OUT" '^status: UNAVAILABLE'
run timeout 10 nghttp -nv -H ':method: POST' -H 'content-type: application/grpc' \
	-d "$TMP/slow.bin" "http://127.0.0.1:$D_IN/conduit.test.Echo/Unary"
expect_match "... as HTTP 200" "$OUT" 'recv \(stream_id=13\) :status: 200'
expect_match "... Trailers-Only: grpc-status 14 in the head, which ends the stream" \
	"$(tr '\n' ' ' <"$TMP/out")" 'grpc-status: 14 .*recv HEADERS frame <length=[0-9]+, flags=0x05, stream_id=13>'
expect_match "... with a grpc-message" "$OUT" 'grpc-message: upstream connection refused'

# --- metrics match the traffic ---------------------------------------------------------
scrape "$P_ADMIN" "$TMP/metrics.txt"
run promtool check metrics <"$TMP/metrics.txt"
if [ "$RC" = 0 ] || [ "$RC" = 3 ]; then ok "promtool check metrics passes (exit $RC)"; else
	not_ok "promtool check metrics (exit $RC)"
	diag "$TMP/err"
fi
expect_eq "request_total counts every request through P" \
	"$(msum request_total 'direction="inbound"' "$TMP/metrics.txt")" "$SENT"
expect_eq "response_total{status_code=404} = 1" \
	"$(msum response_total 'classification="success",status_code="404"' "$TMP/metrics.txt")" 1
expect_eq "response_total{status_code=200} = the rest" \
	"$(msum response_total 'classification="success",status_code="200"' "$TMP/metrics.txt")" \
	"$((SENT - 1))"

scrape "$G_ADMIN" "$TMP/gm.txt"
run promtool check metrics <"$TMP/gm.txt"
if [ "$RC" = 0 ] || [ "$RC" = 3 ]; then ok "gRPC proxy: promtool check metrics passes"; else
	not_ok "gRPC proxy: promtool check metrics (exit $RC)"
fi
expect_eq "gRPC: request_total = 5 calls" "$(msum request_total 'direction="inbound"' "$TMP/gm.txt")" 5
expect_eq "gRPC: response_total{grpc_status_code=0} = $GOK, success" \
	"$(msum response_total 'classification="success",status_code="200",grpc_status_code="0"' "$TMP/gm.txt")" "$GOK"
expect_eq "gRPC: response_total{grpc_status_code=9} = 1, failure" \
	"$(msum response_total 'classification="failure",status_code="200",grpc_status_code="9"' "$TMP/gm.txt")" 1
expect_eq "gRPC: response_total{grpc_status_code=4} = 1 (the deadline), failure" \
	"$(msum response_total 'classification="failure",status_code="200",grpc_status_code="4"' "$TMP/gm.txt")" 1
expect_eq "gRPC: response_latency_ms_count = 5" \
	"$(msum response_latency_ms_count 'status_code="200"' "$TMP/gm.txt")" 5

# --- drain ------------------------------------------------------------------------------
# a server stream of 10 replies, 100 ms apart, in flight when SIGTERM comes
printf '\0\0\0\0\x07\x0a\x01d\x10\x0a\x18\x64' >"$TMP/stream.bin"
coproc DRAIN { timeout 15 nghttp -nv -H ':method: POST' -H 'content-type: application/grpc' \
	-H 'te: trailers' -d "$TMP/stream.bin" "http://$G/conduit.test.Echo/ServerStream" 2>&1; }
sleep 0.4
kill -TERM "$G_PID"
drained=$(cat <&"${DRAIN[0]}")
wait "$G_PID"
expect_eq "SIGTERM while a stream is in flight: the proxy exits 0" "$?" 0
expect_match "the client is told: GOAWAY" "$drained" 'recv GOAWAY frame'
expect_eq "and its stream still ends whole: 10 replies" \
	"$(printf '%s\n' "$drained" | grep -c 'recv DATA frame <length=[0-9]*, flags=0x00, stream_id=13>')" 10
expect_match "with grpc-status 0" "$drained" 'grpc-status: 0'
kill -TERM "$P_PID"
wait "$P_PID"
expect_eq "SIGTERM: an idle proxy drains and exits 0" "$?" 0

finish
