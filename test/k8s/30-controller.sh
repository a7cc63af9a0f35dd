#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 30-controller: `conduit controller` against the real apiserver (its
# kubeconfig): ready once listed; a grpcio client of Destination.Get follows
# a Deployment scaled 1 -> 5 -> 2 and a pod deleted, and its set is always
# what the EndpointSlices say; the public API lists the pods with their
# Deployment; a ServiceAccount without rights gets clear 403 log lines and
# no crash (and the controller is not ready).
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
for tool in protoc /usr/bin/grpc_python_plugin curl; do
	command -v "$tool" >/dev/null || { skip "controller on k8s" "$tool missing"; finish; }
done
new_ns || { not_ok "a namespace for the test"; finish; }
grpc_stubs "python stubs of destination.proto" destination
cp "$HERE/../integ/dst_client.py" "$TMP/py/"

DPORT=$(free_port) APORT=$(free_port) PPORT=$(free_port)
spawn ctl "$CONDUIT" controller --components destination,public-api \
	--destination-addr "127.0.0.1:$DPORT" --admin-addr "127.0.0.1:$APORT" \
	--public-api-addr "127.0.0.1:$PPORT" --log-level debug
CTL=$SPAWNED
if wait_until 30 curl -sf "http://127.0.0.1:$APORT/ready"; then
	ok "the controller lists the cluster and is ready"
else
	not_ok "the controller is ready"; diag "$TMP/ctl.log"
fi
run curl -s "http://127.0.0.1:$APORT/metrics"
expect_match "its informers are synced (metrics)" "$OUT" '^kube_informer_synced\{resource="endpointslices"\} 1$'

kapply web <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, 'exec /busybox httpd -f -p 8080 -h /']
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
EOF
expect_eq "a Deployment and its Service applied" "$RC" 0
spawn follow env PYTHONPATH="$TMP/py" $PY "$TMP/py/dst_client.py" follow \
	"127.0.0.1:$DPORT" "web.$NS.svc.cluster.local:80"
# slice_ips: the ready addresses the EndpointSlices hold, as our client prints
slice_ips() {
	kc get endpointslices -n "$NS" -l kubernetes.io/service-name=web \
		-o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{"\n"}{end}' |
		sed 's/$/:8080/' | sort | tr '\n' ' ' | sed 's/ $//'
}
# follows N: the subscriber's last set has N addresses, the slices' ready ones
follows() {
	local last want
	last=$(tail -n 1 "$TMP/follow.log")
	want=$(slice_ips)
	[ "$last" = "n=$1 $want" ] && [ "$(echo "$want" | wc -w)" = "$1" ]
}
expect_follows() {
	if wait_until "$2" follows "$1"; then ok "$3"; else
		not_ok "$3"
		echo "#   subscriber: $(tail -n 1 "$TMP/follow.log")"
		echo "#   slices:     $(slice_ips)"
	fi
}
expect_follows 1 90 "the subscriber sees the one ready pod"
kc scale deploy/web -n "$NS" --replicas=5 >/dev/null
expect_follows 5 90 "scaled to 5: the subscriber has the 5 ready endpoints"
kc scale deploy/web -n "$NS" --replicas=2 >/dev/null
expect_follows 2 90 "scaled to 2: the terminated ones are removed"
victim=$(kc get pods -n "$NS" -l app=web -o jsonpath='{.items[0].metadata.name}')
kc delete pod -n "$NS" "$victim" --wait=false >/dev/null
wait_until 30 sh -c "! kubectl get pod -n $NS $victim >/dev/null 2>&1"
expect_follows 2 90 "a pod deleted: its replacement takes its place"
run curl -s "http://127.0.0.1:$PPORT/api/v1/pods?namespace=$NS"
expect_match "the public API lists the pods with their Deployment" "$OUT" '"owner_kind":"Deployment","owner":"web"'
stop "$CTL"

# a ServiceAccount without any right: 403s, logged, retried, not ready
kc create serviceaccount nobody -n "$NS" >/dev/null
token=$(kc create token nobody -n "$NS" --duration=10m)
kc config view --raw --minify -o json >"$TMP/admin.json"
$PY - "$TMP/admin.json" "$token" >"$TMP/nobody.kubeconfig" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["users"] = [{"name": "nobody", "user": {"token": sys.argv[2]}}]
c["contexts"][0]["context"]["user"] = "nobody"
print(json.dumps(c))
PYEOF
A2=$(free_port)
spawn nobody "$CONDUIT" controller --kubeconfig "$TMP/nobody.kubeconfig" \
	--destination-addr "127.0.0.1:$(free_port)" --admin-addr "127.0.0.1:$A2"
NB=$SPAWNED
wait_until 20 grep -q 'forbidden\|Forbidden' "$TMP/nobody.log"
expect_match "403: a clear log line naming the resource and the server's words" "$(cat "$TMP/nobody.log")" \
	'msg="kubernetes: request failed; retrying" resource=(pods|services|endpointslices|replicasets) error=".*[Ff]orbidden'
run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A2/ready"
expect_eq "and the controller is not ready" "$OUT" 503
if kill -0 "$NB" 2>/dev/null; then ok "nor does it crash"; else not_ok "the controller died"; diag "$TMP/nobody.log"; fi
finish
