#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 46-discovery: an outbound proxy with --destination-svc-addr routes each
# HTTP/1 request by its Host through the controller (local mode): spread
# over a service's endpoints, a slow endpoint gets less, a dead one none
# (the request retries elsewhere), a service without endpoints answers 503,
# an unknown name 502; the controller killed: traffic goes on with the last
# endpoints; restarted: the proxy resubscribes and sees new endpoints.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PEER="/usr/bin/python3 $HERE/discovery_peer.py"
for tool in curl promtool; do
	if ! command -v $tool >/dev/null; then
		skip "discovery tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done

C=$TMP/cluster
mkdir -p "$C"
BPORT=$(free_port)
# pod NAME IP: a ready pod of app web
pod() {
	cat >"$C/.$1.tmp" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: demo, labels: {app: web}}
spec:
  containers:
  - {name: app, ports: [{name: http, containerPort: $BPORT}]}
status:
  phase: Running
  podIP: $2
  conditions: [{type: Ready, status: "True"}]
EOF
	mv "$C/.$1.tmp" "$C/$1.yml"
}
cat >"$C/svc.yml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: empty-svc, namespace: demo}
spec:
  selector: {app: nothing}
  ports: [{port: 80}]
EOF
pod web-1 127.0.1.1
pod web-2 127.0.1.2

backend() { # NAME IP DELAY_MS: sets BACK_<NAME>
	spawn "back-$1" $PEER backend "$1" "$2" "$BPORT" "$3"
	eval "BACK_${1//-/_}=$SPAWNED"
	wait_port "$2" "$BPORT" 10
}
backend web-1 127.0.1.1 0
backend web-2 127.0.1.2 0

DPORT=$(free_port) APORT=$(free_port)
start_controller() {
	spawn ctl "$CONDUIT" controller --cluster-dir "$C" --cluster-dir-interval 100ms \
		--destination-addr "127.0.0.1:$DPORT" --admin-addr "127.0.0.1:$APORT"
	CTL=$SPAWNED
	wait_until 10 curl -sf "http://127.0.0.1:$APORT/ready"
}
start_controller
PROXY_LOG=info start_proxy P 127.0.0.1:9 --destination-svc-addr "127.0.0.1:$DPORT"
OUT_ADDR=127.0.0.1:$P_OUT
SVC=web-svc.demo.svc.cluster.local

count() { # KEY: the count of KEY in $OUT, 0 when absent
	awk -v k="$1" '$1" "$2 == k { print $3; f=1 } END { if (!f) print 0 }' <<<"$OUT"
}

run $PEER load "$OUT_ADDR" "$SVC" 100 4
n1=$(count "200 web-1") n2=$(count "200 web-2")
expect_eq "100 requests by Host through discovery: all 200" "$((n1 + n2))" 100
if [ "$n1" -ge 20 ] && [ "$n2" -ge 20 ]; then ok "spread over both endpoints ($n1/$n2)"; else
	not_ok "spread over both endpoints ($n1/$n2)"; echo "$OUT" | sed 's/^/#   /'; fi
run curl -s -m 5 "http://127.0.0.1:$P_ADMIN/metrics"
expect_match "outbound series carry the endpoint's dst_* labels (Linkerd's)" "$OUT" \
	"^request_total\\{direction=\"outbound\",authority=\"web-svc.demo.svc.cluster.local\",tls=\"disabled\",target_addr=\"127.0.1.1:$BPORT\",dst_namespace=\"demo\",dst_service=\"web-svc\",dst_pod=\"web-1\"[^}]*\\} $n1\$"
expect_match "response series too, per endpoint" "$OUT" \
	"^response_total\\{direction=\"outbound\",[^}]*target_addr=\"127.0.1.2:$BPORT\",dst_namespace=\"demo\",dst_service=\"web-svc\",dst_pod=\"web-2\",[^}]*classification=\"success\",status_code=\"200\"[^}]*\\} $n2\$"
