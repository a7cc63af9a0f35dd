#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 10-inject: `conduit inject` and `uninject` on sample apps: golden output,
# schema validity, idempotence, round trip, refusals, hostile input.
# UPDATE_GOLDEN=1 rewrites the golden files (on purpose only).
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
data=$here/testdata/inject
golden=$here/golden/inject
validate=$here/../tools/k8s-validate
version=$("$CONDUIT" version --client --short)
mkdir -p "$golden"

# the version changes with every commit: goldens say VERSION
normalize() { sed "s/$version/VERSION/g"; }

# yaml_same A B: the two YAML streams hold the same objects and fields
yaml_same() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import sys, yaml
a = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
b = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d is not None]
def flat(ds):
    out = []
    for d in ds:
        if isinstance(d, dict) and d.get("kind") == "List":
            out.extend(d.get("items") or [])
        else:
            out.append(d)
    return out
sys.exit(0 if flat(a) == flat(b) else 1)
PY
}

for f in emojivoto.yml statefulset.yml cronjob.yml list.yml pod.json disabled.yml; do
	name=${f%.*}
	run "$CONDUIT" inject "$data/$f"
	expect_eq "inject $f exits 0" "$RC" 0
	cp "$TMP/out" "$TMP/$name.injected.yml"
	cp "$TMP/err" "$TMP/$name.report"
	if [ -n "${UPDATE_GOLDEN:-}" ]; then
		normalize <"$TMP/$name.injected.yml" >"$golden/$name.yml"
		normalize <"$TMP/$name.report" >"$golden/$name.report"
	fi
	if normalize <"$TMP/$name.injected.yml" | cmp -s - "$golden/$name.yml"; then
		ok "inject $f matches its golden file byte for byte"
	else
		not_ok "inject $f differs from golden/inject/$name.yml"
		normalize <"$TMP/$name.injected.yml" | diff "$golden/$name.yml" - | head -n 30 | sed 's/^/#   /'
	fi
	if normalize <"$TMP/$name.report" | cmp -s - "$golden/$name.report"; then
		ok "inject $f: report matches its golden file"
	else
		not_ok "inject $f: report differs"
		normalize <"$TMP/$name.report" | diff "$golden/$name.report" - | sed 's/^/#   /'
	fi
	check "inject $f: every object validates strictly against the Kubernetes schema" \
		"$validate" "$TMP/$name.injected.yml"
	run "$CONDUIT" inject "$TMP/$name.injected.yml"
	if cmp -s "$TMP/out" "$TMP/$name.injected.yml"; then
		ok "inject $f is idempotent: inject(inject(x)) == inject(x)"
	else
		not_ok "inject $f is not idempotent"
		diff "$TMP/$name.injected.yml" "$TMP/out" | head -n 20 | sed 's/^/#   /'
	fi
	run "$CONDUIT" uninject "$TMP/$name.injected.yml"
	cp "$TMP/out" "$TMP/$name.uninjected.yml"
	if yaml_same "$data/$f" "$TMP/$name.uninjected.yml"; then
		ok "uninject(inject($f)) has the same objects and fields as $f"
	else
		not_ok "uninject(inject($f)) differs from $f"
		diff <(/usr/bin/python3 -c 'import sys,yaml,json; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1]))), indent=1, sort_keys=True))' "$data/$f") \
			<(/usr/bin/python3 -c 'import sys,yaml,json; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1]))), indent=1, sort_keys=True))' "$TMP/$name.uninjected.yml") | head -n 30 | sed 's/^/#   /'
	fi
done

