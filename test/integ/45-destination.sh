#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 45-destination: `conduit controller --cluster-dir` (local mode) serves
# Destination.Get to a gRPC client that is not ours (grpcio, stubs from
# proto/destination.proto): the first set with labels and identities, then
# adds, removes and no_endpoints as the YAML files change; a broken edit
# keeps what was there; bad paths get INVALID_ARGUMENT; 1000 streams all
# get a change; /metrics passes promtool; garbage on the port is survived.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
for tool in protoc /usr/bin/grpc_python_plugin promtool curl; do
	if ! command -v "$tool" >/dev/null; then
		skip "destination tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done
if ! $PY -c 'import grpc, google.protobuf' 2>/dev/null; then
	skip "destination tests" "python3-grpcio or python3-protobuf missing (scripts/install-deps)"
	finish
fi

mkdir -p "$TMP/cluster"
grpc_stubs "protoc generates python stubs of destination.proto" destination
cp "$HERE/dst_client.py" "$TMP/py/"
DST() { PYTHONPATH="$TMP/py" $PY "$TMP/py/dst_client.py" "$@"; }

C=$TMP/cluster
# pod FILE NAME IP [MESHED]: a running, ready pod of deployment web
pod() {
	local proxy=""
	[ -n "${4:-}" ] && proxy="
  - name: conduit-proxy
    env: [{name: CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS, value: x}]
    ports:
    - {name: conduit-admin, containerPort: 4191}"
	cat >"$C/.$1.tmp" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $2
  namespace: emojivoto
  labels: {app: web}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-6d4f, controller: true, uid: "1"}
spec:
  serviceAccountName: web
  containers:
  - name: app
    ports:
    - {name: http, containerPort: 8080}$proxy
status:
  phase: Running
  podIP: $3
  conditions:
  - {type: Ready, status: "True"}
EOF
	mv "$C/.$1.tmp" "$C/$1"
}
cat >"$C/svc.yml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: emojivoto}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-6d4f
  namespace: emojivoto
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: web, controller: true, uid: "2"}
---
apiVersion: v1
kind: Service
metadata: {name: voting-svc, namespace: emojivoto}
spec:
  ports:
  - {name: grpc, port: 8080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: voting-svc-x1
  namespace: emojivoto
  labels: {kubernetes.io/service-name: voting-svc}
addressType: IPv4
ports:
- {name: grpc, port: 18080}
endpoints:
- addresses: [10.9.0.1]
  conditions: {ready: true}
- addresses: [10.9.0.2]
  conditions: {ready: false, serving: true, terminating: true}
- addresses: [10.9.0.3]
  conditions: {ready: false, serving: false, terminating: true}
EOF
pod web-1.yml web-1 127.0.1.1 meshed
pod web-2.yml web-2 127.0.1.2

DPORT=$(free_port) APORT=$(free_port)
DADDR=127.0.0.1:$DPORT
spawn ctl "$CONDUIT" controller --cluster-dir "$C" --cluster-dir-interval 100ms \
	--destination-addr "$DADDR" --admin-addr "127.0.0.1:$APORT" --log-level debug
CTL=$SPAWNED
if wait_until 10 curl -sf "http://127.0.0.1:$APORT/ready"; then
	ok "the controller is ready once the directory is read"
else
	not_ok "the controller is ready"
	diag "$TMP/ctl.log"
fi

SVC=web-svc.emojivoto.svc.cluster.local:80
W=$TMP/watch.out
spawn watch env PYTHONPATH="$TMP/py" $PY "$TMP/py/dst_client.py" watch "$DADDR" "$SVC"
cp /dev/null "$W"
line() { sed -n "${1}p" "$TMP/watch.log"; }
wait_until 10 test -n "$(line 1)"
L1=$(line 1)
expect_match "first update: both pods, on the named targetPort" "$L1" \
	'"add": \[.*"addr": "127\.0\.1\.[12]:8080".*"addr": "127\.0\.1\.[12]:8080"'
expect_match "the set's labels: namespace and service" "$L1" \
	'"set_labels": \{"namespace": "emojivoto", "service": "web-svc"\}'
expect_match "the meshed pod: identity, h2 hint, pod/deployment/serviceaccount labels" "$L1" \
	'"addr": "127\.0\.1\.1:8080", "h2": true, "identity": "web\.emojivoto\.serviceaccount\.identity\.conduit\.cluster\.local", "labels": \{"deployment": "web", "pod": "web-1", "serviceaccount": "web"\}'
expect_match "the plain pod: no identity, no hint" "$L1" \
	'"addr": "127\.0\.1\.2:8080", "h2": false, "identity": ""'

pod web-3.yml web-3 127.0.1.3 meshed
wait_until 10 test -n "$(line 2)"
expect_eq "a pod added: one add with it alone" "$(line 2 | grep -o '"addr": "[^"]*"' | tr '\n' ' ')" '"addr": "127.0.1.3:8080" '
rm "$C/web-2.yml"
wait_until 10 test -n "$(line 3)"
expect_eq "a pod's file removed: one remove" "$(line 3)" '{"remove": ["127.0.1.2:8080"]}'

cp "$C/svc.yml" "$TMP/svc.keep"
printf 'kind: Service\nmetadata: {name: [\n' >"$C/svc.yml"
wait_until 5 grep -q 'cluster-dir: cannot read a file; keeping what it held' "$TMP/ctl.log"
expect_match "a broken edit is reported with file:line:col" "$(grep 'cannot read a file' "$TMP/ctl.log")" \
	'error="[^"]*/svc\.yml:[0-9]+:[0-9]+: '
run curl -s "http://127.0.0.1:$APORT/ready"
expect_eq "and the controller stays ready" "$OUT" "ready"
sleep 0.5
expect_eq "and the subscribers hear nothing" "$(line 4)" ""
rm "$C/svc.yml"
wait_until 10 test -n "$(line 4)"
expect_eq "the service deleted: no_endpoints{exists: false}" "$(line 4)" '{"no_endpoints": {"exists": false}}'
cp "$TMP/svc.keep" "$C/svc.yml"
wait_until 10 test -n "$(line 5)"
expect_match "and back: the whole set again" "$(line 5)" '"add": \[.*127\.0\.1\.1:8080.*127\.0\.1\.3:8080|"add": \[.*127\.0\.1\.3:8080.*127\.0\.1\.1:8080'

run DST once "$DADDR" nosuch.emojivoto.svc.cluster.local:80
expect_eq "an unknown service: no_endpoints{exists: false}" "$OUT" '{"no_endpoints": {"exists": false}}'
run DST once "$DADDR" web-svc.emojivoto.svc.cluster.local:81
expect_eq "an unknown port: no_endpoints{exists: false}" "$OUT" '{"no_endpoints": {"exists": false}}'
for bad in "not a path" "web-svc:80" "web-svc.emojivoto.svc.other.domain:80" "web-svc.emojivoto.svc.cluster.local"; do
	run DST once "$DADDR" "$bad"
	expect_match "a malformed path ($bad): INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT path .*want <service>'
done
run DST once "$DADDR" 127.0.1.1:8080
expect_match "an IP:port path: that address with its pod's labels" "$OUT" \
	'"addr": "127\.0\.1\.1:8080".*"pod": "web-1"'
run DST once "$DADDR" voting-svc.emojivoto.svc.cluster.local:8080
expect_match "from an EndpointSlice: the ready endpoint, on the slice port" "$OUT" \
	'"addr": "10\.9\.0\.1:18080"'
case "$OUT" in
*10.9.0.3*) not_ok "not the endpoint that stopped serving" ;;
*) ok "not the endpoint that stopped serving" ;;
esac
case "$OUT" in
*10.9.0.2*) not_ok "not the terminating one still serving, while a ready one exists (as kube-proxy)" ;;
*) ok "not the terminating one still serving, while a ready one exists (as kube-proxy)" ;;
esac

