#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 45-identity: identity against the real apiserver. `conduit controller
# --components identity` on the host with the cluster's kubeconfig checks
# real ServiceAccount tokens (kubectl create token) with TokenReviews: the
# account's own token is certified (openssl verifies the chain), another
# account's is PERMISSION_DENIED, a forged one FAILED_PRECONDITION. Then
# install's identity part (ServiceAccount, least-privilege ClusterRole,
# issuer Secret, trust-roots ConfigMap, Service, Deployment injected with
# our proxy) is applied: the Deployment becomes Available with in-cluster
# config, and certifies a token through a port-forward.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
for tool in protoc /usr/bin/grpc_python_plugin openssl curl; do
	command -v "$tool" >/dev/null || { skip "identity on k8s" "$tool missing"; finish; }
done
$PY -c 'import grpc, google.protobuf, cryptography' 2>/dev/null ||
	{ skip "identity on k8s" "python3-grpcio/protobuf/cryptography missing"; finish; }
new_ns || { not_ok "a namespace for the test"; finish; }
mkdir -p "$TMP/py" "$TMP/issuer"
check "python stubs of identity.proto" \
	protoc -I "$HERE/../../proto" --python_out="$TMP/py" --grpc_out="$TMP/py" \
	--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$HERE/../../proto/identity.proto"
cp "$HERE/../integ/id_client.py" "$TMP/py/"
ID() { PYTHONPATH="$TMP/py" $PY "$TMP/py/id_client.py" "$@"; }

# the trust anchor and issuer, as an operator would bring them (openssl)
(
	cd "$TMP/issuer" || exit 1
	openssl ecparam -name prime256v1 -genkey -noout -out root.key &&
		openssl req -x509 -new -key root.key -subj /CN=root.conduit.cluster.local -days 30 \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
			-out ca.crt &&
		openssl ecparam -name prime256v1 -genkey -noout -out tls.key &&
		openssl req -new -key tls.key -subj /CN=identity.conduit.cluster.local -out i.csr &&
		printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >i.ext &&
		openssl x509 -req -in i.csr -CA ca.crt -CAkey root.key -CAcreateserial -days 10 \
			-extfile i.ext -out tls.crt
) >/dev/null 2>&1
expect_eq "openssl makes an anchor and an issuer" "$?" 0

kc create serviceaccount web -n "$NS" >/dev/null
kc create serviceaccount voting -n "$NS" >/dev/null
WEB_TOKEN=$(kc create token web -n "$NS" --duration=10m --audience identity.conduit.io)
VOTING_TOKEN=$(kc create token voting -n "$NS" --duration=10m --audience identity.conduit.io)
expect_match "kubectl create token: a token per ServiceAccount" "$WEB_TOKEN $VOTING_TOKEN" '^ey[^ ]+ ey'

IPORT=$(free_port) APORT=$(free_port)
spawn ctl "$CONDUIT" controller --components identity --kubeconfig "$KUBECONFIG" \
	--identity-addr "127.0.0.1:$IPORT" --admin-addr "127.0.0.1:$APORT" \
	--identity-issuer-dir "$TMP/issuer" --log-level debug
CTL=$SPAWNED
if wait_until 20 curl -sf "http://127.0.0.1:$APORT/ready"; then
	ok "the identity controller is ready (issuer loaded; no cache to list)"
else
	not_ok "the identity controller is ready"; diag "$TMP/ctl.log"
fi
WEB=web.$NS.serviceaccount.identity.conduit.cluster.local
run ID certify "127.0.0.1:$IPORT" "$WEB" "$WEB_TOKEN" "$TMP/web"
expect_match "web's own token (TokenReview): certified" "$OUT" '^OK [0-9]+$'
check "openssl verifies the leaf against the anchor through the intermediate" \
	openssl verify -CAfile "$TMP/issuer/ca.crt" -untrusted "$TMP/web/chain.pem" "$TMP/web/leaf.pem"
run openssl x509 -in "$TMP/web/leaf.pem" -noout -ext subjectAltName
expect_eq "its one SAN is the identity" "$(echo "$OUT" | tail -n +2 | tr -d ' ')" "DNS:$WEB"
run ID certify "127.0.0.1:$IPORT" "$WEB" "$VOTING_TOKEN" "$TMP/x"
expect_match "voting's token for web's identity: PERMISSION_DENIED, naming voting" "$OUT" \
	"^status: PERMISSION_DENIED .*system:serviceaccount:$NS:voting"
