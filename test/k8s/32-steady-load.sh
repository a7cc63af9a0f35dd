#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 32-steady-load: a proxy routing by service name through the controller
# (run with the cluster's kubeconfig) under steady HTTP/1.1 load (h2load,
# a fixed rate) while the real cluster changes its endpoints: a
# Deployment scaled 2 -> 4 (traffic reaches the new pods within seconds)
# -> 2 (graceful: the pods terminate), then the controller killed and
# restarted mid-load. Every request succeeds.
. "$(dirname "$0")/lib.sh"

for tool in h2load curl; do
	command -v "$tool" >/dev/null || { skip "steady load on k8s" "$tool missing"; finish; }
done
new_ns || { not_ok "a namespace for the test"; finish; }

kapply web <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, 'echo \$HOSTNAME >/www/index.html && exec /busybox httpd -f -p 8080 -h /www']
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
        volumeMounts: [{name: www, mountPath: /www}]
      volumes: [{name: www, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
EOF
expect_eq "the Deployment and Service apply" "$RC" 0
kwait 90 "two web pods are Available" deploy/web --for=condition=Available

DPORT=$(free_port) APORT=$(free_port)
start_controller() {
	spawn "ctl$1" "$CONDUIT" controller --components destination \
		--destination-addr "127.0.0.1:$DPORT" --admin-addr "127.0.0.1:$APORT"
	CTL=$SPAWNED
	wait_until 30 curl -sf "http://127.0.0.1:$APORT/ready"
}
start_controller 1 || not_ok "the controller is ready"
PROXY_LOG=info start_proxy P 127.0.0.1:9 --destination-svc-addr "127.0.0.1:$DPORT"
SVC=web.$NS.svc.cluster.local
if wait_until 30 curl -sf -m 2 -H "Host: $SVC" "http://127.0.0.1:$P_OUT/index.html"; then
	ok "a request by service name reaches a web pod through the proxy"
else
	not_ok "a request by service name through the proxy"; diag "$TMP/P.log"
fi

# pods_seen: the distinct web pods the proxy's outbound series name
pods_seen() {
	curl -s -m 5 "http://127.0.0.1:$P_ADMIN/metrics" |
		grep -oE "^request_total\{direction=\"outbound\",authority=\"$SVC\",[^}]*dst_pod=\"web-[a-z0-9-]+\"" |
		grep -oE 'dst_pod="[^"]+"' | sort -u | wc -l
}

# 4 clients x 50 requests/s for 40 s: 8000 requests
spawn load h2load --h1 -c 4 --rps 50 -D 40 -H ":authority: $SVC" \
	"http://127.0.0.1:$P_OUT/index.html"
LOAD=$SPAWNED
sleep 4
run kc scale -n "$NS" deploy/web --replicas=4
kwait 60 "scaled to 4 under load: 4 ready" deploy/web --for=jsonpath='{.status.readyReplicas}'=4
t0=$(date +%s%N)
n=0
for i in $(seq 1 150); do
	n=$(pods_seen)
	[ "$n" -ge 4 ] && break
	sleep 0.1
done
if [ "$n" -ge 4 ]; then
	ok "traffic reaches all 4 pods, $(( ($(date +%s%N) - t0) / 1000000 )) ms after they are Ready"
else
	not_ok "traffic reaches the new pods (saw $n of 4 within 15 s of Ready)"
fi
sleep 3
run kc scale -n "$NS" deploy/web --replicas=2
wait_until 30 sh -c "[ \$(kubectl get pods -n $NS -l app=web --no-headers 2>/dev/null | wc -l) -eq 2 ]" &&
	ok "scaled down to 2 under load (the others terminated)" ||
	not_ok "scaled down to 2"
sleep 2
kill -KILL "$CTL"
wait "$CTL" 2>/dev/null
sleep 3
start_controller 2 && ok "the controller, killed mid-load, is back" ||
	not_ok "the controller restarts"

# h2load ends on its own after -D
for i in $(seq 1 600); do kill -0 "$LOAD" 2>/dev/null || break; sleep 0.1; done
stop "$LOAD"
L=$(cat "$TMP/load.log")
done_n=$(grep -oE '^requests: [0-9]+ total, [0-9]+ started, [0-9]+ done, [0-9]+ succeeded' <<<"$L" | awk '{ print $8 }')
ok_n=$(grep -oE '[0-9]+ succeeded' <<<"$L" | awk '{ print $1 }')
bad=$(grep -oE '[0-9]+ failed, [0-9]+ errored, [0-9]+ timeout' <<<"$L")
if [ -n "$done_n" ] && [ "${done_n:-0}" -ge 4000 ]; then
	ok "steady load ran ($done_n requests in 40 s)"
else
	not_ok "steady load ran (done: '${done_n:-none}')"; diag "$TMP/load.log"
fi
if [ "$bad" = "0 failed, 0 errored, 0 timeout" ]; then
	ok "through scale up, scale down and a controller restart: zero failed requests"
else
	not_ok "through scale up, scale down and a controller restart: $bad"
	# what the proxy answered itself, and why
	grep -E 'the proxy answers|connect failed|reset' "$TMP/P.log" | tail -n 20 | sed 's/^/#   /'
fi
expect_match "and every response a 2xx" "$L" "status codes: $ok_n 2xx, 0 3xx, 0 4xx, 0 5xx"
expect_match "the proxy kept its endpoints while the controller was away" "$(cat "$TMP/P.log")" \
	'msg="discovery: stream ended; keeping the last endpoints" service=web\.[a-z0-9-]+\.svc\.cluster\.local:80'
run curl -s -m 5 "http://127.0.0.1:$P_ADMIN/metrics"
now=$(kc get pods -n "$NS" -l app=web -o jsonpath='{.items[*].metadata.name}')
for p in $now; do
	expect_match "a surviving pod ($p) served requests, by its dst_pod series" "$OUT" \
		"^request_total\\{direction=\"outbound\",authority=\"$SVC\",[^}]*dst_pod=\"$p\"[^}]*\\} [1-9]"
done
stop "$P_PID"
stop "$CTL"
finish