# What inject put in a pod: the facts a user relies on.
/usr/bin/python3 - "$TMP/emojivoto.injected.yml" >"$TMP/facts" 2>&1 <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
web = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "web"][0]
t = web["spec"]["template"]
inits = t["spec"]["initContainers"]
assert [c["name"] for c in inits] == ["conduit-init", "conduit-proxy"], inits
init, proxy = inits
assert init["args"][0] == "proxy-init" and "--proxy-uid" in init["args"]
caps = init["securityContext"]["capabilities"]["add"]
assert sorted(caps) == ["NET_ADMIN", "NET_RAW"] and init["securityContext"]["privileged"] is False
assert proxy["restartPolicy"] == "Always" and proxy["args"] == ["proxy"]
assert proxy["securityContext"]["runAsUser"] == 2102
assert {p["name"]: p["containerPort"] for p in proxy["ports"]} == {"conduit-proxy": 4143, "conduit-admin": 4191}
assert proxy["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 4191}
assert proxy["livenessProbe"]["httpGet"]["path"] == "/live"
env = {e["name"]: e for e in proxy["env"]}
assert env["CONDUIT_PROXY_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
assert env["CONDUIT_PROXY_DESTINATION_SVC_ADDR"]["value"] == "conduit-dst.conduit.svc.cluster.local:8086"
assert t["metadata"]["labels"]["conduit.io/proxy-deployment"] == "web"
assert t["metadata"]["labels"]["conduit.io/control-plane-ns"] == "conduit"
assert t["metadata"]["annotations"]["conduit.io/created-by"].startswith("conduit/cli v")
assert t["spec"]["containers"][0]["name"] == "web"
emoji = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "emoji"][0]
ia = emoji["spec"]["template"]["spec"]["initContainers"][0]["args"]
assert ia[ia.index("--inbound-ports-to-ignore") + 1] == "4190,4191,8801", ia
ns = [d for d in docs if d["kind"] == "Namespace"][0]
assert ns["metadata"]["annotations"]["conduit.io/inject"] == "enabled"
print("facts ok")
PY
expect_match "the injected pod has init, proxy, probes, env, labels as documented" "$(cat "$TMP/facts")" "^facts ok$"

run "$CONDUIT" inject --native-sidecar=false "$data/emojivoto.yml"
/usr/bin/python3 - "$TMP/out" >"$TMP/facts" 2>&1 <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
web = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "web"][0]
s = web["spec"]["template"]["spec"]
assert [c["name"] for c in s["initContainers"]] == ["conduit-init"]
assert s["containers"][0]["name"] == "conduit-proxy" and "restartPolicy" not in s["containers"][0]
print("facts ok")
PY
expect_match "--native-sidecar=false: the proxy is a classic first container" "$(cat "$TMP/facts")" "^facts ok$"

# inputs: directories, stdin, JSON out
mkdir -p "$TMP/dir/sub"
cp "$data/statefulset.yml" "$TMP/dir/a.yaml"
cp "$data/cronjob.yml" "$TMP/dir/sub/b.yml"
echo "not a manifest" >"$TMP/dir/README.txt"
run "$CONDUIT" inject "$TMP/dir"
expect_eq "a directory is read recursively" "$(grep -c '^kind: ' "$TMP/out")" 2
"$CONDUIT" inject - <"$data/cronjob.yml" >"$TMP/stdin.yml" 2>/dev/null
if cmp -s "$TMP/stdin.yml" "$TMP/cronjob.injected.yml"; then ok "stdin gives the same output as the file"; else not_ok "stdin differs from the file"; fi
run "$CONDUIT" inject -o json "$data/emojivoto.yml"
printf '%s' "$OUT" >"$TMP/e.json"
if /usr/bin/python3 -c 'import json,sys,yaml; j=json.load(open(sys.argv[1])); y=[d for d in yaml.safe_load_all(open(sys.argv[2])) if d]; assert j["kind"]=="List" and j["items"]==y' "$TMP/e.json" "$TMP/emojivoto.injected.yml"; then
	ok "-o json is a List equal to the YAML output"
else
	not_ok "-o json"
fi
run "$CONDUIT" inject -o json "$data/cronjob.yml"
expect_match "-o json of one object is the object itself" "$OUT" '"kind": "CronJob"'

# refusals: nothing on stdout, a reason on stderr, exit 1
refuse() {
	local desc=$1 why=$2
	shift 2
	run "$CONDUIT" inject "$@"
	if [ "$RC" = 1 ] && [ ! -s "$TMP/out" ] && grep -q -- "$why" "$TMP/err"; then
		ok "$desc: refused, nothing written"
	else
		not_ok "$desc (exit $RC, $(wc -c <"$TMP/out") bytes out)"
		diag "$TMP/err"
	fi
}
refuse "a hostNetwork DaemonSet" "hostNetwork is enabled" "$data/hostnetwork.yml"
refuse "a pod with istio's sidecar" "another mesh's sidecar (istio-proxy)" "$data/othermesh.yml"
refuse "a manifest with nothing to inject" "no injectable object" "$data/services-only.yml"
refuse "one bad object spoils the batch" "hostNetwork" "$data/emojivoto.yml" "$data/hostnetwork.yml"
expect_match "the report names the refused object" "$ERR" 'daemonset "node-exporter" not injected'
run "$CONDUIT" inject "$data/disabled.yml"
expect_match "conduit.io/inject: disabled is skipped and reported" "$ERR" 'deployment "legacy" skipped'

# bad flags: exit 2 naming the flag, nothing on stdout
badflag() {
	local desc=$1 want=$2
	shift 2
	run "$CONDUIT" inject "$@" "$data/cronjob.yml"
	if [ "$RC" = 2 ] && [ ! -s "$TMP/out" ] && grep -q -- "$want" "$TMP/err"; then
		ok "$desc"
	else
		not_ok "$desc (exit $RC)"
		diag "$TMP/err"
	fi
}
badflag "a port out of range" "--skip-inbound-ports: port 70000 out of range" --skip-inbound-ports 70000
badflag "a reversed range" "bad port range" --skip-outbound-ports 9000-8000
badflag "a non-numeric UID" 'invalid value "abc" for flag --proxy-uid' --proxy-uid abc
badflag "a bad log level" "--proxy-log-level" --proxy-log-level loud
badflag "a bad quantity" "--proxy-memory-limit" --proxy-memory-limit lots
badflag "a bad namespace" "--conduit-namespace" -n Bad_NS
badflag "a bad output format" "want yaml or json" -o xml
badflag "clashing ports" "both 4143" --admin-port 4143
printf 'not a certificate\n' >"$TMP/garbage.pem"
badflag "trust anchors that are not PEM" "--identity-trust-anchors-file: $TMP/garbage.pem: " \
	--identity-trust-anchors-file "$TMP/garbage.pem"
