#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 51-injector: `conduit controller --components injector` serves the
# admission webhook over HTTPS with a certificate openssl made: curl posts
# real AdmissionReviews; the JSON Patch it answers, applied by python's
# jsonpatch (not ours), turns the pod into what `conduit inject` makes of
# its Deployment; a hostNetwork pod is allowed unpatched with a warning;
# garbage is a 400 that says why; plain HTTP to the TLS port gets a
# plain-text 400 and a clean close; ALPN http/1.1, no TLS 1.1; a new
# certificate on disk is served without a restart; /metrics counts the
# reviews by result.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
for tool in openssl curl promtool; do
	if ! command -v "$tool" >/dev/null; then
		skip "injector tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done
if ! $PY -c 'import jsonpatch, yaml' 2>/dev/null; then
	skip "injector tests" "python3-jsonpatch or python3-yaml missing (scripts/install-deps)"
	finish
fi

# mkcert NAME CN: a CA NAME-ca and a serving certificate for localhost and
# 127.0.0.1 signed by it, in $TMP/NAME/{ca.crt,tls.crt,tls.key}
mkcert() {
	local d=$TMP/$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$1-ca" -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
		-addext basicConstraints=critical,CA:TRUE 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/ext" &&
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=$2" -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null &&
		openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/ext" -out "$d/tls.crt" 2>/dev/null
}
check "openssl makes a CA and the webhook's certificate" mkcert one injector-one
mkdir -p "$TMP/tls" "$TMP/cluster"
cp "$TMP/one/tls.crt" "$TMP/one/tls.key" "$TMP/tls/"

port=$(free_port)
admin=$(free_port)
spawn ctl "$CONDUIT" controller --components injector --cluster-dir "$TMP/cluster" \
	--injector-addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$admin" \
	--injector-tls-dir "$TMP/tls"
ctl=$SPAWNED
if wait_port 127.0.0.1 "$port" 10; then ok "the injector listens"; else
	not_ok "the injector listens"
	diag "$TMP/ctl.log"
	finish
fi
run curl -s -m 5 "http://127.0.0.1:$admin/ready"
expect_eq "/ready once the certificate is loaded" "$OUT" "ready"

URL=https://127.0.0.1:$port/inject
post() { # FILE [CA]: status in OUT's first line, the body after it
	curl -s -m 10 --cacert "${2:-$TMP/one/ca.crt}" -H 'Content-Type: application/json' \
		--data-binary @"$1" -w '\n%{http_code}' "$URL"
}

# --- a Deployment's pod, as its ReplicaSet creates it ----------------------
cat >"$TMP/web.yml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        conduit.io/inject: enabled
        config.conduit.io/skip-outbound-ports: "5432"
    spec:
      containers:
      - name: web
        image: web:1
        ports:
        - containerPort: 8080
        resources:
          limits: {cpu: 500m, memory: 64Mi}
EOF
check "conduit inject injects the Deployment" sh -c "'$CONDUIT' inject '$TMP/web.yml' >'$TMP/web.injected'"
# review.py MODE: an AdmissionReview for the Deployment's pod (MODE plain,
# hostnetwork) to stdout
cat >"$TMP/review.py" <<'EOF'
import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
t = d["spec"]["template"]
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": dict(t["metadata"], generateName="web-5f7d9c8b4-", namespace="app",
                        ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "web-5f7d9c8b4", "uid": "1", "controller": True}]),
       "spec": t["spec"]}
pod["metadata"]["labels"] = dict(pod["metadata"]["labels"], **{"pod-template-hash": "5f7d9c8b4"})
if sys.argv[2] == "hostnetwork":
    pod["spec"]["hostNetwork"] = True
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "0b4a-" + sys.argv[2], "kind": {"group": "", "version": "v1", "kind": "Pod"},
                              "resource": {"group": "", "version": "v1", "resource": "pods"},
                              "operation": "CREATE", "namespace": "app", "object": pod}}))
EOF
$PY "$TMP/review.py" "$TMP/web.yml" plain >"$TMP/plain.json"
$PY "$TMP/review.py" "$TMP/web.yml" hostnetwork >"$TMP/host.json"