# 1000 streams on one connection, then one change reaches every one
F=$TMP/fanout.out
spawn fanout env PYTHONPATH="$TMP/py" $PY "$TMP/py/dst_client.py" fanout "$DADDR" "$SVC" 1000 "$F"
FAN=$SPAWNED
if wait_until 60 grep -q '^ready 1000$' "$F"; then ok "1000 streams have their first update"; else
	not_ok "1000 streams have their first update"; diag "$TMP/fanout.log"; fi
run curl -s "http://127.0.0.1:$APORT/metrics"
expect_match "destination_streams counts them" "$OUT" '^destination_streams 100[01]$'
pod web-4.yml web-4 127.0.1.4
if wait_until 30 grep -q '^second 1000$' "$F"; then ok "one change reaches all 1000 streams"; else
	not_ok "one change reaches all 1000 streams"; diag "$TMP/fanout.log"; fi
stop "$FAN"
wait_until 10 sh -c "curl -s http://127.0.0.1:$APORT/metrics | grep -q '^destination_streams 1\$'"
run sh -c "curl -s http://127.0.0.1:$APORT/metrics | grep '^destination_streams '"
expect_eq "their end is counted: only the watcher is left" "$OUT" "destination_streams 1"

curl -s "http://127.0.0.1:$APORT/metrics" >"$TMP/metrics.txt"
check "promtool check metrics passes" promtool check metrics <"$TMP/metrics.txt"
expect_match "the cache's objects are counted by kind" "$(cat "$TMP/metrics.txt")" '^cluster_cache_objects\{kind="Pod"\} 3$'

# garbage on the gRPC port, and a client that never sends anything
head -c 4096 /dev/urandom | timeout 3 $PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
s.settimeout(2)
try:
    while s.recv(4096): pass
except Exception: pass' "$DPORT"
run DST once "$DADDR" "$SVC"
expect_match "after garbage, the controller still answers" "$OUT" '"add": \['
if kill -0 "$CTL" 2>/dev/null; then ok "the controller is still running"; else not_ok "the controller died"; diag "$TMP/ctl.log"; fi
stop "$CTL"
expect_match "it stops on SIGTERM, saying so" "$(cat "$TMP/ctl.log")" 'msg="controller: stopping" signal=15'
finish