badflag "a trust anchors file that is missing" "--identity-trust-anchors-file: $TMP/none.pem: No such file" \
	--identity-trust-anchors-file "$TMP/none.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/leaf.key" \
	-subj /CN=leaf -days 1 -addext basicConstraints=critical,CA:FALSE -out "$TMP/leaf.pem" 2>/dev/null
badflag "a trust anchor that is not a CA" "not a CA certificate" \
	--identity-trust-anchors-file "$TMP/leaf.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/ca.key" \
	-subj /CN=root -days 1 -addext basicConstraints=critical,CA:TRUE -out "$TMP/ca.pem" 2>/dev/null
run "$CONDUIT" inject --identity-trust-anchors-file "$TMP/ca.pem" "$data/cronjob.yml"
expect_match "with trust anchors: the proxy gets them, a token file and the identity service's name" \
	"$(grep -A1 -E 'name: CONDUIT_PROXY_IDENTITY_(TRUST_ANCHORS|TOKEN_FILE|SVC_NAME)$' "$TMP/out" | tr -s ' \n' ' ')" \
	'SVC_NAME value: conduit-identity\.conduit\.serviceaccount\.identity\.conduit\.cluster\.local .*TOKEN_FILE value: /var/run/secrets/conduit\.io/identity/token .*TRUST_ANCHORS value: \|'
expect_match "and a projected token for the identity audience" "$(cat "$TMP/out")" 'audience: identity\.conduit\.io'
run "$CONDUIT" inject
expect_eq "no input: usage error" "$RC" 2

# hostile input: a clear file:line:col error, exit 1, nothing on stdout
hostile() {
	local desc=$1 file=$2 want=$3
	run timeout 20 "$CONDUIT" inject "$file"
	if [ "$RC" = 1 ] && [ ! -s "$TMP/out" ] && grep -Eq -- "$want" "$TMP/err"; then
		ok "hostile input: $desc"
	else
		not_ok "hostile input: $desc (exit $RC)"
		diag "$TMP/err"
	fi
}
{
	echo 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'
	for i in b c d e f g h i j; do
		p=$(printf '%s' "$i" | tr 'b-j' 'a-i')
		echo "$i: &$i [*$p,*$p,*$p,*$p,*$p,*$p,*$p,*$p,*$p,*$p]"
	done
} >"$TMP/laughs.yml"
hostile "billion laughs" "$TMP/laughs.yml" "laughs.yml:[0-9]+:[0-9]+: .*alias"
/usr/bin/python3 -c 'print("a: " + "[" * 5000 + "]" * 5000)' >"$TMP/deep.yml"
hostile "5000 nested sequences" "$TMP/deep.yml" "deep.yml:1:[0-9]+: .*(depth|nest)"
/usr/bin/python3 -c 'print("kind: Pod\nmetadata:\n  name: " + "x" * (9 << 20))' >"$TMP/huge.yml"
hostile "a 9 MiB scalar" "$TMP/huge.yml" "huge.yml:[0-9]+:[0-9]+: "
head -c 4096 /dev/urandom >"$TMP/garbage.yml"
hostile "binary garbage" "$TMP/garbage.yml" "garbage.yml:[0-9]+:[0-9]+: "
head -c 150 "$data/pod.json" >"$TMP/truncated.json"
hostile "truncated JSON" "$TMP/truncated.json" "truncated.json:[0-9]+:[0-9]+: "
printf 'kind: Pod\nmetadata:\n  name: "unterminated\n' >"$TMP/truncated.yml"
hostile "a truncated quoted scalar" "$TMP/truncated.yml" "truncated.yml:[0-9]+:[0-9]+: "
printf 'kind: Pod\nmetadata:\n\tname: tab\n' >"$TMP/tabs.yml"
hostile "tabs as indentation" "$TMP/tabs.yml" "tabs.yml:3:[0-9]+: "
printf 'kind: Pod\nkind: Service\n' >"$TMP/dup.yml"
hostile "a duplicate key" "$TMP/dup.yml" "dup.yml:2:[0-9]+: .*duplicate"
run "$CONDUIT" inject "$TMP/no-such-file.yml"
expect_match "a missing file is named" "$ERR" "no-such-file.yml: No such file or directory"

finish
