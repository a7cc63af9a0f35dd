#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 10-mesh: install and inject on a real apiserver; injected pods run our
# FROM-scratch image (conduit-init programs nf_tables, the proxy is a native
# sidecar), a Job of an injected pod completes, traffic between two
# injected pods goes through both proxies, a refused manifest applies
# nothing.
. "$(dirname "$0")/lib.sh"

data=$(cd "$(dirname "$0")/../integ/testdata/inject" && pwd)
img=(--proxy-image "$CONDUIT_IMAGE_REF" --init-image "$CONDUIT_IMAGE_REF"
	--image-pull-policy Never)
new_ns || { not_ok "a namespace for the test"; finish; }

# --- the real apiserver's validation, strict about unknown fields -------------
# a dry run creates nothing, so the control plane's namespace must exist for
# the objects in it to be checked
cp_ns="$NS-cp"
kc create namespace "$cp_ns" --save-config >/dev/null && on_exit "kc delete namespace $cp_ns --wait=false >/dev/null 2>&1"
"$CONDUIT" install -n "$cp_ns" >"$TMP/install.yml"
run kc apply --dry-run=server --validate=strict -f "$TMP/install.yml"
if [ "$RC" = 0 ] && ! grep -qi "warning\|error" "$TMP/err"; then
	ok "install: the apiserver accepts every object (dry-run=server, validate=strict)"
else
	not_ok "install: dry-run=server --validate=strict"
	diag "$TMP/err"
fi
expect_eq "install: one dry-run line per object" \
	"$(grep -c '(server dry run)' "$TMP/out")" "$(grep -c '^kind: ' "$TMP/install.yml")"
for f in statefulset.yml cronjob.yml list.yml pod.json disabled.yml; do
	"$CONDUIT" inject "${img[@]}" "$data/$f" >"$TMP/$f.injected" 2>/dev/null
	run kc apply -n "$NS" --dry-run=server --validate=strict -f "$TMP/$f.injected"
	if [ "$RC" = 0 ] && ! grep -qi "warning" "$TMP/err"; then
		ok "inject $f: the apiserver accepts it strictly"
	else
		not_ok "inject $f: dry-run=server --validate=strict"
		diag "$TMP/err"
	fi
done

# --- a refused manifest applies nothing -------------------------------------
"$CONDUIT" inject "${img[@]}" "$data/hostnetwork.yml" 2>"$TMP/refused.err" |
	kc apply -n "$NS" -f - >/dev/null 2>&1
expect_match "inject refuses the hostNetwork DaemonSet" "$(cat "$TMP/refused.err")" "hostNetwork is enabled"
expect_eq "and nothing reached the cluster" "$(kc get daemonsets -n "$NS" -o name)" ""

# --- an injected Job completes: native sidecar, proxy-init from scratch -----
cat >"$TMP/job.yml" <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: once
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, 'echo the app ran']
EOF
"$CONDUIT" inject "${img[@]}" "$TMP/job.yml" >"$TMP/job.injected" 2>/dev/null
run kc apply -n "$NS" -f "$TMP/job.injected"
expect_eq "the injected Job applies" "$RC" 0
kwait 120 "an injected Job completes (the proxy does not hold it open)" job/once \
	--for=condition=Complete
pod=$(kc get pods -n "$NS" -l job-name=once -o jsonpath='{.items[0].metadata.name}')
expect_eq "conduit-init (proxy-init, FROM scratch, NET_ADMIN) exited 0" \
	"$(kc get pod "$pod" -n "$NS" -o jsonpath='{.status.initContainerStatuses[?(@.name=="conduit-init")].state.terminated.exitCode}')" 0
expect_match "the app ran after the proxy" "$(kc logs -n "$NS" "$pod" -c once 2>&1)" "the app ran"
expect_match "conduit-init installed the redirect rules" \
	"$(kc logs -n "$NS" "$pod" -c conduit-init 2>&1)" "^proxy-init: installed [0-9]+ rules in table conduit_proxy_init"

# --- two injected pods talk through both proxies ----------------------------
cat >"$TMP/web.yml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, '/busybox mkdir -p /www && echo hello through the mesh > /www/index.html && exec /busybox httpd -f -p 8080 -h /www']
        ports:
        - containerPort: 8080
        volumeMounts:
        - {name: www, mountPath: /www}
      volumes:
      - {name: www, emptyDir: {}}
