#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 21-proxy-http1: `conduit proxy` in explicit mode on loopback serves
# HTTP/1.1 itself: keep-alive to the upstream, Content-Length and chunked
# bodies both ways, 100 MiB each way in bounded memory, Upgrade and CONNECT
# tunnels, smuggling (CL+TE) refused before the upstream, oversized heads,
# dead and slow upstreams, a slowloris client, and request metrics that
# match the traffic exactly.
. "$(dirname "$0")/lib.sh"

PEER="/usr/bin/python3 $(dirname "$0")/proxy_http1_peer.py"

for tool in curl promtool; do
	if ! command -v $tool >/dev/null; then
		skip "proxy HTTP/1 tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done

# the origin's counters; asking is one more connection and request
stats() { curl -s "http://127.0.0.1:$ORIGIN/stats"; }
conns() { stats | sed 's/conns=\([0-9]*\).*/\1/'; }
reqs() { stats | sed 's/.*requests=\([0-9]*\)/\1/'; }

ORIGIN=$(free_port)
spawn origin $PEER server "$ORIGIN"
wait_port 127.0.0.1 "$ORIGIN" 10 || { not_ok "origin did not start"; finish; }

start_proxy P "127.0.0.1:$ORIGIN" --http-response-timeout 1s --http-header-timeout 2s
U="http://127.0.0.1:$P_IN"
SENT=() # "status" per request through P, for the metrics check

# --- basic exchanges ------------------------------------------------------
run curl -s --http1.1 -m 10 "$U/hello"
expect_eq "GET through the HTTP/1 handler" "$OUT" hello
SENT+=(200)
expect_match "detected and served as HTTP/1" "$(cat "$TMP/P.log")" \
	'msg="protocol detected" dir=inbound proto=http/1 handler=http/1'

c0=$(conns)
run curl -s --http1.1 -m 10 -o /dev/null -o /dev/null -w '%{num_connects} ' "$U/hello" "$U/hello"
expect_eq "keep-alive: curl sends two requests on one connection" "$OUT" "1 0 "
SENT+=(200 200)
expect_eq "and the upstream sees one connection for both" "$(($(conns) - c0 - 1))" 1

run curl -s --http1.1 -m 10 -I "$U/hello"
expect_match "HEAD: the head with its Content-Length, no body" "$OUT" 'Content-Length: 6'
SENT+=(200)

run curl -s --http1.1 -m 10 -D "$TMP/h" "$U/chunked"
expect_eq "a chunked response is streamed back whole" "$OUT" "one,two,three"
expect_match "re-framed as chunked" "$(cat "$TMP/h")" '^transfer-encoding: chunked'
SENT+=(200)

run curl -s --http1.1 -m 10 -D "$TMP/h" "$U/eof"
expect_eq "a response without length: read to the upstream's EOF" "$OUT" "until the end"
expect_match "and the client is told the connection closes" "$(cat "$TMP/h")" '^connection: close'
SENT+=(200)

head -c 300000 /dev/urandom >"$TMP/up.bin"
run curl -s --http1.1 -m 10 --data-binary @"$TMP/up.bin" -o "$TMP/back.bin" "$U/echo"
check "POST with Content-Length: the echo is byte for byte" cmp "$TMP/up.bin" "$TMP/back.bin"
SENT+=(200)
run curl -s --http1.1 -m 10 -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/up.bin" \
	-o "$TMP/back.bin" "$U/echo"
check "POST chunked: the chunked echo is byte for byte" cmp "$TMP/up.bin" "$TMP/back.bin"
SENT+=(200)
run curl -s --http1.1 -m 10 -H 'Expect: 100-continue' --data-binary @"$TMP/up.bin" "$U/sha"
expect_eq "Expect: 100-continue passes through" "$OUT" "300000 $(sha256sum <"$TMP/up.bin" | cut -d' ' -f1)"
SENT+=(200)

