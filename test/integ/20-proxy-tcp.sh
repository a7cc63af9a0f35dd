#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 20-proxy-tcp: `conduit proxy` in explicit mode on loopback relays TCP
# byte for byte: echo, half-close, a server-first port with detection
# disabled, 100 MiB both ways in bounded memory, HTTP/1.1 (curl) and
# HTTP/2 (curl, nghttpd) passed through opaquely, garbage, silent and
# flooding clients, dead and unreachable upstreams, a drain on SIGTERM.
. "$(dirname "$0")/lib.sh"

TOOLS="/usr/bin/python3 $(dirname "$0")/proxy_tools.py"

for tool in curl nghttpd; do
	if ! command -v $tool >/dev/null; then
		skip "proxy TCP tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done

# metric NAME ADMINPORT LABELMATCH: the value of the first matching series
metric() {
	curl -s "http://127.0.0.1:$2/metrics" |
		awk -v n="$1" -v m="$3" '$1 ~ "^"n"({|$)" && index($1, m) { print $2; exit }'
}

ECHO=$(free_port)
spawn echo $TOOLS echo "$ECHO"
wait_port 127.0.0.1 "$ECHO" 10 || { not_ok "echo server did not start"; finish; }

# --- echo, half-close, garbage, silence ------------------------------------
start_proxy P "127.0.0.1:$ECHO" --detect-timeout 300ms
check "the proxy starts and listens" kill -0 "$P_PID"

run $TOOLS send "$P_IN" "hello through the mesh"
expect_eq "raw TCP echo through the inbound listener" "$OUT" "hello through the mesh"
expect_match "an unknown first line is relayed as opaque" "$(cat "$TMP/P.log")" \
	'msg="protocol detected" dir=inbound proto=opaque handler=tcp'

run $TOOLS halfclose "$P_IN"
expect_eq "half-close: the client shuts its write side and still reads" "$OUT" ok

run $TOOLS garbage "$P_IN"
expect_eq "garbage bytes (random, a TLS record) relayed intact" "$OUT" ok

run $TOOLS silent "$P_IN" 1
expect_eq "a silent client: detection times out, then the relay works" "$OUT" ping
expect_match "the detect timeout is logged as opaque" "$(cat "$TMP/P.log")" \
	'proto=opaque handler=tcp .* timed_out=true'
check "the proxy is still up after garbage and silence" kill -0 "$P_PID"

# --- 100 MiB both ways, bounded memory -------------------------------------
run timeout 120 $TOOLS bulk "$P_IN" 100
expect_match "100 MiB up and 100 MiB down, checksums equal" "$OUT" '^ok bytes=104857600 '
echo "# through the proxy: $OUT"
hwm=$(hwm_kib "$P_PID")
echo "# proxy VmHWM after 200 MiB relayed: ${hwm} KiB"
if [ -n "$hwm" ] && [ "$hwm" -lt "$(rss_bound 32768)" ]; then
	ok "peak RSS stays under 32 MiB (${hwm} KiB)"
else
	not_ok "peak RSS ${hwm} KiB, want < $(rss_bound 32768)"
fi
expect_match "the close line counts 100 MiB each way" "$(cat "$TMP/P.log")" \
	'msg="connection closed" dir=inbound proto=opaque .* sent=104857600 received=104857600'

# --- HTTP/1.1 and HTTP/2 pass through (opaque for now) ---------------------
WEB=$(free_port)
mkdir -p "$TMP/www"
echo "served by python" >"$TMP/www/index.txt"
spawn web /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$WEB"
wait_port 127.0.0.1 "$WEB" 10
start_proxy H1 "127.0.0.1:$WEB"
run curl -s --http1.1 -m 10 -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$H1_IN/index.txt"
expect_eq "curl --http1.1 through the proxy: 200" "$OUT" 200
expect_eq "and the file's content" "$(cat "$TMP/body")" "served by python"
expect_match "detected as HTTP/1" "$(cat "$TMP/H1.log")" 'msg="protocol detected" dir=inbound proto=http/1'