EOF
"$CONDUIT" inject "${img[@]}" "$TMP/web.yml" >"$TMP/web.injected" 2>/dev/null
run kc apply -n "$NS" -f "$TMP/web.injected"
kwait 120 "the injected web Deployment becomes Available" deploy/web --for=condition=Available
web=$(kc get pods -n "$NS" -l app=web -o jsonpath='{.items[0].metadata.name}')
webip=$(kc get pod "$web" -n "$NS" -o jsonpath='{.status.podIP}')
expect_eq "web: the app and the proxy are both ready" \
	"$(kc get pod "$web" -n "$NS" -o jsonpath='{.status.containerStatuses[*].ready} {.status.initContainerStatuses[?(@.name=="conduit-proxy")].ready}')" \
	"true true"
cat >"$TMP/client.yml" <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: client
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: client
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, 'for i in 1 2 3; do /busybox printf "GET /index.html HTTP/1.0\r\n\r\n" | /busybox nc -w 5 $webip 8080; done']
EOF
"$CONDUIT" inject "${img[@]}" "$TMP/client.yml" >"$TMP/client.injected" 2>/dev/null
run kc apply -n "$NS" -f "$TMP/client.injected"
kwait 120 "the injected client Job completes" job/client --for=condition=Complete
client=$(kc get pods -n "$NS" -l job-name=client -o jsonpath='{.items[0].metadata.name}')
expect_eq "the client got the page three times, through both proxies" \
	"$(kc logs -n "$NS" "$client" -c client 2>&1 | grep -c 'hello through the mesh')" 3
run kc get --raw "/api/v1/namespaces/$NS/pods/$web:4191/proxy/metrics"
expect_match "web's proxy, read through the apiserver, counts the inbound connections" \
	"$OUT" 'tcp_open_total\{[^}]*direction="inbound"[^}]*target_addr="[^"]*:8080"[^}]*\} [3-9]'
run kc get --raw "/api/v1/namespaces/$NS/pods/$web:4191/proxy/ready"
expect_eq "web's proxy /ready through the apiserver" "$OUT" "ready"
# no control plane in the namespace the injected destination names: its
# name is NXDOMAIN in the cluster's DNS (error="no such name"). The proxy
# stays Ready (above) and up, and says so
expect_match "web's proxy: discovery degraded, with the name and the reason in its log" \
	"$(kc logs -n "$NS" "$web" -c conduit-proxy 2>&1)" \
	'level=warn component=proxy msg="service discovery degraded: cannot resolve the destination component; routing by original destination meanwhile" destination=conduit-dst\.[a-z0-9-]+\.svc\.cluster\.local:8086 error='
expect_eq "and it never restarted (no crash loop)" \
	"$(kc get pod "$web" -n "$NS" -o jsonpath='{.status.initContainerStatuses[?(@.name=="conduit-proxy")].restartCount}')" 0

# --- the classic sidecar, for clusters before native sidecars --------------
sed -e 's/name: web$/name: web-classic/' -e 's/app: web}/app: web-classic}/' \
	"$TMP/web.yml" >"$TMP/web-classic.yml"
"$CONDUIT" inject "${img[@]}" --native-sidecar=false "$TMP/web-classic.yml" \
	>"$TMP/web-classic.injected" 2>/dev/null
run kc apply -n "$NS" -f "$TMP/web-classic.injected"
kwait 120 "--native-sidecar=false: the Deployment becomes Available" deploy/web-classic \
	--for=condition=Available
expect_eq "--native-sidecar=false: the proxy is a ready container beside the app" \
	"$(kc get pods -n "$NS" -l app=web-classic -o jsonpath='{range .items[0].status.containerStatuses[*]}{.name}={.ready} {end}')" \
	"conduit-proxy=true web-classic=true "

# --- uninject, applied, takes the proxy out of the pods ---------------------
"$CONDUIT" uninject "$TMP/web.injected" >"$TMP/web.uninjected" 2>/dev/null
run kc apply -n "$NS" -f "$TMP/web.uninjected"
expect_eq "the uninjected Deployment applies" "$RC" 0
run kubectl rollout status -n "$NS" deploy/web --timeout=120s
expect_eq "the uninjected Deployment rolls out" "$RC" 0
# containers: "<init containers>|<containers>" of the running web pods
# that are not being deleted
containers() {
	kc get pods -n "$NS" -l app=web --field-selector=status.phase=Running \
		-o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.spec.initContainers[*].name}|{.spec.containers[*].name}{"\n"}{end}' |
		grep -v '^[^|]' | cut -d'|' -f2-
}
# the injected pod may still be terminating: wait until one pod is left
wait_until 60 sh -c "[ \"\$(kubectl get pods -n $NS -l app=web -o name | wc -l)\" = 1 ]"
expect_eq "the web pod is back to the app container alone" "$(containers)" "|web"

finish
