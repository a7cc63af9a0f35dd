#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 23-resolve: the proxy finds the destination component by name, as an
# injected pod names it (conduit-dst.conduit.svc.cluster.local:8086),
# through a real DNS server (dnsmasq) with c-ares. Inside a pod of its own
# (a network namespace: its own loopback and port 53): with no DNS server
# yet the proxy is Ready, routes by original destination and says why
# (degraded, not a crash; redirected traffic keeps its original
# destination, which k8s/40 shows on a cluster without DNS); once the server answers it resolves the name,
# turns discovery on and routes by Host through the controller; a name
# the server does not know gets "no such name".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pods.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PEER="/usr/bin/python3 $HERE/discovery_peer.py"
pods_init || { skip "resolve" "$POD_SKIP"; finish; }
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || { skip "resolve" "no dnsmasq (package dnsmasq-base, scripts/install-deps)"; finish; }

pod_create mesh # loopback only: 127.0.0.1:53 is this pod's own
C=$TMP/cluster
mkdir -p "$C"
cat >"$C/web.yml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: demo, labels: {app: web}}
spec:
  containers:
  - {name: app, ports: [{name: http, containerPort: 8080}]}
status:
  phase: Running
  podIP: 127.0.1.1
  conditions: [{type: Ready, status: "True"}]
EOF
# the pod's resolv.conf as a kubelet writes it, minus a cluster DNS
cat >"$TMP/resolv.conf" <<'EOF'
nameserver 127.0.0.1
search demo.svc.cluster.local svc.cluster.local cluster.local
options ndots:5 timeout:1 attempts:2
EOF

pod_spawn mesh back $PEER backend web-1 127.0.1.1 8080 0
pod_wait_port mesh 127.0.1.1 8080 10 || not_ok "the backend listens"
pod_spawn mesh ctl "$CONDUIT" controller --cluster-dir "$C" \
	--destination-addr 127.0.0.1:8086 --admin-addr 127.0.0.1:9996
wait_until 10 pod_exec mesh curl -sf http://127.0.0.1:9996/ready ||
	not_ok "the controller is ready"

# proxy NAME DESTINATION: a proxy in the pod (ports 41NN)
proxy() {
	local n=$1
	pod_spawn mesh "$n" "$CONDUIT" proxy --log info \
		--inbound-listen-addr "127.0.0.1:4${2}3" --outbound-listen-addr "127.0.0.1:4${2}0" \
		--admin-listen-addr "127.0.0.1:4${2}1" --control-listen-addr "127.0.0.1:4${2}2" \
		--inbound-forward 127.0.0.1:9 --resolv-conf "$TMP/resolv.conf" \
		--destination-svc-addr "$3"
	eval "${n}_PID=$SPAWNED"
}
DST=conduit-dst.conduit.svc.cluster.local:8086
proxy P 11 "$DST"

# --- no DNS server: degraded, Ready, saying why -------------------------------
if wait_until 10 grep -q 'service discovery degraded' "$TMP/P.log"; then
	ok "no DNS server: the proxy says discovery is degraded"
else
	not_ok "no DNS server: a degraded line"
fi
expect_match "with the name and the reason" "$(cat "$TMP/P.log")" \
	'msg="service discovery degraded: cannot resolve the destination component; routing by original destination meanwhile" destination=conduit-dst.conduit.svc.cluster.local:8086 error="connection refused by the DNS server"'
run pod_exec mesh curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4111/ready
expect_eq "and stays Ready (/ready 200)" "$OUT" 200
check "the proxy is still running" kill -0 "$P_PID"

# --- the DNS server comes up: the name resolves, discovery turns on ----------
pod_spawn mesh dns "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --pid-file= \
	--user=root --log-queries --log-facility=- \
	--local=/cluster.local/ --host-record=conduit-dst.conduit.svc.cluster.local,127.0.0.1 \
	--local=/example.test/ --host-record=web.example.test,127.0.1.1 \
	--host-record=h2.example.test,127.0.0.1
DNS_PID=$SPAWNED
# backoff 1, 2, 4, 8 s: the next retry comes within 16 s
if wait_until 40 grep -q 'the destination component.s name resolves now' "$TMP/P.log"; then
	ok "once the DNS server answers, the proxy resolves the name (retrying on its own)"
else
	not_ok "the name resolves after the DNS server starts"
	diag "$TMP/P.log"
	diag "$TMP/dns.log"
