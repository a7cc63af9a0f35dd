#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 50-injector: the proxy injector's part of `conduit install`, applied for
# real (its Deployment, Service, Secret, RBAC and the
# MutatingWebhookConfiguration with its caBundle): the kube-apiserver
# reaches the webhook through the Service reference (this cluster has no
# DNS: the apiserver resolves the Service to its ClusterIP itself), a plain
# Deployment in a namespace annotated conduit.io/inject: enabled comes up
# with conduit-init and conduit-proxy, shaped as `conduit inject` shapes
# them; a namespace not annotated is left alone; a hostNetwork pod is
# admitted as it is, with a warning kubectl shows; with the injector
# stopped, failurePolicy: Ignore lets pods through uninjected once the
# webhook's timeout is up.
. "$(dirname "$0")/lib.sh"

cp_ns=t-50-cp
"$CONDUIT" install -n "$cp_ns" --image-pull-policy Never >"$TMP/install.yml"
install_part "$TMP/install.yml" namespace proxy-injector >"$TMP/injector.yml"
# the identity component too: the injector's proxy waits for a certificate,
# and the injector mounts its trust roots (for the proxies it injects)
install_part "$TMP/install.yml" identity >"$TMP/identity.yml"
expect_eq "install's injector part: Namespace, ServiceAccount, ClusterRole(Binding), Secret, Service, Deployment, MutatingWebhookConfiguration" \
	"$(grep '^kind: ' "$TMP/injector.yml" | sort | tr '\n' ' ')" \
	"kind: ClusterRole kind: ClusterRoleBinding kind: Deployment kind: MutatingWebhookConfiguration kind: Namespace kind: Secret kind: Service kind: ServiceAccount "
on_exit "kc delete -f $TMP/identity.yml --wait=false >/dev/null 2>&1; kc delete -f $TMP/injector.yml --wait=false >/dev/null 2>&1"
run kc apply -f "$TMP/injector.yml"
expect_eq "applied" "$RC" 0
run kc apply -f "$TMP/identity.yml"
expect_eq "the identity part applied (trust roots, and the proxies' certificates)" "$RC" 0
run kubectl wait -n "$cp_ns" --timeout=180s deploy/conduit-proxy-injector --for=condition=Available
if [ "$RC" = 0 ]; then ok "the proxy-injector Deployment becomes Available (certificate loaded, namespaces listed)"; else
	not_ok "the proxy-injector Deployment becomes Available"
	kc get pods -n "$cp_ns" -o wide 2>&1 | sed 's/^/#   /'
	kc logs -n "$cp_ns" deploy/conduit-proxy-injector -c proxy-injector --tail=20 2>&1 | sed 's/^/#   /'
fi
ipod=$(kc get pods -n "$cp_ns" -l conduit.io/control-plane-component=proxy-injector -o jsonpath='{.items[0].metadata.name}')
run kc get --raw "/api/v1/namespaces/$cp_ns/pods/$ipod:9995/proxy/ready"
expect_eq "/ready through the apiserver's pod proxy" "$OUT" "ready"
# the Service's endpoint must be programmed before the apiserver can call it
wait_until 30 sh -c "kubectl get endpointslices -n $cp_ns -l kubernetes.io/service-name=conduit-proxy-injector -o jsonpath='{.items[*].endpoints[*].conditions.ready}' | grep -q true"

# --- an annotated namespace: a plain Deployment gets the proxy ------------
new_ns
kc annotate namespace "$NS" conduit.io/inject=enabled >/dev/null
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
        command: [/busybox, sh, -c, '/busybox mkdir -p /www && echo hello > /www/index.html && exec /busybox httpd -f -p 8080 -h /www']
        ports:
        - containerPort: 8080
        volumeMounts:
        - {name: www, mountPath: /www}
      volumes:
      - {name: www, emptyDir: {}}
EOF
run kc apply -n "$NS" -f "$TMP/web.yml"
expect_eq "a plain Deployment applies" "$RC" 0
kwait 120 "it becomes Available" deploy/web --for=condition=Available
pod=$(kc get pods -n "$NS" -l app=web -o jsonpath='{.items[0].metadata.name}')
kc get pod -n "$NS" "$pod" -o json >"$TMP/pod.json"
expect_eq "its pod has conduit-init and conduit-proxy (a native sidecar) before the app" \
	"$(/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["spec"]; print(" ".join(c["name"] for c in p["initContainers"]), "|", " ".join(c["name"] for c in p["containers"]))' "$TMP/pod.json")" \
	"conduit-init conduit-proxy | web"
expect_eq "and the proxy is started and ready" \
	"$(kc get pod -n "$NS" "$pod" -o jsonpath='{.status.initContainerStatuses[?(@.name=="conduit-proxy")].ready}')" true
# the same Deployment through `conduit inject`, defaulted by the API server
# (a server-side dry run: the webhook sees pods only): the same containers,
# field for field, the same labels
# with install's trust anchors, as the webhook has them (its ConfigMap)
/usr/bin/python3 - "$TMP/install.yml" >"$TMP/anchors.pem" <<'EOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == "conduit-identity-trust-roots":
        sys.stdout.write(d["data"]["ca-bundle.crt"])
EOF
"$CONDUIT" inject --proxy-image "$CONDUIT_IMAGE_REF" --init-image "$CONDUIT_IMAGE_REF" \
	--identity-trust-anchors-file "$TMP/anchors.pem" \
	--image-pull-policy Never -n "$cp_ns" "$TMP/web.yml" >"$TMP/web.injected" 2>/dev/null
