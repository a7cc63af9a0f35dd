#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 70-proxy-admin: the proxy's admin port: probes, /env.json, /metrics that
# promtool accepts and whose tcp_* counters match exactly the traffic this
# test sends, HTTP/1.1 behaviour (keep-alive, pipelining, limits, a slow
# client), POST /shutdown refused unless enabled, and SIGTERM exiting 0.
. "$(dirname "$0")/lib.sh"

TOOLS="/usr/bin/python3 $(dirname "$0")/proxy_tools.py"

for tool in curl promtool; do
	if ! command -v $tool >/dev/null; then
		skip "proxy admin tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done

# series ADMINPORT NAME LABELS: the value of NAME{LABELS} exactly
series() {
	curl -s "http://127.0.0.1:$1/metrics" |
		awk -v want="$2{$3}" '$1 == want { print $2; found = 1 } END { if (!found) print "absent" }'
}

ECHO=$(free_port)
spawn echo $TOOLS echo "$ECHO"
wait_port 127.0.0.1 "$ECHO" 10 || { not_ok "echo server did not start"; finish; }

export CONDUIT_PROXY_POD_NAMESPACE=emojivoto CONDUIT_PROXY_POD_NAME=web-7d9f-x2x CONDUIT_PROXY_WORKLOAD_KIND=Deployment CONDUIT_PROXY_WORKLOAD_NAME=web
start_proxy P "127.0.0.1:$ECHO"
unset CONDUIT_PROXY_POD_NAMESPACE CONDUIT_PROXY_POD_NAME CONDUIT_PROXY_WORKLOAD_KIND CONDUIT_PROXY_WORKLOAD_NAME
A="http://127.0.0.1:$P_ADMIN"

# --- probes and config -------------------------------------------------------
run curl -s -w ' %{http_code}' "$A/ready"
expect_eq "/ready: 200 ready once the listeners are up" "$OUT" "ready
 200"
run curl -s -w ' %{http_code}' "$A/live"
expect_eq "/live: 200 live" "$OUT" "live
 200"
run curl -s -o "$TMP/env.json" -w '%{http_code} %{content_type}' "$A/env.json"
expect_eq "/env.json: 200 application/json" "$OUT" "200 application/json"
run /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["CONDUIT_PROXY_INBOUND_FORWARD"], d["CONDUIT_PROXY_DETECT_TIMEOUT"], d["CONDUIT_PROXY_POD_NAMESPACE"])' "$TMP/env.json"
expect_eq "/env.json is valid JSON with the effective configuration" "$OUT" "127.0.0.1:$ECHO 10s emojivoto"
run curl -s -o /dev/null -w '%{http_code}' "$A/nope"
expect_eq "an unknown path: 404" "$OUT" 404
run curl -s -o /dev/null -w '%{http_code}' -X DELETE "$A/metrics"
expect_eq "another method on a known path: 405" "$OUT" 405
run curl -s -I -w '%{http_code}' "$A/metrics"
expect_match "HEAD /metrics: 200, headers only" "$OUT" 'Content-Type: text/plain; version=0.0.4'

# --- HTTP/1.1 behaviour --------------------------------------------------------
run curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' "$A/live" "$A/ready"
expect_eq "keep-alive: two requests, one connection" "$OUT" "1 0 "
run $TOOLS pipeline "$P_ADMIN"
expect_eq "pipelined requests are answered in order" "$OUT" "HTTP/1.1 200 OK live HTTP/1.1 200 OK ready"
run $TOOLS bigheader "$P_ADMIN" 20
expect_eq "a 20 KiB header: 431" "$OUT" "HTTP/1.1 431 Request Header Fields Too Large"
run $TOOLS request "$P_ADMIN" 'POST /shutdown HTTP/1.1\r\nContent-Length: 100000\r\n\r\n'
expect_eq "a 100 kB body: 413" "$OUT" "HTTP/1.1 413 Payload Too Large"
run $TOOLS request "$P_ADMIN" 'GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'
expect_eq "Content-Length with Transfer-Encoding: 400" "$OUT" "HTTP/1.1 400 Bad Request"
run $TOOLS request "$P_ADMIN" '\x16\x03\x01\x00\x05hello'
expect_eq "garbage: 400" "$OUT" "HTTP/1.1 400 Bad Request"

# --- POST /shutdown refused when not enabled ---------------------------------
run curl -s -w ' %{http_code}' -X POST "$A/shutdown"
expect_eq "POST /shutdown without --admin-shutdown: 404" "$OUT" "shutdown is not enabled (--admin-shutdown)
 404"
run curl -s -o /dev/null -w '%{http_code}' "$A/shutdown"
expect_eq "GET /shutdown: 405" "$OUT" 405
check "the proxy is still running" kill -0 "$P_PID"