for code in 404 503; do
	run curl -s --http1.1 -m 10 -o /dev/null -w '%{http_code}' "$U/status?code=$code"
	expect_eq "an upstream $code reaches the client" "$OUT" "$code"
	SENT+=($code)
done

# --- 100 MiB each way ------------------------------------------------------
run curl -s --http1.1 -m 120 -o "$TMP/big" -w '%{size_download}' "$U/big?mib=100"
expect_eq "a 100 MiB download through the proxy" "$OUT" 104857600
SENT+=(200)
want=$(/usr/bin/python3 -c 'import hashlib,sys; p=bytes(range(256))*256; h=hashlib.sha256(); [h.update(p) for _ in range(1600)]; print(h.hexdigest())')
expect_eq "with the right bytes" "$(sha256sum <"$TMP/big" | cut -d' ' -f1)" "$want"
rm -f "$TMP/big"
run sh -c "head -c 104857600 /dev/zero | curl -s --http1.1 -m 120 -H 'Transfer-Encoding: chunked' --data-binary @- '$U/sha'"
expect_eq "a 100 MiB chunked upload through the proxy" "$OUT" \
	"104857600 $(head -c 104857600 /dev/zero | sha256sum | cut -d' ' -f1)"
SENT+=(200)
hwm=$(hwm_kib "$P_PID")
echo "# proxy VmHWM after 200 MiB of HTTP/1 bodies: ${hwm} KiB"
if [ -n "$hwm" ] && [ "$hwm" -lt "$(rss_bound 16384)" ]; then
	ok "peak RSS stays under 16 MiB (${hwm} KiB)"
else
	not_ok "peak RSS ${hwm} KiB, want < $(rss_bound 16384)"
fi

# --- tunnels -----------------------------------------------------------------
run timeout 20 $PEER tunnel "$P_IN" ws
expect_eq "Upgrade: websocket -> 101, then a raw echo both ways" "$OUT" "ok 101"
SENT+=(101)
run timeout 20 $PEER tunnel "$P_IN" connect
expect_eq "CONNECT -> 200, then a raw echo both ways" "$OUT" "ok 200"
SENT+=(200)
expect_match "handed over to the TCP relay" "$(cat "$TMP/P.log")" \
	'msg="http/1: upgraded, relaying as TCP" .* how=CONNECT'

# --- bad requests never reach the upstream ---------------------------------
r0=$(reqs)
run $PEER raw "$P_IN" 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
expect_match "CL+TE smuggling attempt: 400 with a reason" "$OUT" '^HTTP/1.1 400 .*\| .+'
run $PEER raw "$P_IN" 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'
expect_match "two differing Content-Lengths: 400" "$OUT" '^HTTP/1.1 400 '
run $PEER raw "$P_IN" 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'
expect_match "a bad chunk size: 400" "$OUT" '^HTTP/1.1 400 '
SENT+=(400) # its head was fine: a request, answered by the proxy
big=$(head -c 70000 /dev/zero | tr '\0' a)
run $PEER raw "$P_IN" "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\n\r\n"
expect_eq "a 70 KB header: 431" "$OUT" "HTTP/1.1 431 Request Header Fields Too Large | header section too large"
expect_eq "none of them reached the upstream" "$(($(reqs) - r0 - 1))" 0

# --- dead and slow upstreams -----------------------------------------------
run curl -s --http1.1 -m 10 -D "$TMP/h" -o /dev/null -w '%{http_code}' "$U/slow?s=3"
expect_eq "an upstream slower than --http-response-timeout: 504" "$OUT" 504
expect_match "with conduit-proxy-error" "$(cat "$TMP/h")" '^conduit-proxy-error: upstream response timeout'
SENT+=(504)

DEAD=$(free_port)
start_proxy D "127.0.0.1:$DEAD"
run curl -s --http1.1 -m 10 -D "$TMP/h" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$D_IN/x"
expect_eq "a dead upstream: 502" "$OUT" 502
expect_match "with conduit-proxy-error" "$(cat "$TMP/h")" '^conduit-proxy-error: upstream connection refused'