kc apply -n "$NS" --dry-run=server -o json -f "$TMP/web.injected" >"$TMP/web.defaulted.json" 2>"$TMP/err"
cat >"$TMP/compare.py" <<'EOF'
import json, sys
pod = json.load(open(sys.argv[1]))
tmpl = json.load(open(sys.argv[2]))["spec"]["template"]
def strip(c):
    # the Deployment template has no token mount (the ServiceAccount
    # admission plugin mounts it into pods): checked below
    c = dict(c)
    c.pop("volumeMounts", None)
    return c
ours = [strip(c) for c in pod["spec"]["initContainers"]]
theirs = [strip(c) for c in tmpl["spec"]["initContainers"]]
bad = [] if ours == theirs else [(o, t) for o, t in zip(ours, theirs) if o != t] or ["count"]
for k in ("conduit.io/control-plane-ns", "conduit.io/proxy-deployment"):
    if pod["metadata"]["labels"].get(k) != tmpl["metadata"]["labels"].get(k):
        bad.append(k)
if pod["metadata"]["annotations"].get("conduit.io/proxy-version") != tmpl["metadata"]["annotations"].get("conduit.io/proxy-version"):
    bad.append("proxy-version")
print(bad or "same")
print(pod["metadata"]["annotations"].get("conduit.io/created-by"))
print("mounts", [m["mountPath"] for c in pod["spec"]["initContainers"] if c["name"] == "conduit-proxy"
                 for m in c.get("volumeMounts", [])])
EOF
run /usr/bin/python3 "$TMP/compare.py" "$TMP/pod.json" "$TMP/web.defaulted.json"
expect_eq "the webhook's conduit-init and conduit-proxy are conduit inject's, every field as the API server defaults it; the same labels" \
	"$(echo "$OUT" | head -n 1)" same
[ "$(echo "$OUT" | head -n 1)" = same ] || { echo "$OUT" | head -c 3000 | sed 's/^/#   /'; diag "$TMP/err"; }
expect_match "created-by names the injector" "$(echo "$OUT" | sed -n 2p)" '^conduit/proxy-injector v'
expect_eq "the identity token and the ServiceAccount token are mounted into the webhook's conduit-proxy (as into inject's)" \
	"$(echo "$OUT" | sed -n 3p)" "mounts ['/var/run/secrets/conduit.io/identity', '/var/run/secrets/kubernetes.io/serviceaccount']"

# --- a namespace nobody annotated stays untouched ----------------------------
plain=t-50-plain
kc create namespace "$plain" >/dev/null
on_exit "kc delete namespace $plain --wait=false >/dev/null 2>&1"
wait_until 30 kc get serviceaccount default -n "$plain"
run kc apply -n "$plain" -f "$TMP/web.yml"
run kubectl wait -n "$plain" --timeout=120s deploy/web --for=condition=Available
expect_eq "in a namespace not annotated, the same Deployment becomes Available" "$RC" 0
expect_eq "with its own container only" \
	"$(kc get pods -n "$plain" -l app=web -o jsonpath='{.items[0].spec.initContainers[*].name}|{.items[0].spec.containers[*].name}')" "|web"

# --- a hostNetwork pod: admitted as it is, and kubectl says why ------------
cat >"$TMP/host.yml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: host
spec:
  hostNetwork: true
  restartPolicy: Never
  containers:
  - name: host
    image: $K8S_BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [/busybox, "true"]
EOF
run kc apply -n "$NS" -f "$TMP/host.yml"
expect_eq "a hostNetwork pod in the annotated namespace is admitted" "$RC" 0
expect_match "kubectl shows the injector's warning" "$ERR" 'Warning: not injected: hostNetwork is enabled'
expect_eq "and it has no proxy" \
	"$(kc get pod -n "$NS" host -o jsonpath='{.spec.initContainers[*].name}|{.spec.containers[*].name}')" "|host"

# a pod that says no, in an annotated namespace
run kc run -n "$NS" optout --image="$K8S_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
	--annotations=conduit.io/inject=disabled --command -- /busybox true
expect_match "a pod annotated conduit.io/inject: disabled: admitted with a warning" "$ERR" 'Warning: not injected: the pod has conduit.io/inject: disabled'
expect_eq "and no proxy" "$(kc get pod -n "$NS" optout -o jsonpath='{.spec.initContainers[*].name}')" ""

run kc get --raw "/api/v1/namespaces/$cp_ns/pods/$ipod:9995/proxy/metrics"
expect_match "/metrics: reviews by result" "$OUT" '^injector_reviews_total\{result="injected"\} [1-9]'
expect_match "/metrics: the refusals" "$OUT" '^injector_reviews_total\{result="refused"\} [1-9]'

# --- the injector stopped: failurePolicy Ignore lets pods through ----------
kc scale -n "$cp_ns" deploy/conduit-proxy-injector --replicas=0 >/dev/null
wait_until 60 sh -c "[ -z \"\$(kubectl get pods -n $cp_ns -l conduit.io/control-plane-component=proxy-injector -o name)\" ]"
t0=$(date +%s%N)
run kc run -n "$NS" late --image="$K8S_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never --command -- /busybox true
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "with no injector running, a pod is still admitted (failurePolicy: Ignore)" "$RC" 0
expect_eq "uninjected" "$(kc get pod -n "$NS" late -o jsonpath='{.spec.initContainers[*].name}')" ""
# the API server may retry a refused connection until the webhook's
# timeoutSeconds (10), then goes on: documented in the README
if [ "$ms" -lt 15000 ]; then ok "after at most the webhook's timeout, 10 s (${ms} ms)"; else
	not_ok "admission took ${ms} ms"; fi
kc delete mutatingwebhookconfiguration "conduit-proxy-injector-$cp_ns" --wait=false >/dev/null 2>&1
finish