H2=$(free_port)
echo "served by nghttpd" >"$TMP/www/h2.txt"
spawn nghttpd nghttpd --no-tls -d "$TMP/www" "$H2"
wait_port 127.0.0.1 "$H2" 10
start_proxy H2P "127.0.0.1:$H2"
run curl -s --http2-prior-knowledge -m 10 -o "$TMP/body" \
	-w '%{http_version} %{http_code}' "http://127.0.0.1:$H2P_IN/h2.txt"
expect_eq "curl --http2-prior-knowledge to nghttpd through the proxy: h2 200" "$OUT" "2 200"
expect_eq "and the file's content" "$(cat "$TMP/body")" "served by nghttpd"
if command -v nghttp >/dev/null; then
	run nghttp -n "http://127.0.0.1:$H2P_IN/h2.txt"
	expect_eq "nghttp (HTTP/2 client) through the proxy" "$RC" 0
fi
expect_match "detected as HTTP/2" "$(cat "$TMP/H2P.log")" 'msg="protocol detected" dir=inbound proto=h2'

# --- a server-first port skips detection -----------------------------------
BANNER=$(free_port)
spawn banner $TOOLS banner "$BANNER"
wait_port 127.0.0.1 "$BANNER" 10
start_proxy B "127.0.0.1:$BANNER" --inbound-ports-disable-protocol-detection "25,$BANNER"
run $TOOLS banner-read "$B_IN"
expect_eq "detection-disabled port: the server speaks first, at once" "$OUT" "220 conduit-test ready"
expect_match "detection was skipped" "$(cat "$TMP/B.log")" 'proto=opaque handler=tcp .* skipped=true'
run $TOOLS send "$B_IN" "after the banner"
expect_eq "and relays the rest" "$OUT" $'220 conduit-test ready\r\nafter the banner'

# --- dead and unreachable upstreams ----------------------------------------
DEAD=$(free_port)
start_proxy D "127.0.0.1:$DEAD"
run $TOOLS closed "$D_IN"
expect_match "a dead upstream: the client connection is closed" "$OUT" '^(eof|reset) after=[01]\.'
expect_match "the refused connect is logged" "$(cat "$TMP/D.log")" \
	"msg=\"connect failed: closing the client connection\" dir=inbound target=127.0.0.1:$DEAD error=\"Connection refused\""

STUCK=$(free_port)
spawn stuck $TOOLS stuck "$STUCK"
# not wait_port: a connect to it would hang, which is the point
wait_until 10 sh -c "ss -Hltn 'sport = :$STUCK' | grep -q LISTEN"
sleep 0.3 # its own connections fill the queue
start_proxy S "127.0.0.1:$STUCK" --inbound-connect-timeout 300ms
run $TOOLS closed "$S_IN"
expect_match "an upstream that never answers: closed after the connect timeout" "$OUT" '^(eof|reset) after=0\.[3-9]'
expect_match "the connect timeout is logged" "$(cat "$TMP/S.log")" \
	'msg="connect timed out: closing the client connection" dir=inbound .* timeout=300ms'

# --- an idle relay is closed after --tcp-idle-timeout -----------------------
start_proxy I "127.0.0.1:$ECHO" --tcp-idle-timeout 500ms
run $TOOLS idle "$I_IN"
expect_match "an idle relay is closed after the idle timeout" "$OUT" '^once eof after=0\.[5-9]s$'
expect_match "and logged" "$(cat "$TMP/I.log")" 'msg="idle timeout: closing" dir=inbound .* idle=500ms'

# --- no redirect and no forward address ----------------------------------
N_IN=$(free_port)
spawn N "$CONDUIT" proxy --inbound-listen-addr "127.0.0.1:$N_IN" \
	--outbound-listen-addr "127.0.0.1:$(free_port)" \
	--admin-listen-addr "127.0.0.1:$(free_port)" \
	--control-listen-addr "127.0.0.1:$(free_port)"