# --- the counters match the traffic exactly ---------------------------------
sent=0
for msg in "one" "two, longer" "three: $(head -c 5000 /dev/zero | tr '\0' x)" "4" "five five five"; do
	run $TOOLS send "$P_IN" "$msg"
	[ "$OUT" = "$msg" ] || not_ok "echo of a ${#msg}-byte message"
	sent=$((sent + ${#msg}))
done
run timeout 60 $TOOLS bulk "$P_IN" 3
expect_match "a 3 MiB echo" "$OUT" '^ok '
sent=$((sent + 3 * 1048576))
conns=6
# the last close is seen by the proxy just after the client's EOF
wait_until 5 sh -c "curl -s $A/metrics | grep -q 'tcp_close_total{direction=\"inbound\",peer=\"src\".*} $conns\$'"
W='namespace="emojivoto",pod="web-7d9f-x2x",deployment="web"'
L="direction=\"inbound\",peer=\"src\",tls=\"disabled\",target_addr=\"127.0.0.1:$ECHO\",$W"
D="direction=\"inbound\",peer=\"dst\",tls=\"disabled\",target_addr=\"127.0.0.1:$ECHO\",$W"
expect_eq "tcp_open_total{peer=src} = connections sent" "$(series "$P_ADMIN" tcp_open_total "$L")" "$conns"
expect_eq "tcp_open_total{peer=dst} = connections made" "$(series "$P_ADMIN" tcp_open_total "$D")" "$conns"
expect_eq "tcp_close_total{peer=src}" "$(series "$P_ADMIN" tcp_close_total "$L")" "$conns"
expect_eq "tcp_close_total{peer=dst}" "$(series "$P_ADMIN" tcp_close_total "$D")" "$conns"
expect_eq "tcp_open_connections{peer=src} back to 0" "$(series "$P_ADMIN" tcp_open_connections "$L")" 0
expect_eq "tcp_open_connections{peer=dst} back to 0" "$(series "$P_ADMIN" tcp_open_connections "$D")" 0
expect_eq "tcp_read_bytes_total{peer=src} = bytes sent" "$(series "$P_ADMIN" tcp_read_bytes_total "$L")" "$sent"
expect_eq "tcp_write_bytes_total{peer=dst} = bytes sent" "$(series "$P_ADMIN" tcp_write_bytes_total "$D")" "$sent"
expect_eq "tcp_read_bytes_total{peer=dst} = bytes echoed" "$(series "$P_ADMIN" tcp_read_bytes_total "$D")" "$sent"
expect_eq "tcp_write_bytes_total{peer=src} = bytes echoed" "$(series "$P_ADMIN" tcp_write_bytes_total "$L")" "$sent"

# --- promtool ----------------------------------------------------------------
curl -s "$A/metrics" >"$TMP/metrics.txt"
promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1
rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 3 ]; then
	ok "promtool check metrics accepts /metrics (exit $rc)"
else
	not_ok "promtool check metrics exit $rc"
	diag "$TMP/promtool.out" "$TMP/metrics.txt"
fi
expect_match "process metrics are there" "$(cat "$TMP/metrics.txt")" '^process_resident_memory_bytes [0-9]+$'
rss=$(awk '/^process_resident_memory_bytes/ { print $2 }' "$TMP/metrics.txt")
echo "# process_resident_memory_bytes after the traffic: $rss"

# --- a slow client (slowloris) -------------------------------------------------
start_proxy S "127.0.0.1:$ECHO" --admin-request-timeout 500ms
run timeout 10 $TOOLS slow "$S_ADMIN"
expect_match "an unfinished request: 408 after the request timeout" "$OUT" '^HTTP/1.1 408 Request Timeout after=0\.[5-9]s$'

# --- POST /shutdown when enabled, from loopback ------------------------------
start_proxy Q "127.0.0.1:$ECHO" --admin-shutdown
run curl -s -w ' %{http_code}' -X POST "http://127.0.0.1:$Q_ADMIN/shutdown"
expect_eq "POST /shutdown with --admin-shutdown: 200" "$OUT" "shutdown
 200"
wait_until 10 sh -c "! kill -0 $Q_PID"
check "the proxy stopped" sh -c "! kill -0 $Q_PID"
wait "$Q_PID"
expect_eq "and exited 0" "$?" 0
expect_match "the shutdown is logged" "$(cat "$TMP/Q.log")" 'msg="shutdown requested on the admin port"'

# --- SIGTERM ---------------------------------------------------------------------
kill -TERM "$S_PID"
wait "$S_PID"
expect_eq "SIGTERM with no connections: exit 0" "$?" 0

# with a connection that outlives a 1 s grace period
start_proxy G "127.0.0.1:$ECHO" --shutdown-grace 1s --detect-timeout 100ms
coproc HOLD { $TOOLS silent "$G_IN" 5 2>/dev/null; }
sleep 0.5
start=$(date +%s%N)
kill -TERM "$G_PID"
run curl -s -w ' %{http_code}' "http://127.0.0.1:$G_ADMIN/ready"
expect_eq "draining: /ready says 503" "$OUT" "not ready
 503"
wait "$G_PID"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "SIGTERM with an open connection: exit 0 after the grace period" "$rc" 0
if [ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ]; then
	ok "the grace period was honoured (${ms} ms)"
else
	not_ok "stopped after ${ms} ms, want about 1000"
fi
expect_match "the forced close is logged" "$(cat "$TMP/G.log")" \
	'msg="grace period over: closing the remaining connections" connections=1'
read -r -t 10 held <&"${HOLD[0]}"

finish
