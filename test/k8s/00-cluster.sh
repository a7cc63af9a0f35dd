#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 00-cluster: the one-node cluster works as later tests need it: node Ready,
# the version kubectl parses, our image and the pause image run, a ClusterIP
# Service reaches a pod from the host and from a pod, a Job of our image
# completes, and the apiserver validates strictly (unknown fields rejected).
. "$(dirname "$0")/lib.sh"

run kc get node -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'
expect_match "the node is Ready" "$OUT" '^conduit-k8s True$'

run kc version -o json
server=$(printf '%s' "$OUT" | /usr/bin/python3 -c \
	'import json, sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null)
expect_match "kubectl version parses the server version" "$server" '^v1\.34\.[0-9]+$'

new_ns || { not_ok "namespace $NS"; finish; }

# --- a Deployment of 2 pause pods becomes Available -------------------------
t=$(date +%s.%N)
kapply sleeper <<EOF2
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleeper}
spec:
  replicas: 2
  selector: {matchLabels: {app: sleeper}}
  template:
    metadata: {labels: {app: sleeper}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: pause
        image: $K8S_PAUSE_IMAGE
        imagePullPolicy: Never
EOF2
expect_eq "the Deployment applies" "$RC" 0
kwait 60 "2 replicas become Available" deploy/sleeper --for=condition=Available
echo "# Available $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after apply"
run kc get deploy sleeper -n "$NS" -o jsonpath='{.status.readyReplicas}'
expect_eq "2 replicas ready" "$OUT" 2

# --- a ClusterIP Service reaches a pod, from the host and from a pod --------
kapply web <<EOF2
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
      - name: httpd
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, '/busybox mkdir -p /www && echo hello from web > /www/index.html && exec /busybox httpd -f -p 8080 -h /www']
        ports: [{containerPort: 8080}]
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF2
expect_eq "the web Deployment and Service apply" "$RC" 0
kwait 60 "the web pod becomes Available" deploy/web --for=condition=Available
ip=$(kc get svc web -n "$NS" -o jsonpath='{.spec.clusterIP}')
expect_match "the Service has a ClusterIP" "$ip" '^10\.96\.0\.[0-9]+$'
# kube-proxy writes the rules within a second or so of the endpoint
body() { curl -s --max-time 3 "http://$ip/"; }
if wait_until 30 sh -c "curl -sf --max-time 3 http://$ip/ | grep -q 'hello from web'"; then
	ok "the host reaches the pod through the ClusterIP"
else
	not_ok "the host reaches the pod through the ClusterIP ($(body))"
	k8s_diag
fi

# busybox's wget crashes in an empty root (static glibc without NSS): nc.
# The apiserver answers plain HTTP on its TLS port with a 400 that says so.
req='/busybox printf "GET / HTTP/1.0\r\n\r\n"'
run kc run client -n "$NS" --image="$K8S_BUSYBOX_IMAGE" --image-pull-policy=Never \
	--restart=Never --command -- /busybox sh -c \
	"$req | /busybox nc -w 5 $ip 80; $req | /busybox nc -w 5 10.96.0.1 443"
pod_done 60 client
expect_eq "a client pod completes" "$PHASE" Succeeded
run kc logs client -n "$NS"
expect_match "a pod reaches another through the ClusterIP" "$OUT" 'hello from web'
expect_match "a pod reaches the apiserver's ClusterIP 10.96.0.1:443" "$OUT" \
	'Client sent an HTTP request to an HTTPS server'

# --- a Job of our image completes ----------------------------------------
kapply version <<EOF2
apiVersion: batch/v1
kind: Job
metadata: {name: version}
spec:
  backoffLimit: 0
  activeDeadlineSeconds: 60
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: conduit
        image: $CONDUIT_IMAGE_REF
        imagePullPolicy: IfNotPresent
        args: [version, --client]
EOF2
expect_eq "the Job applies" "$RC" 0
kwait 60 "the Job of our image completes" job/version --for=condition=Complete
run kc logs job/version -n "$NS"
expect_match "its log shows the client version" "$OUT" '^Client version: v'
expect_eq "the image runs the binary it is tagged with" "$OUT" \
	"Client version: ${CONDUIT_IMAGE_REF##*:}"

# --- strict server-side validation -----------------------------------------
cm() {
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\ndata: {a: b}\n%s\n' "$1"
}
kapply strict-ok --dry-run=server --validate=strict < <(cm '')
expect_eq "a valid object passes --dry-run=server --validate=strict" "$RC" 0
kapply strict-bad --dry-run=server --validate=strict < <(cm 'bogusField: 1')
if [ "$RC" != 0 ] && printf '%s' "$ERR" | grep -q 'unknown field "bogusField"'; then
	ok "an unknown field is rejected by strict validation"
else
	not_ok "an unknown field is rejected by strict validation (exit $RC)"
	diag "$TMP/out" "$TMP/err"
fi
expect_exit 1 "dry-run created nothing" kc get configmap strict -n "$NS"
finish