wait_port 127.0.0.1 "$N_IN" 10
run $TOOLS closed "$N_IN"
expect_match "inbound, not redirected, no --inbound-forward: closed" "$OUT" '^(eof|reset) '
expect_match "with a log line saying why" "$(cat "$TMP/N.log")" \
	'msg="connection was not redirected and has no forward address: closing" dir=inbound .* hint="set --inbound-forward for explicit mode"'

# --- outbound without a redirect, and the control port ---------------------
run $TOOLS closed "$P_OUT"
expect_match "outbound, not redirected, not HTTP: closed" "$OUT" '^(eof|reset) '
expect_match "and logged (explicit outbound routes HTTP by Host only)" "$(cat "$TMP/P.log")" 'msg="explicit outbound connection is not HTTP: closing"'
# the control port is the tap server (gRPC): an unknown method is
# UNIMPLEMENTED; from an address outside --tap-allow, nothing at all
run sh -c "curl -s --http2-prior-knowledge -m 5 -D - -H 'content-type: application/grpc' -d '' http://127.0.0.1:$P_CTL/no.Such/Method"
expect_match "control port: a gRPC server (an unknown method: UNIMPLEMENTED)" "$OUT" '^grpc-status: 12'
start_proxy T "127.0.0.1:$ECHO" --tap-allow 10.0.0.0/8
run sh -c "curl -s --http2-prior-knowledge -m 5 http://127.0.0.1:$T_CTL/ ; echo rc=\$?"
expect_match "a tap from outside --tap-allow is closed at once" "$OUT" 'rc=(16|52|55|56|92)'
expect_match "and logged" "$(cat "$TMP/T.log")" 'msg="tap: refused: the peer is not in --tap-allow" peer=127\.0\.0\.1:'

# --- 2000 connections at once against a bound of 100 -----------------------
start_proxy F "127.0.0.1:$ECHO" --max-connections 100
run timeout 60 $TOOLS flood "$F_IN" 2000 3
expect_match "2000 connections opened at once" "$OUT" '^opened=2000$'
check "the proxy survives the flood" kill -0 "$F_PID"
refused=$(metric tcp_refused_total "$F_ADMIN" 'reason="max_connections"')
echo "# refused past the bound: $refused"
if [ -n "$refused" ] && [ "$refused" -ge 1800 ]; then
	ok "connections past --max-connections are closed and counted ($refused)"
else
	not_ok "tcp_refused_total{reason=max_connections} = '$refused', want >= 1800"
fi
wait_until 10 sh -c "[ \"\$(curl -s http://127.0.0.1:$F_ADMIN/metrics | awk '/^tcp_open_connections.*peer=\"src\"/ {s+=\$2} END {print s+0}')\" = 0 ]"
run $TOOLS send "$F_IN" "still serving"
expect_eq "a good client is served after the flood" "$OUT" "still serving"
echo "# proxy VmHWM after the flood: $(hwm_kib "$F_PID") KiB"

# --- IPv6: a listener list with both families -----------------------------
IN6=$(free_port)
spawn v6 "$CONDUIT" proxy --inbound-listen-addr "127.0.0.1:$IN6,[::1]:$IN6" \
	--outbound-listen-addr "127.0.0.1:$(free_port)" \
	--admin-listen-addr "127.0.0.1:$(free_port)" \
	--control-listen-addr "127.0.0.1:$(free_port)" \
	--inbound-forward "127.0.0.1:$ECHO"
wait_port 127.0.0.1 "$IN6" 10
run env PROXY_TOOLS_HOST=::1 $TOOLS send "$IN6" "over IPv6"
expect_eq "an IPv6 inbound listener ([::1]) beside the IPv4 one" "$OUT" "over IPv6"
run $TOOLS send "$IN6" "over IPv4"
expect_eq "and the IPv4 one on the same port" "$OUT" "over IPv4"