post "$TMP/plain.json" >"$TMP/plain.out"
expect_eq "POST /inject: 200" "$(tail -n 1 "$TMP/plain.out")" 200
head -n -1 "$TMP/plain.out" >"$TMP/plain.answer"
# compare.py REVIEW ANSWER INJECTED: apply the answer's patch with python's
# jsonpatch, compare with inject's template
cat >"$TMP/compare.py" <<'EOF'
import base64, json, sys, yaml, jsonpatch
review = json.load(open(sys.argv[1]))
ans = json.load(open(sys.argv[2]))
want = yaml.safe_load(open(sys.argv[3]))["spec"]["template"]
r = ans["response"]
print("uid", r["uid"] == review["request"]["uid"], "allowed", r["allowed"], r.get("patchType"))
ops = json.loads(base64.b64decode(r["patch"]))
print("ops", " ".join(sorted(set(o["op"] for o in ops))))
pod = jsonpatch.apply_patch(review["request"]["object"], ops)
labels = dict(pod["metadata"]["labels"]); labels.pop("pod-template-hash")
ann = dict(pod["metadata"]["annotations"])
created = ann.pop("conduit.io/created-by"); want_ann = dict(want["metadata"]["annotations"])
want_ann.pop("conduit.io/created-by")
print("spec", pod["spec"] == want["spec"])
print("labels", labels == want["metadata"]["labels"])
print("annotations", ann == want_ann)
print("created-by", created.split(" ")[0])
EOF
run $PY "$TMP/compare.py" "$TMP/plain.json" "$TMP/plain.answer" "$TMP/web.injected"
expect_match "the answer: the request's uid, allowed, a JSONPatch" "$OUT" '^uid True allowed True JSONPatch$'
expect_match "the patch only adds (nothing of the pod is rewritten)" "$OUT" '^ops add$'
expect_match "applied by python's jsonpatch: the pod spec is conduit inject's, byte for byte" "$OUT" '^spec True$'
expect_match "labelled as its Deployment's (conduit.io/proxy-deployment: web), as inject labels it" "$OUT" '^labels True$'
expect_match "the same annotations" "$OUT" '^annotations True$'
expect_match "created-by names the injector" "$OUT" '^created-by conduit/proxy-injector$'
[ "$RC" = 0 ] || diag "$TMP/err"

post "$TMP/host.json" >"$TMP/host.out"
run $PY -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().rsplit("\n",1)[0])["response"]; print(r["allowed"], "patch" in r, r["warnings"][0])' "$TMP/host.out"
expect_match "a hostNetwork pod: allowed, no patch, a warning saying why" "$OUT" \
	"^True False not injected: hostNetwork is enabled: the proxy cannot intercept"

# --- garbage ---------------------------------------------------------------
printf 'not json at all' >"$TMP/garbage"
run post "$TMP/garbage"
expect_match "garbage: 400" "$(echo "$OUT" | tail -n 1)" '^400$'
expect_match "with what is wrong and where" "$OUT" '^bad AdmissionReview: body: not JSON: line 1, column 1'
echo '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":{}}}' >"$TMP/nouid"
run post "$TMP/nouid"
expect_match "a review without request.uid: 400 naming it" "$OUT" 'request.uid: missing'
head -c 5000000 /dev/zero | tr '\0' ' ' >"$TMP/big"
run post "$TMP/big"
expect_eq "a body over 4 MiB: 413" "$(echo "$OUT" | tail -n 1)" 413
run curl -s -m 5 --cacert "$TMP/one/ca.crt" -o /dev/null -w '%{http_code}' "$URL"
expect_eq "GET /inject: 405" "$OUT" 405
run curl -s -m 5 --cacert "$TMP/one/ca.crt" -o /dev/null -w '%{http_code}' -d '{}' "https://127.0.0.1:$port/mutate"
expect_eq "another path: 404" "$OUT" 404

