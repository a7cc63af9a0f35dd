#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 11-install: `conduit install` prints a valid, injected, ordered control
# plane with working certificates; bad values are refused before output.
# UPDATE_GOLDEN=1 rewrites the golden file (on purpose only).
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
golden=$here/golden/install
validate=$here/../tools/k8s-validate
version=$("$CONDUIT" version --client --short)
mkdir -p "$golden"

# fixed identity files, so the output is reproducible but for the
# injector's certificate (generated every time: redacted below)
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/anchor.key" 2>/dev/null
openssl req -x509 -new -key "$TMP/anchor.key" -subj "/CN=root.test" -days 30 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out "$TMP/anchor.crt" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/issuer.key" 2>/dev/null
openssl req -new -key "$TMP/issuer.key" -subj "/CN=identity.test" -out "$TMP/issuer.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$TMP/ext"
openssl x509 -req -in "$TMP/issuer.csr" -CA "$TMP/anchor.crt" -CAkey "$TMP/anchor.key" \
	-CAcreateserial -days 20 -extfile "$TMP/ext" -out "$TMP/issuer.crt" 2>/dev/null
ids=(--identity-trust-anchors-file "$TMP/anchor.crt"
	--identity-issuer-certificate-file "$TMP/issuer.crt"
	--identity-issuer-key-file "$TMP/issuer.key")

redact() {
	sed -E -e "s/$version/VERSION/g" \
		-e 's/^(\s*(caBundle|tls\.crt|tls\.key|ca\.crt): ).*/\1REDACTED/' \
		-e '/BEGIN CERTIFICATE/,/END CERTIFICATE/{/BEGIN|END/!s/^(\s*).*/\1REDACTED/}'
}

run "$CONDUIT" install "${ids[@]}"
expect_eq "install exits 0" "$RC" 0
cp "$TMP/out" "$TMP/install.yml"
[ -n "${UPDATE_GOLDEN:-}" ] && redact <"$TMP/install.yml" >"$golden/install.yml"
if redact <"$TMP/install.yml" | cmp -s - "$golden/install.yml"; then
	ok "install matches its golden file (certificates redacted)"
else
	not_ok "install differs from golden/install/install.yml"
	redact <"$TMP/install.yml" | diff "$golden/install.yml" - | head -n 30 | sed 's/^/#   /'
fi
check "every installed object validates strictly against the Kubernetes schema" \
	"$validate" "$TMP/install.yml"

/usr/bin/python3 - "$TMP/install.yml" "$TMP" >"$TMP/facts" 2>&1 <<'PY'
import base64, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
tmp = sys.argv[2]
order = [d["kind"] for d in docs]
assert order[0] == "Namespace", order
rank = ["Namespace", "ServiceAccount", "Secret", "ConfigMap", "ClusterRole",
        "ClusterRoleBinding", "Service", "Deployment", "MutatingWebhookConfiguration"]
assert [rank.index(k) for k in order] == sorted(rank.index(k) for k in order), order
deps = [d for d in docs if d["kind"] == "Deployment"]
names = sorted(d["metadata"]["name"] for d in deps)
assert names == ["conduit-controller", "conduit-identity", "conduit-prometheus",
                 "conduit-proxy-injector", "conduit-web"], names
for d in deps:
    s = d["spec"]["template"]["spec"]
    inits = [c["name"] for c in s.get("initContainers", [])]
    assert inits[:2] == ["conduit-init", "conduit-proxy"], (d["metadata"]["name"], inits)
    args = s["initContainers"][0]["args"]
    assert args[args.index("--outbound-ports-to-ignore") + 1] == "443,6443", args
    env = {e["name"]: e.get("value") for e in s["initContainers"][1]["env"]}
    assert env["CONDUIT_PROXY_DESTINATION_SVC_ADDR"] == "conduit-dst.conduit.svc.cluster.local:8086"