# --- slowloris ---------------------------------------------------------------
coproc SLOW { $PEER slowloris "$P_IN" 2>&1; }
sleep 0.5
run curl -s --http1.1 -m 5 "$U/hello"
expect_eq "a good client is served while a slowloris trickles" "$OUT" hello
SENT+=(200)
read -r -t 15 slow <&"${SLOW[0]}"
expect_match "the slowloris gets 408 after --http-header-timeout (2 s)" "$slow" \
	'^closed after=2\.[0-9] said=HTTP/1.1 408 '
check "the proxy is still up" kill -0 "$P_PID"

# --- metrics match the traffic ---------------------------------------------
curl -s "http://127.0.0.1:$P_ADMIN/metrics" >"$TMP/metrics.txt"
run promtool check metrics <"$TMP/metrics.txt"
if [ "$RC" = 0 ] || [ "$RC" = 3 ]; then ok "promtool check metrics passes (exit $RC)"; else
	not_ok "promtool check metrics (exit $RC)"
	diag "$TMP/err"
fi
sum() { awk -v n="$1" -v m="$2" '$1 ~ "^"n"{" && index($1, m) { s += $2 } END { print s + 0 }' "$TMP/metrics.txt"; }
expect_eq "request_total counts every request forwarded or answered" \
	"$(sum request_total 'direction="inbound"')" "${#SENT[@]}"
for code in $(printf '%s\n' "${SENT[@]}" | sort -u); do
	want=$(printf '%s\n' "${SENT[@]}" | grep -c "^$code\$")
	class=success
	[ "$code" -ge 500 ] && class=failure
	expect_eq "response_total{classification=$class,status_code=$code} = $want" \
		"$(sum response_total "classification=\"$class\",status_code=\"$code\"")" "$want"
	expect_eq "response_latency_ms_count{status_code=$code} = $want" \
		"$(sum response_latency_ms_count "status_code=\"$code\"")" "$want"
done
expect_match "labels: authority from Host, target_addr, tls" "$(cat "$TMP/metrics.txt")" \
	"^request_total\\{direction=\"inbound\",authority=\"127.0.0.1:$P_IN\",tls=\"disabled\",target_addr=\"127.0.0.1:$ORIGIN\"\\} "
expect_match "TCP metrics still count the connections" "$(cat "$TMP/metrics.txt")" \
	'^tcp_open_total\{direction="inbound",peer="dst",.*\} [1-9]'

# --- drain: an idle keep-alive connection is closed -------------------------
kill -TERM "$P_PID"
wait "$P_PID"
expect_eq "SIGTERM: the proxy drains and exits 0" "$?" 0

# pipelining against a fast origin: more parsed requests than one wakeup's
# rounds must not wait for a socket event that never comes (regression:
# h2load --h1 -m10 stalled, then 504s)
if command -v nginx >/dev/null && command -v h2load >/dev/null; then
	NP=$(free_port)
	mkdir -p "$TMP/ngx"
	cat >"$TMP/ngx/nginx.conf" <<EOF
worker_processes 1; daemon off; pid $TMP/ngx/nginx.pid; error_log $TMP/ngx/error.log;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $TMP/ngx; proxy_temp_path $TMP/ngx;
  fastcgi_temp_path $TMP/ngx; uwsgi_temp_path $TMP/ngx; scgi_temp_path $TMP/ngx;
  server { listen 127.0.0.1:$NP; location / { return 200 "ok"; } } }
EOF
	spawn nginx nginx -c "$TMP/ngx/nginx.conf" -p "$TMP/ngx"
	wait_port 127.0.0.1 "$NP" 10
	start_proxy PL "127.0.0.1:$NP"
	run timeout 60 h2load --h1 -c4 -m10 -n20000 "http://127.0.0.1:$PL_IN/"
	expect_match "pipelined HTTP/1.1 (h2load --h1 -m10, 20000 requests): all answered" "$OUT" \
		'^requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed'
else
	skip "pipelining against nginx" "nginx or h2load missing (scripts/install-deps)"
fi

finish