run ID certify "127.0.0.1:$IPORT" "voting.$NS.serviceaccount.identity.conduit.cluster.local" "$VOTING_TOKEN" "$TMP/voting"
expect_match "voting's token for voting: certified" "$OUT" '^OK '
# a forged token: one character of the signature changed (the 10th: the
# last one may only carry padding bits a decoder ignores)
forged=$(/usr/bin/python3 -c 'import sys
t = sys.argv[1]; h, p, sig = t.rsplit(".", 2)
sig = sig[:9] + ("B" if sig[9] == "A" else "A") + sig[10:]
print(h + "." + p + "." + sig)' "$WEB_TOKEN")
run ID certify "127.0.0.1:$IPORT" "$WEB" "$forged" "$TMP/x"
expect_match "a forged token: FAILED_PRECONDITION" "$OUT" '^status: FAILED_PRECONDITION the token authenticates no one'
run curl -s "http://127.0.0.1:$APORT/metrics"
expect_match "counted: 2 ok" "$OUT" '^identity_certify_requests_total\{result="ok"\} 2$'
expect_match "and no review left in flight" "$OUT" '^identity_token_reviews_pending 0$'
stop "$CTL"

# install's identity, in the cluster, with the issuer above
cp_ns=t-45-cp
"$CONDUIT" install -n "$cp_ns" --image-pull-policy Never \
	--identity-trust-anchors-file "$TMP/issuer/ca.crt" \
	--identity-issuer-certificate-file "$TMP/issuer/tls.crt" \
	--identity-issuer-key-file "$TMP/issuer/tls.key" >"$TMP/install.yml"
install_part "$TMP/install.yml" namespace identity >"$TMP/identity.yml"
expect_eq "install's identity part: Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, Secret, ConfigMap, Deployment, Service" \
	"$(grep -c '^kind: ' "$TMP/identity.yml")" 8
on_exit "kc delete -f $TMP/identity.yml --wait=false >/dev/null 2>&1"
run kc apply -f "$TMP/identity.yml"
expect_eq "applied" "$RC" 0
run kubectl wait -n "$cp_ns" --timeout=180s deploy/conduit-identity --for=condition=Available
if [ "$RC" = 0 ]; then ok "the identity Deployment becomes Available (in-cluster config, install's RBAC, the Secret mounted)"; else
	not_ok "the identity Deployment becomes Available"
	kc get pods -n "$cp_ns" -o wide 2>&1 | sed 's/^/#   /'
	kc logs -n "$cp_ns" deploy/conduit-identity -c identity --tail=20 2>&1 | sed 's/^/#   /'
fi
pod=$(kc get pods -n "$cp_ns" -l conduit.io/control-plane-component=identity -o jsonpath='{.items[0].metadata.name}')
run kc logs -n "$cp_ns" "$pod" -c identity
expect_match "it loaded install's issuer from the Secret" "$OUT" 'msg="identity: issuer loaded" issuer="CN=identity.conduit.cluster.local"'
run kc get --raw "/api/v1/namespaces/$cp_ns/pods/$pod:9990/proxy/metrics"
expect_match "/metrics through the apiserver: the issuer's expiry" "$OUT" '^identity_cert_expiration_timestamp_seconds [0-9]{10}$'

FPORT=$(free_port)
spawn pf kubectl port-forward -n "$cp_ns" "pod/$pod" "$FPORT:8080"
if wait_port 127.0.0.1 "$FPORT" 20; then
	# identities under this control plane's namespace
	WEB_CP=web.$NS.serviceaccount.identity.$cp_ns.cluster.local
	run ID certify "127.0.0.1:$FPORT" "$WEB" "$WEB_TOKEN" "$TMP/x"
	expect_match "in the cluster: a name under another control plane: INVALID_ARGUMENT" "$OUT" \
		"^status: INVALID_ARGUMENT .*want <serviceaccount>\.<namespace>\.serviceaccount\.identity\.$cp_ns\.cluster\.local"
	run ID certify "127.0.0.1:$FPORT" "$WEB_CP" "$WEB_TOKEN" "$TMP/web2"
	expect_match "in the cluster: web's token certified (TokenReview with the pod's ServiceAccount)" "$OUT" '^OK '
	check "openssl verifies it against install's trust roots ConfigMap" \
		sh -c "kubectl get configmap -n $cp_ns conduit-identity-trust-roots -o jsonpath='{.data.ca-bundle\.crt}' >'$TMP/roots.pem' &&
			openssl verify -CAfile '$TMP/roots.pem' -untrusted '$TMP/web2/chain.pem' '$TMP/web2/leaf.pem'"
	run ID certify "127.0.0.1:$FPORT" "$WEB_CP" "$VOTING_TOKEN" "$TMP/x"
	expect_match "in the cluster: voting's token for web refused" "$OUT" '^status: PERMISSION_DENIED'
else
	not_ok "kubectl port-forward to the identity pod"; diag "$TMP/pf.log"
fi
finish