svc = {d["metadata"]["name"]: d["spec"]["ports"][0] for d in docs if d["kind"] == "Service"}
assert svc["conduit-dst"]["port"] == 8086 and svc["conduit-identity"]["port"] == 8080
assert svc["conduit-api"]["port"] == 8085 and svc["conduit-tap"]["port"] == 8088
assert svc["conduit-web"]["port"] == 8084
assert svc["conduit-proxy-injector"]["port"] == 443 and svc["conduit-proxy-injector"]["targetPort"] == 8443
wh = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"][0]["webhooks"][0]
assert wh["failurePolicy"] == "Ignore"
ex = {e["key"]: e["values"] for e in wh["namespaceSelector"]["matchExpressions"]}
assert "kube-system" in ex["kubernetes.io/metadata.name"] and "conduit" in ex["kubernetes.io/metadata.name"]
open(tmp + "/cabundle.crt", "wb").write(base64.b64decode(wh["clientConfig"]["caBundle"]))
sec = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
inj = sec["conduit-proxy-injector-tls"]["data"]
open(tmp + "/injector.crt", "wb").write(base64.b64decode(inj["tls.crt"]))
open(tmp + "/injector.key", "wb").write(base64.b64decode(inj["tls.key"]))
iss = sec["conduit-identity-issuer"]["data"]
open(tmp + "/out-anchor.crt", "wb").write(base64.b64decode(iss["ca.crt"]))
open(tmp + "/out-issuer.crt", "wb").write(base64.b64decode(iss["tls.crt"]))
cm = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "conduit-identity-trust-roots"][0]
open(tmp + "/roots.crt", "w").write(cm["data"]["ca-bundle.crt"])
prom = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "conduit-prometheus-config"][0]
cfg = yaml.safe_load(prom["data"]["prometheus.yml"])
keep = [r for r in cfg["scrape_configs"][1]["relabel_configs"] if r.get("action") == "keep"][0]
assert keep["regex"] == "^conduit-proxy;conduit-admin$"
print("facts ok")
PY
expect_match "install: order, injected control plane, services, webhook, scrape config" \
	"$(cat "$TMP/facts")" "^facts ok$"
expect_eq "the given trust anchors are installed unchanged" \
	"$(openssl x509 -in "$TMP/out-anchor.crt" -noout -fingerprint)" \
	"$(openssl x509 -in "$TMP/anchor.crt" -noout -fingerprint)"
expect_eq "the trust roots ConfigMap carries the same anchors" \
	"$(openssl x509 -in "$TMP/roots.crt" -noout -fingerprint)" \
	"$(openssl x509 -in "$TMP/anchor.crt" -noout -fingerprint)"
check "the injector's certificate verifies against the webhook's caBundle for its service name" \
	openssl verify -CAfile "$TMP/cabundle.crt" -verify_hostname conduit-proxy-injector.conduit.svc \
	-purpose sslserver "$TMP/injector.crt"
check "the injector's key matches its certificate" \
	bash -c "[ \"\$(openssl pkey -in '$TMP/injector.key' -pubout)\" = \"\$(openssl x509 -in '$TMP/injector.crt' -noout -pubkey)\" ]"

# generated identity: the issuer chains to the anchor, both ECDSA P-256
run "$CONDUIT" install -n mesh-system
cp "$TMP/out" "$TMP/gen.yml"
/usr/bin/python3 - "$TMP/gen.yml" "$TMP" <<'PY'
import base64, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
iss = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "conduit-identity-issuer"][0]["data"]
for k, f in (("ca.crt", "gen-anchor.crt"), ("tls.crt", "gen-issuer.crt"), ("tls.key", "gen-issuer.key")):
    open(sys.argv[2] + "/" + f, "wb").write(base64.b64decode(iss[k]))
PY
check "a generated issuer verifies against the generated trust anchor" \
	openssl verify -CAfile "$TMP/gen-anchor.crt" "$TMP/gen-issuer.crt"
run openssl x509 -in "$TMP/gen-anchor.crt" -noout -text
expect_match "the generated anchor is ECDSA P-256" "$OUT" "(prime256v1|P-256)"
expect_match "the generated anchor is a CA" "$OUT" "CA:TRUE"
expect_match "-n names the namespace everywhere" "$(grep -c 'namespace: mesh-system' "$TMP/gen.yml")" '^[1-9][0-9]+$'
expect_eq "-n: nothing left in the default namespace" "$(grep -c 'namespace: conduit$' "$TMP/gen.yml")" 0

# the mesh is already injected: inject leaves it unchanged
run "$CONDUIT" inject "$TMP/install.yml"
if cmp -s "$TMP/out" "$TMP/install.yml"; then
	ok "install | inject - leaves the control plane unchanged"