# --- TLS -----------------------------------------------------------------------
run curl -s -m 5 -w '\n%{http_code}' -d x "http://127.0.0.1:$port/inject"
expect_match "plain HTTP to the TLS port: a plain-text answer saying so" "$OUT" '^Client sent an HTTP request to an HTTPS server\.$'
expect_eq "a 400, then the connection closes (curl exits 0)" "$(echo "$OUT" | tail -n 1) $RC" "400 0"
run $PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"\x00\x01\x02garbage\xff" * 10)
print(repr(s.recv(100)))' "$port"
expect_eq "binary garbage: closed without a word" "$OUT" "b''"
run sh -c "echo | openssl s_client -connect 127.0.0.1:$port -alpn h2,http/1.1 -CAfile $TMP/one/ca.crt 2>&1"
expect_match "openssl s_client: ALPN http/1.1" "$OUT" '^ALPN protocol: http/1.1'
expect_match "TLS 1.2, the certificate verified" "$OUT" 'Protocol *: TLSv1.2|Verify return code: 0 \(ok\)'
run sh -c "echo | openssl s_client -connect 127.0.0.1:$port -tls1_1 -CAfile $TMP/one/ca.crt 2>&1"
expect_match "TLS 1.1 is refused" "$OUT" 'alert|no protocols available|wrong version|handshake failure|Cipher is \(NONE\)'
run curl -s -m 5 --cacert "$TMP/one/ca.crt" --http1.1 -o /dev/null -w '%{http_code}' --data-binary @"$TMP/plain.json" "$URL"
expect_eq "after all that, it still answers" "$OUT" 200

# 40 reviews from 8 clients at once
run sh -c "seq 1 40 | xargs -P 8 -I{} curl -s -m 10 --cacert $TMP/one/ca.crt -o /dev/null -w '%{http_code}\n' --data-binary @$TMP/plain.json $URL | sort | uniq -c"
expect_match "40 concurrent reviews: all 200" "$OUT" '^ *40 200$'

# --- a new certificate, served without a restart -----------------------------
check "openssl makes a second CA and certificate" mkcert two injector-two
cp "$TMP/two/tls.crt" "$TMP/tls/tls.crt.new" && cp "$TMP/two/tls.key" "$TMP/tls/tls.key.new" &&
	mv "$TMP/tls/tls.key.new" "$TMP/tls/tls.key" && mv "$TMP/tls/tls.crt.new" "$TMP/tls/tls.crt"
if wait_until 25 curl -sf -m 5 --cacert "$TMP/two/ca.crt" -o /dev/null --data-binary @"$TMP/plain.json" "$URL"; then
	ok "the new certificate is served within the reload interval (10 s)"
else
	not_ok "the new certificate is served"
	diag "$TMP/ctl.log"
fi
run curl -s -m 5 --cacert "$TMP/one/ca.crt" -o /dev/null --data-binary @"$TMP/plain.json" "$URL"
expect_eq "and the old one no longer (curl: 60, not trusted)" "$RC" 60

# --- metrics, logs, stop --------------------------------------------------------
run curl -s -m 5 "http://127.0.0.1:$admin/metrics"
echo "$OUT" >"$TMP/metrics"
expect_match "/metrics: injected reviews counted" "$OUT" '^injector_reviews_total\{result="injected"\} 4[3-9]$'
expect_match "/metrics: the refused one" "$OUT" '^injector_reviews_total\{result="refused"\} 1$'
expect_match "/metrics: the bad requests" "$OUT" '^injector_reviews_total\{result="bad_request"\} 2$'
expect_match "/metrics: the certificate's expiry, and its reload" "$OUT" '^injector_cert_reloads_total 1$'
run sh -c "promtool check metrics <'$TMP/metrics'"
if [ "$RC" = 0 ] || [ "$RC" = 3 ]; then ok "promtool accepts /metrics"; else not_ok "promtool: $OUT $ERR"; fi
expect_match "the log says what was injected" "$(cat "$TMP/ctl.log")" 'msg="injector: review" result=injected'
expect_match "and why a review was bad" "$(cat "$TMP/ctl.log")" 'msg="injector: bad review" peer=127.0.0.1:[0-9]+ error="body: not JSON'
kill -TERM "$ctl"
wait "$ctl"
expect_eq "SIGTERM: the controller exits 0" "$?" 0

