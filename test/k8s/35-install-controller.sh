#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 35-install-controller: the controller's part of `conduit install`,
# applied for real: its Deployment (injected with our proxy) becomes
# Available with in-cluster config and the least-privilege ClusterRole
# install wrote; /ready, /metrics and the public API answer through the
# apiserver's proxy paths; a ClusterRole missing a rule gives clear 403 log
# lines, a pod that is not ready, and no crash. (The other components have
# their own tests, 45-identity, 45-web, 50-injector; 60-install applies the
# whole install.)
. "$(dirname "$0")/lib.sh"

cp_ns=t-35-cp
"$CONDUIT" install -n "$cp_ns" --image-pull-policy Never >"$TMP/install.yml"
install_part "$TMP/install.yml" namespace controller >"$TMP/controller.yml"
# the identity component too: the controller's proxy waits for a certificate
install_part "$TMP/install.yml" identity >"$TMP/identity.yml"
expect_eq "install's controller part: Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, 3 Services, the Deployment" \
	"$(grep -c '^kind: ' "$TMP/controller.yml")" 8
on_exit "kc delete -f $TMP/identity.yml --wait=false >/dev/null 2>&1; kc delete -f $TMP/controller.yml --wait=false >/dev/null 2>&1"
run kc apply -f "$TMP/controller.yml"
expect_eq "applied" "$RC" 0
run kc apply -f "$TMP/identity.yml"
expect_eq "the identity part applied (it certifies the controller's proxy)" "$RC" 0
run kubectl wait -n "$cp_ns" --timeout=180s deploy/conduit-controller --for=condition=Available
if [ "$RC" = 0 ]; then ok "the controller Deployment becomes Available (in-cluster config, install's RBAC)"; else
	not_ok "the controller Deployment becomes Available"
	kc get pods -n "$cp_ns" -o wide 2>&1 | sed 's/^/#   /'
	kc logs -n "$cp_ns" deploy/conduit-controller -c controller --tail=20 2>&1 | sed 's/^/#   /'
fi
pod=$(kc get pods -n "$cp_ns" -l conduit.io/control-plane-component=controller -o jsonpath='{.items[0].metadata.name}')
ready=$(kc get pod -n "$cp_ns" "$pod" -o jsonpath='{range .status.containerStatuses[*]}{.ready}{" "}{end}{range .status.initContainerStatuses[*]}{.name}={.ready}{" "}{end}')
expect_match "its proxy sidecar runs beside it, ready" "$ready" 'conduit-proxy=true'
run kc get --raw "/api/v1/namespaces/$cp_ns/pods/$pod:9996/proxy/ready"
expect_eq "/ready through the apiserver's pod proxy" "$OUT" "ready"
run kc get --raw "/api/v1/namespaces/$cp_ns/pods/$pod:9996/proxy/metrics"
expect_match "/metrics: every informer synced" "$OUT" '^kube_informer_synced\{resource="replicasets"\} 1$'
expect_match "and the cache holds its own pod" "$OUT" '^cluster_cache_objects\{kind="Pod"\} [1-9]'
run kc logs -n "$cp_ns" "$pod" -c controller
expect_match "it used the pod's ServiceAccount" "$OUT" 'msg="kubernetes: API client ready" source=.*(serviceaccount|in-cluster)'
run kc get --raw "/api/v1/namespaces/$cp_ns/services/conduit-api:http/proxy/api/v1/pods?namespace=$cp_ns"
expect_match "the public API through the apiserver's service proxy lists the controller, meshed" "$OUT" \
	"\"namespace\":\"$cp_ns\",\"name\":\"$pod\",\"status\":\"Running\",\"ready\":true,\"meshed\":true"

# the CLI with no --api-addr: through the API server, as kubectl would go
run env CONDUIT_NAMESPACE="$cp_ns" "$CONDUIT" get pods -n "$cp_ns"
expect_match "conduit get pods: through the apiserver's service proxy" "$OUT" "^$pod +true +Running +yes +deployment/conduit-controller\$"
run env CONDUIT_NAMESPACE="$cp_ns" "$CONDUIT" stat deploy -n "$cp_ns"
expect_match "conduit stat deploy: the controller's Deployment, meshed" "$OUT" '^conduit-controller +1/1 '
run env CONDUIT_NAMESPACE="$cp_ns" "$CONDUIT" version
expect_match "conduit version: the server's version" "$OUT" '^Server version: v'
run env CONDUIT_NAMESPACE=no-such-ns "$CONDUIT" stat deploy
expect_eq "no control plane in that namespace: exit 1" "$RC" 1
expect_match "with one line saying so" "$ERR" '^conduit stat: '

# least privilege: without the endpointslices rule the controller says why
kc get clusterrole "$cp_ns-conduit-controller" -o json >"$TMP/role.json" 2>/dev/null ||
	kc get clusterrole -l conduit.io/control-plane-ns="$cp_ns",conduit.io/control-plane-component=controller -o json |
	/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["items"][0]))' >"$TMP/role.json"
/usr/bin/python3 - "$TMP/role.json" >"$TMP/role-less.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
    r["metadata"].pop(k, None)
r["rules"] = [x for x in r["rules"] if "endpointslices" not in x.get("resources", [])]
print(json.dumps(r))
EOF
run kc replace -f "$TMP/role-less.json"
expect_eq "the ClusterRole loses its endpointslices rule" "$RC" 0
kc delete pod -n "$cp_ns" "$pod" --wait=false >/dev/null
newpod=""
for i in $(seq 1 120); do
	newpod=$(kc get pods -n "$cp_ns" -l conduit.io/control-plane-component=controller \
		-o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{end}{range .items[*]}{.metadata.name}{" "}{end}' | tr ' ' '\n' | grep -v "^$pod\$" | head -n 1)
	[ -n "$newpod" ] && kc logs -n "$cp_ns" "$newpod" -c controller 2>/dev/null | grep -q 'forbidden' && break
	sleep 1
done
run kc logs -n "$cp_ns" "$newpod" -c controller
expect_match "a forbidden list: a clear log line with the server's words" "$OUT" \
	'msg="kubernetes: request failed; retrying" resource=endpointslices error=".*forbidden'
sleep 3
st=$(kc get pod -n "$cp_ns" "$newpod" -o jsonpath='{range .status.containerStatuses[?(@.name=="controller")]}{.ready} {.restartCount}{end}')
expect_eq "not ready, and not crashing (ready, restarts)" "$st" "false 0"
kc apply -f "$TMP/controller.yml" >/dev/null 2>&1
finish