else
	not_ok "install | inject - changed the control plane"
	diff "$TMP/install.yml" "$TMP/out" | head -n 20 | sed 's/^/#   /'
fi

run "$CONDUIT" install -o json "${ids[@]}"
if printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["kind"]=="List" and len(d["items"])>20'; then
	ok "install -o json is a List"
else
	not_ok "install -o json"
fi

run "$CONDUIT" install --ha --prometheus=false
/usr/bin/python3 - "$TMP/out" >"$TMP/facts" 2>&1 <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
deps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
assert "conduit-prometheus" not in deps
c = deps["conduit-controller"]
assert c["spec"]["replicas"] == 3
assert "podAntiAffinity" in c["spec"]["template"]["spec"]["affinity"]
print("facts ok")
PY
expect_match "--ha: 3 replicas and anti-affinity; --prometheus=false: no Prometheus" \
	"$(cat "$TMP/facts")" "^facts ok$"

# bad values: one line, nothing on stdout
refused() {
	local desc=$1 code=$2 want=$3
	shift 3
	run "$CONDUIT" install "$@"
	if [ "$RC" = "$code" ] && [ ! -s "$TMP/out" ] && grep -q -- "$want" "$TMP/err"; then
		ok "$desc"
	else
		not_ok "$desc (exit $RC)"
		diag "$TMP/err"
	fi
}
refused "a bad namespace" 2 '--conduit-namespace: "Bad_NS" is not a valid namespace' -n Bad_NS
refused "a bad image repository" 2 "--image-repo" --image-repo "http://x/"
refused "a bad registry" 2 '--registry: "Bad Registry" is not a registry' --registry "Bad Registry"
refused "a tag in the repository" 2 "--image-repo" --image-repo "example.org/conduit:v1"
run "$CONDUIT" install --registry registry.example.org:5000/mesh
expect_match "--registry names the image" "$OUT" "image: registry.example.org:5000/mesh/conduit:$version"
refused "a bad version" 2 "--version" --version "v1 beta"
refused "zero replicas" 2 "--controller-replicas" --controller-replicas 0
refused "an issuer without its key" 2 "go together" --identity-issuer-certificate-file "$TMP/issuer.crt"
refused "a missing anchors file" 1 "nope.crt: No such file" \
	--identity-trust-anchors-file "$TMP/nope.crt" --identity-issuer-certificate-file "$TMP/issuer.crt" \
	--identity-issuer-key-file "$TMP/issuer.key"
refused "an issuer key that is not the issuer's" 1 "does not belong" \
	--identity-trust-anchors-file "$TMP/anchor.crt" --identity-issuer-certificate-file "$TMP/issuer.crt" \
	--identity-issuer-key-file "$TMP/anchor.key"
refused "an issuer that does not chain to the anchors" 1 "does not verify" \
	--identity-trust-anchors-file "$TMP/issuer.crt" --identity-issuer-certificate-file "$TMP/issuer.crt" \
	--identity-issuer-key-file "$TMP/issuer.key"
refused "a leaf as issuer" 1 "not a CA" \
	--identity-trust-anchors-file "$TMP/anchor.crt" --identity-issuer-certificate-file "$TMP/injector.crt" \
	--identity-issuer-key-file "$TMP/injector.key"
echo garbage >"$TMP/garbage.crt"
refused "garbage as anchors" 1 "garbage.crt: parsing the certificate" \
	--identity-trust-anchors-file "$TMP/garbage.crt" --identity-issuer-certificate-file "$TMP/issuer.crt" \
	--identity-issuer-key-file "$TMP/issuer.key"
# an issuer that expired 20 days ago (signed with the clock 40 days back)
if command -v faketime >/dev/null; then
	faketime -f -40d openssl x509 -req -in "$TMP/issuer.csr" -CA "$TMP/anchor.crt" \
		-CAkey "$TMP/anchor.key" -CAcreateserial -days 20 -extfile "$TMP/ext" \
		-out "$TMP/expired.crt" 2>/dev/null
	refused "an expired issuer" 1 "expired" --identity-trust-anchors-file "$TMP/anchor.crt" \
		--identity-issuer-certificate-file "$TMP/expired.crt" --identity-issuer-key-file "$TMP/issuer.key"
else
	skip "an expired issuer" "faketime is not installed"
fi

finish
