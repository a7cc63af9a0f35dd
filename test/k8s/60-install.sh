#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 60-install: the whole of `conduit install | kubectl apply -f -`, as the
# seed promises it: the apiserver takes every object strictly; every
# control-plane Deployment (controller, identity, prometheus, proxy-injector, web)
# becomes Available with its own pod injected (the component and its
# proxy ready); each component's /ready answers through the apiserver's
# pod proxy; Prometheus, injected too, scrapes every proxy of the control
# plane (up == 1 and their request or TCP counters, by PromQL through the
# apiserver's service proxy); then a namespace annotated for injection gets
# its plain Deployment injected by the webhook, and the public API sees it
# meshed.
# Prometheus is a real one, not prom/prometheus (no registry here):
# test/k8s/build-prometheus builds 2.53.2, install's default version, from
# the Go module proxy once (test/k8s/run does it before the timed tests),
# and scripts/make-image makes the FROM-scratch image install is told to use.
. "$(dirname "$0")/lib.sh"

cp_ns=t-60-cp
if prom_bin=$("$(dirname "$0")/build-prometheus" 2>"$TMP/prom-build.err"); then
	ok "build-prometheus: $prom_bin"
else
	not_ok "build-prometheus"
	diag "$TMP/prom-build.err"
	finish
fi
prom_ref=localhost/conduit-prometheus:v$("$prom_bin" --version 2>/dev/null |
	sed -n 's/^prometheus, version \([0-9.]*\) .*/\1/p')
run "$(dirname "$0")/../../scripts/make-image" "$prom_bin" /prometheus "$prom_ref" \
	"$TMP/prometheus.tar"
expect_eq "make-image: an image of it, $prom_ref" "$RC" 0
run "$K8S_CLUSTER" load "$TMP/prometheus.tar"
expect_eq "the node's runtime imports it" "$RC" 0
rm -f "$TMP/prometheus.tar"

"$CONDUIT" install -n "$cp_ns" --prometheus-image "$prom_ref" --image-pull-policy Never \
	>"$TMP/install.yml" 2>"$TMP/install.err"
expect_eq "conduit install writes the manifest" "$?" 0
# whatever happens, the cluster-scoped objects go too (the webhook first:
# a webhook left pointing at a deleted service would refuse pods)
on_exit "kc delete mutatingwebhookconfiguration -l conduit.io/control-plane-ns=$cp_ns --wait=false >/dev/null 2>&1; kc delete -f $TMP/install.yml --wait=false >/dev/null 2>&1"

run "$CONDUIT" check --pre --conduit-namespace "$cp_ns"
if [ "$RC" = 0 ] && grep -q '^Status check results are √$' "$TMP/out"; then
	ok "conduit check --pre: the cluster can take the control plane"
else
	not_ok "conduit check --pre (exit $RC)"
	diag "$TMP/out"
fi
# a server-side dry run of namespaced objects needs their namespace
kc create namespace "$cp_ns" --save-config >/dev/null
run kc apply --dry-run=server --validate=strict -f "$TMP/install.yml"
if [ "$RC" = 0 ] && ! grep -qi warning "$TMP/err"; then
	ok "install: the apiserver accepts every object strictly (dry-run=server)"
else
	not_ok "install: dry-run=server --validate=strict"
	diag "$TMP/err"
fi
run kc apply -f "$TMP/install.yml"
expect_eq "install: applied" "$RC" 0

deploys=$(kc get deploy -n "$cp_ns" -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}')
expect_eq "the control plane's Deployments" "$deploys" \
	'conduit-controller conduit-identity conduit-prometheus conduit-proxy-injector conduit-web '
for d in $deploys; do
	run kubectl wait -n "$cp_ns" --timeout=180s "deploy/$d" --for=condition=Available
	if [ "$RC" = 0 ]; then
		ok "$d becomes Available"
	else
		not_ok "$d becomes Available"
		kc get pods -n "$cp_ns" -o wide 2>&1 | sed 's/^/#   /'
		for c in $(kc get deploy -n "$cp_ns" "$d" -o jsonpath='{.spec.template.spec.containers[*].name}'); do
			kc logs -n "$cp_ns" "deploy/$d" -c "$c" --tail=15 2>&1 | sed 's/^/#   /'
		done
		continue
	fi
	pod=$(kc get pods -n "$cp_ns" -o name | sed 's|pod/||' | grep -E "^$d-[a-z0-9]+-[a-z0-9]+\$" | head -n 1)
	st=$(kc get pod -n "$cp_ns" "$pod" -o jsonpath='{range .status.containerStatuses[*]}{.name}={.ready} {end}{range .status.initContainerStatuses[?(@.name=="conduit-proxy")]}{.name}={.ready}{end}')
	if [[ "$st" == *"conduit-proxy=true"* ]] && [[ "$st" != *"=false"* ]]; then
		ok "$d: its pod is injected, the component and its proxy ready ($st)"
	else
		not_ok "$d: component and proxy ready ($st)"
	fi
	admin=$(kc get pod -n "$cp_ns" "$pod" -o jsonpath='{.spec.containers[0].readinessProbe.httpGet.port}')
	case $admin in
	'' | *[!0-9]*) admin=$(kc get pod -n "$cp_ns" "$pod" -o jsonpath="{.spec.containers[0].ports[?(@.name==\"$admin\")].containerPort}") ;;
	esac
	# /ready, Prometheus' /-/ready: the path of the component's own probe
	path=$(kc get pod -n "$cp_ns" "$pod" -o jsonpath='{.spec.containers[0].readinessProbe.httpGet.path}')
	run kc get --raw "/api/v1/namespaces/$cp_ns/pods/$pod:$admin/proxy${path:-/ready}"
	expect_match "$d: ${path:-/ready} through the apiserver's pod proxy (port $admin)" "$OUT" \
		'^ready|^Prometheus Server is Ready'
	run kc get --raw "/api/v1/namespaces/$cp_ns/pods/$pod:4191/proxy/ready"
	expect_eq "$d: its proxy's /ready through the apiserver" "$OUT" ready