# --- trust anchors rotated under a running injector ---------------------------
# the anchors file as kubelet mounts a ConfigMap (ca.crt -> ..data/ca.crt,
# ..data -> a versioned directory swapped in one rename): injected pods get
# the new anchors from the next review on; a bad new file changes nothing
ca_init "$TMP/anchors-ca"
check "openssl makes a trust anchor" mkca a root-a.conduit.cluster.local 2 self
check "and another" mkca b root-b.conduit.cluster.local 2 self
A=$TMP/anchors
mkdir -p "$A/..v1" "$A/..v2" "$A/..v3"
cp "$TMP/anchors-ca/a.crt" "$A/..v1/ca.crt"
cp "$TMP/anchors-ca/b.crt" "$A/..v2/ca.crt"
echo "not a certificate" >"$A/..v3/ca.crt"
ln -s ..v1 "$A/..data"
ln -s ..data/ca.crt "$A/ca.crt"
swap() { ln -sfn "$1" "$A/..data.tmp" && mv -T "$A/..data.tmp" "$A/..data"; }
port=$(free_port) admin=$(free_port)
spawn ctl2 "$CONDUIT" controller --components injector --cluster-dir "$TMP/cluster" \
	--injector-addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$admin" \
	--injector-tls-dir "$TMP/tls" --identity-trust-anchors-file "$A/ca.crt"
ctl=$SPAWNED
wait_port 127.0.0.1 "$port" 10
URL=https://127.0.0.1:$port/inject
# anchors ANSWER: the trust anchors the answer's patch gives the proxy
cat >"$TMP/anchors.py" <<'EOF'
import base64, json, sys
ans = json.load(open(sys.argv[1]))
patch = json.loads(base64.b64decode(ans["response"]["patch"]))
def walk(v):
    if isinstance(v, dict):
        if v.get("name") == "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS":
            print(v.get("value", "").strip()); sys.exit(0)
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
walk(patch)
print("none")
EOF
anchors_now() {
	post "$TMP/plain.json" "$TMP/two/ca.crt" | head -n -1 >"$TMP/rot.answer"
	$PY "$TMP/anchors.py" "$TMP/rot.answer"
}
expect_eq "an injected proxy gets the anchors the file holds" \
	"$(anchors_now)" "$(cat "$TMP/anchors-ca/a.crt")"
swap ..v2
expect_eq "the ConfigMap is updated: the next pod gets the new anchors, no restart" \
	"$(anchors_now)" "$(cat "$TMP/anchors-ca/b.crt")"
expect_match "the log says so" "$(cat "$TMP/ctl2.log")" 'msg="injector: trust anchors reloaded: pods injected from now on get them" file='
swap ..v3
expect_eq "a file that is not a CA: the anchors before it stay" \
	"$(anchors_now)" "$(cat "$TMP/anchors-ca/b.crt")"
expect_match "and the log says why" "$(cat "$TMP/ctl2.log")" \
	'msg="injector: cannot reload the trust anchors \(the ones before stay\)" error=".*ca\.crt: '
swap ..v1
expect_eq "the first anchors back" "$(anchors_now)" "$(cat "$TMP/anchors-ca/a.crt")"
rm "$A/..data"
for i in 1 2 3; do anchors_now >"$TMP/gone.$i"; done
expect_eq "the file gone: the anchors before stay" "$(cat "$TMP/gone.3")" "$(cat "$TMP/anchors-ca/a.crt")"
expect_eq "said once, not at every review" \
	"$(grep -c 'cannot reload the trust anchors.*No such file' "$TMP/ctl2.log")" 1
run curl -s -m 5 "http://127.0.0.1:$admin/metrics"
expect_match "/metrics: two reloads" "$OUT" '^injector_trust_anchors_reloads_total 2$'
kill -TERM "$ctl"
wait "$ctl"
finish