# --- transparent mode: SO_ORIGINAL_DST in a network namespace ---------------
# As in a pod: nf_tables redirects the app's connections to the proxy,
# except the proxy's own (UID 2102), which proxy-init exempts.
if ! is_root || ! command -v nft >/dev/null || ! command -v setpriv >/dev/null; then
	skip "transparent mode" "needs root, nft and setpriv"
else
	NS="cdt20-$$"
	ip netns add "$NS" && on_exit ip netns del "$NS"
	ip -n "$NS" link set lo up
	inns() { ip netns exec "$NS" "$@"; }
	inns nft -f - <<-EOF
	table ip cdt20 {
		chain out {
			type nat hook output priority -100;
			meta skuid 2102 return
			tcp dport 18080 redirect to :4143
			tcp dport 18081 redirect to :4140
			tcp dport 4143 redirect to :4140
		}
	}
	EOF
	# `ip netns exec` execs: the PIDs spawn records are the servers'
	spawn ns_app ip netns exec "$NS" $TOOLS echo 18080
	spawn ns_dst ip netns exec "$NS" $TOOLS echo 18081
	# the defaults: 0.0.0.0:4143, 127.0.0.1:4140, 0.0.0.0:4191, 0.0.0.0:4190
	spawn T ip netns exec "$NS" setpriv --reuid 2102 --regid 2102 \
		--clear-groups "$(conduit_any_user)" proxy --log debug
	T_PID=$SPAWNED
	wait_until 10 inns curl -sf http://127.0.0.1:4191/ready
	for p in 18080 18081; do
		wait_until 10 sh -c "ip netns exec $NS ss -Hltn 'sport = :$p' | grep -q LISTEN"
	done
	run inns $TOOLS send 18080 "inbound, redirected"
	expect_eq "transparent inbound: to 127.0.0.1:<original port>" "$OUT" "inbound, redirected"
	expect_match "its target came from SO_ORIGINAL_DST" "$(cat "$TMP/T.log")" \
		'msg="protocol detected" dir=inbound proto=opaque handler=tcp peer=127.0.0.1:[0-9]+ target=127.0.0.1:18080'
	run inns $TOOLS send 18081 "outbound, redirected"
	expect_eq "transparent outbound: to the original destination" "$OUT" "outbound, redirected"
	expect_match "outbound target" "$(cat "$TMP/T.log")" 'dir=outbound proto=opaque handler=tcp .* target=127.0.0.1:18081'
	run inns $TOOLS closed 4143
	expect_match "a redirect back into the proxy is refused (loop)" "$OUT" '^(eof|reset) '
	expect_match "and logged" "$(cat "$TMP/T.log")" \
		'msg="connection would loop back into the proxy: closing" dir=outbound .* target=127.0.0.1:4143'
	run inns sh -c "curl -s http://127.0.0.1:4191/metrics | grep '^tcp_refused_total'"
	expect_eq "and counted" "$OUT" 'tcp_refused_total{direction="outbound",reason="loop"} 1'
	stop "$T_PID"
fi

# --- SIGTERM drains: open connections finish, new ones are refused ----------
coproc HOLD { $TOOLS silent "$P_IN" 2 2>/dev/null; }
sleep 0.5
kill -TERM "$P_PID"
sleep 0.3
run $TOOLS closed "$P_IN"
expect_match "draining: the inbound listener is closed" "$ERR$OUT" 'ConnectionRefused|refused'
read -r -t 10 held <&"${HOLD[0]}"
expect_eq "an open connection finishes during the drain" "$held" ping
wait "$P_PID"
expect_eq "the proxy exits 0 once the last connection is done" "$?" 0
expect_match "the drain is logged" "$(cat "$TMP/P.log")" 'msg="drained: every connection is closed"'

finish