done

# --- Prometheus scrapes every proxy of the control plane ---------------------
papi=/api/v1/namespaces/$cp_ns/services/conduit-prometheus:http/proxy/api/v1
# promql QUERY: its vector as "LABEL-VALUE=VALUE" words, sorted, by the
# label $by (the metric name when empty)
promql() {
	kc get --raw "$papi/query?query=$(jq -rn --arg q "$1" '$q|@uri')" |
		jq -r --arg by "$by" '.data.result[] |
			"\(.metric[if $by == "" then "__name__" else $by end])=\(.value[1])"' |
		sort | tr '\n' ' '
}
want=""
for d in $deploys; do want+="$d=1 "; done
by=deployment q="min by (deployment) (up{job=\"conduit-proxy\",namespace=\"$cp_ns\"})"
end=$(($(date +%s) + 60))
until [ "$(promql "$q" 2>/dev/null)" = "$want" ] || [ "$(date +%s)" -ge "$end" ]; do
	sleep 2
done
if [ "$(promql "$q" 2>/dev/null)" = "$want" ]; then
	ok "Prometheus: up == 1 for the proxy of every control-plane Deployment (${want% })"
else
	not_ok "Prometheus: up == 1 for every proxy of the control plane: $(promql "$q" 2>&1)"
	kc get --raw "$papi/targets?state=active" 2>&1 |
		jq -r '.data.activeTargets[] | "\(.scrapeUrl) \(.health) \(.lastError)"' 2>&1 |
		head -n 20 | sed 's/^/#   /'
fi
by="" q="count by (__name__) ({__name__=~\"request_total|tcp_open_total\",job=\"conduit-proxy\",namespace=\"$cp_ns\"})"
got=$(promql "$q")
expect_match "Prometheus: the proxies' request_total and tcp_open_total series (${got% })" \
	"$got" '(request_total|tcp_open_total)=[1-9]'
run kc logs -n "$cp_ns" deploy/conduit-prometheus -c prometheus
if [ "$RC" = 0 ] && grep -q 'msg="Server is ready to receive web requests."' "$TMP/out" &&
	! grep -qE 'level=(warn|error)' "$TMP/out"; then
	ok "Prometheus logs no warning or error (its service discovery and storage work)"
else
	not_ok "Prometheus' log"
	grep -E 'level=(warn|error)' "$TMP/out" | head -n 10 | cut -c1-300 | sed 's/^/#   /'
fi

run "$CONDUIT" check --conduit-namespace "$cp_ns" --wait 60s
if [ "$RC" = 0 ] && grep -q '^Status check results are √$' "$TMP/out" &&
	! grep -q '^×' "$TMP/out"; then
	ok "conduit check: every check of the installed control plane passes"
else
	not_ok "conduit check (exit $RC)"
	diag "$TMP/out"
fi
expect_eq "conduit check covers the Deployments, pods, identity, webhook and API" \
	"$(grep -cE '^(√|‼) (control plane Deployments are available|control plane pods are ready, each with its proxy|issuer certificate is valid|trust anchors are valid|proxy-injector webhook is registered with its CA|public API answers, at this CLI.s version)$' "$TMP/out")" 6
run "$CONDUIT" check --pre --conduit-namespace "$cp_ns"
expect_eq "conduit check --pre once installed: exit 1" "$RC" 1
expect_match "saying the namespace exists" "$OUT" "^× control plane namespace $cp_ns does not exist yet"

# --- the webhook injects what a namespace asks for --------------------------
new_ns || { not_ok "a namespace for the app"; finish; }
kc annotate namespace "$NS" conduit.io/inject=enabled >/dev/null
kapply app <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: hello
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, 'echo hello >/www/index.html && exec /busybox httpd -f -p 8080 -h /www']
        ports: [{containerPort: 8080}]
        volumeMounts: [{name: www, mountPath: /www}]
      volumes: [{name: www, emptyDir: {}}]