run $PEER load "$OUT_ADDR" web-svc.demo 10 1
expect_eq "the short name web-svc.demo (port 80) routes too" "$(( $(count "200 web-1") + $(count "200 web-2") ))" 10
run curl -s -D - -o /dev/null -H "Host: empty-svc.demo.svc.cluster.local" "http://$OUT_ADDR/"
expect_match "a service without endpoints: 503" "$OUT" '^HTTP/1.1 503 '
expect_match "saying why" "$OUT" '^conduit-proxy-error: no endpoints'
run curl -s -D - -o /dev/null -H "Host: nosuch.demo.svc.cluster.local" "http://$OUT_ADDR/"
expect_match "an unknown service, explicit mode: 502 no destination" "$OUT" '^conduit-proxy-error: no destination for this authority'

# a dead endpoint: refused connects retry on another endpoint
stop "$BACK_web_2"
run $PEER load "$OUT_ADDR" "$SVC" 100 4
expect_eq "a dead endpoint: every request still 200 from the live one" "$(count "200 web-1")" 100
expect_match "its refused connects are logged" "$(cat "$TMP/P.log")" 'msg="http/1: connect failed" dir=outbound target=127.0.1.2:'

# a slow endpoint gets proportionally less
backend web-2 127.0.1.2 100
run $PEER load "$OUT_ADDR" "$SVC" 200 4
n1=$(count "200 web-1") n2=$(count "200 web-2")
expect_eq "with a slow endpoint: all 200" "$((n1 + n2))" 200
if [ "$n1" -ge 160 ]; then ok "peak-EWMA sends most to the fast one ($n1 fast / $n2 slow)"; else
	not_ok "peak-EWMA sends most to the fast one ($n1 fast / $n2 slow)"; fi

stop "$BACK_web_2"

# the controller dies: the last endpoints stay in use
kill -KILL "$CTL"; wait "$CTL" 2>/dev/null
run $PEER load "$OUT_ADDR" "$SVC" 50 2
expect_eq "controller killed: requests go on (50/50)" "$(count "200 web-1")" 50
wait_until 5 grep -q 'discovery: stream ended; keeping the last endpoints' "$TMP/P.log"
expect_match "the proxy says it keeps the last endpoints" "$(cat "$TMP/P.log")" 'msg="discovery: stream ended; keeping the last endpoints" service=web-svc.demo.svc.cluster.local:80 status=UNAVAILABLE'

# back, with a third endpoint: the proxy resubscribes and uses it
backend web-3 127.0.1.3 0
pod web-3 127.0.1.3
rm "$C/web-2.yml"
start_controller
got3=0
for i in $(seq 1 40); do
	run $PEER load "$OUT_ADDR" "$SVC" 10 2
	[ "$(count "200 web-3")" -gt 0 ] && { got3=1; break; }
	sleep 0.25
done
expect_eq "controller restarted: the proxy resubscribes and reaches the new endpoint" "$got3" 1
run $PEER load "$OUT_ADDR" "$SVC" 60 3
expect_eq "and the removed one is gone: only web-1 and web-3" "$(( $(count "200 web-1") + $(count "200 web-3") ))" 60

# steady load while endpoints come and go (their processes stay up, as a
# rolling update's do until they are out of the set): no request fails
backend web-4 127.0.1.4 0
spawn load $PEER load "$OUT_ADDR" "$SVC" 1500 4
LOAD=$SPAWNED
sleep 0.5
pod web-4 127.0.1.4
sleep 0.5
rm "$C/web-1.yml"
sleep 0.5
pod web-1 127.0.1.1
wait "$LOAD"
OUT=$(cat "$TMP/load.log")
total=$(awk '$1 == 200 { n += $3 } END { print n + 0 }' <<<"$OUT")
expect_eq "1500 requests while endpoints are added and removed: all 200" "$total" 1500
if [ "$(count "200 web-4")" -gt 0 ]; then ok "and the new endpoint took traffic within the run ($(count "200 web-4"))"; else
	not_ok "the new endpoint took no traffic"; echo "$OUT" | sed 's/^/#   /'; fi

curl -s "http://127.0.0.1:$P_ADMIN/metrics" >"$TMP/m.txt"
check "promtool check metrics on the proxy" promtool check metrics <"$TMP/m.txt"
expect_match "outbound requests are counted by authority" "$(cat "$TMP/m.txt")" \
	'^request_total\{direction="outbound",.*authority="web-svc\.demo\.svc\.cluster\.local"'
if kill -0 "$P_PID" 2>/dev/null; then ok "the proxy is still running"; else not_ok "the proxy died"; diag "$TMP/P.log"; fi
finish