fi
expect_match "discovery is on, at the address DNS gave" "$(cat "$TMP/P.log")" \
	'msg="service discovery on" destination=conduit-dst.conduit.svc.cluster.local:8086 addr=127.0.0.1:8086'
expect_match "the query went to the real DNS server" "$(cat "$TMP/dns.log")" \
	'query\[A\] conduit-dst.conduit.svc.cluster.local from 127.0.0.1'
run pod_exec mesh $PEER load 127.0.0.1:4110 web-svc.demo.svc.cluster.local 20 2
expect_eq "requests by service name go through discovery to the endpoint (20/20)" \
	"$(awk '$1" "$2 == "200 web-1" { print $3 }' <<<"$OUT")" 20

# --- explicit outbound, a Host no service answers for: the Host itself ------
code() { # CURL-ARGS...: the status and the proxy's error header
	pod_exec mesh curl -s -m 10 -o /dev/null -D - "$@" |
		awk 'NR == 1 { s = $2 } tolower($1) == "conduit-proxy-error:" { $1 = ""; e = $0 } END { print s e }' | tr -d '\r'
}
expect_eq "Host naming a non-mesh DNS name: resolved with c-ares, 200" \
	"$(code -H "Host: web.example.test:8080" http://127.0.0.1:4110/)" 200
expect_eq "Host an IP:port: straight there, 200" \
	"$(code -H "Host: 127.0.1.1:8080" http://127.0.0.1:4110/)" 200
expect_eq "a name DNS does not know: 502, saying why" \
	"$(code -H "Host: nosuch.example.test" http://127.0.0.1:4110/)" "502 cannot resolve the Host: no such name"
expect_eq "the Host is the proxy itself: 502, no loop" \
	"$(code -H "Host: 127.0.0.1:4110" http://127.0.0.1:4110/)" "502 the Host is this proxy (a loop)"
mkdir -p "$TMP/www" && echo h2-hello >"$TMP/www/hello"
pod_spawn mesh nghttpd nghttpd --no-tls -d "$TMP/www" 8081
pod_wait_port mesh 127.0.0.1 8081 10
run pod_exec mesh curl -s -m 10 --http2-prior-knowledge -H "Host: h2.example.test:8081" http://127.0.0.1:4110/hello
expect_eq "HTTP/2 with an :authority DNS resolves: the origin answers" "$OUT" h2-hello
run pod_exec mesh curl -s -m 10 -o /dev/null -w '%{http_code}' --http2-prior-knowledge -H "Host: nosuch.example.test" http://127.0.0.1:4110/hello
expect_eq "HTTP/2 with an unknown name: 503 (UNAVAILABLE), not a hang" "$OUT" 503
run pod_exec mesh timeout 15 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4110; printf "hello, not HTTP\r\n\r\n" >&3; cat <&3; echo "rc=$?"'
expect_match "opaque TCP on the explicit outbound port: closed (it names no destination)" "$OUT" 'rc=0'
expect_match "saying why" "$(cat "$TMP/P.log")" 'msg="explicit outbound connection is not HTTP: closing"'

# --- a name the DNS server does not know ---------------------------------------
proxy Q 21 nosuch-dst.conduit.svc.cluster.local:8086
if wait_until 10 grep -q 'service discovery degraded' "$TMP/Q.log"; then
	expect_match "an unknown name: degraded with \"no such name\"" "$(cat "$TMP/Q.log")" \
		'destination=nosuch-dst.conduit.svc.cluster.local:8086 error="no such name"'
else
	not_ok "an unknown name: a degraded line"
	diag "$TMP/Q.log"
fi
run pod_exec mesh curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4211/ready
expect_eq "and that proxy is Ready too" "$OUT" 200

# --- bad addresses: refused at once with the reason ------------------------------
spawn bad "$CONDUIT" proxy --destination-svc-addr "no-port.example" --admin-listen-addr 127.0.0.1:0 \
	--inbound-listen-addr 127.0.0.1:0 --outbound-listen-addr 127.0.0.1:0 \
	--control-listen-addr 127.0.0.1:0 --inbound-forward 127.0.0.1:9
BAD=$SPAWNED
wait_until 5 grep -q 'service discovery off' "$TMP/bad.log"
expect_match "an address without a port: discovery off, saying why" "$(cat "$TMP/bad.log")" \
	'msg="service discovery off: a bad destination address" destination=no-port.example error=no port'
stop "$BAD"

stop "$Q_PID"
stop "$P_PID"
stop "$DNS_PID"
finish