EOF
expect_eq "a plain Deployment applies in the annotated namespace" "$RC" 0
kwait 120 "it becomes Available" deploy/hello --for=condition=Available
pod=$(kc get pods -n "$NS" -l app=hello -o jsonpath='{.items[0].metadata.name}')
expect_match "the webhook injected it: conduit-init and conduit-proxy" \
	"$(kc get pod -n "$NS" "$pod" -o jsonpath='{range .spec.initContainers[*]}{.name} {end}')" \
	'conduit-init conduit-proxy'
run "$CONDUIT" check --conduit-namespace "$cp_ns" --proxy -n "$NS"
expect_match "conduit check --proxy: the app's pods are meshed and ready" "$OUT" \
	"^√ pods in $NS are meshed and their proxies ready"
run env CONDUIT_NAMESPACE="$cp_ns" "$CONDUIT" get pods -n "$NS"
expect_match "conduit get pods, through the apiserver: hello is meshed" "$OUT" "^$pod +true +Running +yes "
expect_match "the webhook gave its proxy an identity: trust anchors and a projected token" \
	"$(kc get pod -n "$NS" "$pod" -o json | jq -r '.spec.initContainers[] | select(.name == "conduit-proxy") |
		(.env[] | select(.name == "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS") | .value | split("\n")[0]),
		(.volumeMounts[] | .mountPath)' | tr '\n' ' ')" \
	'^-----BEGIN CERTIFICATE----- /var/run/secrets/conduit.io/identity '

# --- mutual TLS between two meshed pods ---------------------------------------
# a caller asks hello through its Service every 200 ms; both pods are
# meshed by the webhook, so the two proxies talk mTLS with the identities
# of their ServiceAccounts
kapply caller <<EOF
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: caller}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: caller}
spec:
  replicas: 1
  selector: {matchLabels: {app: caller}}
  template:
    metadata: {labels: {app: caller}}
    spec:
      serviceAccountName: caller
      containers:
      - name: caller
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, 'while :; do /busybox wget -q -O /dev/null http://hello.$NS.svc.cluster.local:8080/ || echo failed; /busybox sleep 0.2; done']
EOF
expect_eq "a Service for hello and a caller Deployment apply" "$RC" 0
kwait 120 "the caller becomes Available" deploy/caller --for=condition=Available
cpod=$(kc get pods -n "$NS" -l app=caller -o jsonpath='{.items[0].metadata.name}')
id_suffix=serviceaccount.identity.$cp_ns.cluster.local
# inbound_tls: hello's proxy's inbound requests from the caller over mTLS
inbound_tls() {
	kc get --raw "/api/v1/namespaces/$NS/pods/$pod:4191/proxy/metrics" |
		grep -E "^request_total\{direction=\"inbound\",[^}]*tls=\"true\",client_id=\"caller\.$NS\.$id_suffix\"" |
		awk '{ s += $NF } END { print s + 0 }'
}
end=$(($(date +%s) + 60))
n=0
until [ "$n" -ge 10 ] || [ "$(date +%s)" -ge "$end" ]; do
	sleep 2
	n=$(inbound_tls 2>/dev/null)
	n=${n:-0}
done
if [ "$n" -ge 10 ]; then
	ok "hello's proxy: inbound requests over mTLS from the caller's identity ($n)"
else
	not_ok "hello's proxy: inbound requests over mTLS from caller.$NS.$id_suffix ($n)"
	kc get --raw "/api/v1/namespaces/$NS/pods/$pod:4191/proxy/metrics" 2>&1 |
		grep -E '^(request_total|tcp_open_total)' | head -n 10 | sed 's/^/#   /'
	kc logs -n "$NS" "$cpod" -c conduit-proxy --tail=20 2>&1 | sed 's/^/#   /'
fi
run kc get --raw "/api/v1/namespaces/$NS/pods/$cpod:4191/proxy/metrics"
expect_match "the caller's proxy: outbound over mTLS to hello's identity (server_id)" "$OUT" \
	"^request_total\\{direction=\"outbound\",authority=\"hello\\.$NS\\.svc\\.cluster\\.local:8080\",tls=\"true\",server_id=\"default\\.$NS\\.$id_suffix\""
expect_match "and its certificate's expiry is exported" "$OUT" '^identity_cert_expiration_timestamp_seconds [1-9]'
run kc logs -n "$NS" "$cpod" -c caller --tail=50
failed=$(grep -c failed "$TMP/out")
if [ "$failed" -le 1 ]; then ok "the caller's requests succeed ($failed failed in its last 50 lines)"; else
	not_ok "the caller's requests fail ($failed of its last 50 lines)"; fi
finish
