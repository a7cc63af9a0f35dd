#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 50-identity: `conduit controller --components identity` in local mode
# (--cluster-dir, tokens from --identity-tokens-dir) with a trust anchor
# and an issuer made by openssl, called by a gRPC client that is not ours
# (grpcio, stubs from proto/identity.proto, CSRs from python3-cryptography):
# a good request gets a leaf openssl verifies against the anchor through
# the returned intermediate, with the one SAN, both key usages and the
# lifetime asked for; someone else's token, an unknown token, bad CSRs,
# wrong names and garbage get the statuses WIRE.md names, and the
# controller lives on; a bad issuer stops it at start with the reason.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
for tool in protoc /usr/bin/grpc_python_plugin openssl promtool curl; do
	if ! command -v "$tool" >/dev/null; then
		skip "identity tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done
if ! $PY -c 'import grpc, google.protobuf, cryptography' 2>/dev/null; then
	skip "identity tests" "python3-grpcio, python3-protobuf or python3-cryptography missing (scripts/install-deps)"
	finish
fi

mkdir -p "$TMP/py" "$TMP/cluster" "$TMP/issuer" "$TMP/tokens" "$TMP/ca"
check "protoc generates python stubs of identity.proto" \
	protoc -I "$HERE/../../proto" --python_out="$TMP/py" --grpc_out="$TMP/py" \
	--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
	"$HERE/../../proto/identity.proto"
cp "$HERE/id_client.py" "$TMP/py/"
ID() { PYTHONPATH="$TMP/py" $PY "$TMP/py/id_client.py" "$@"; }

# a trust anchor and an issuer (CA, pathlen 0) under it, ECDSA P-256
ca_init "$TMP/ca"
check "openssl makes a trust anchor" mkca root root.conduit.cluster.local 30 self
check "openssl makes an issuer under it" mkca issuer identity.conduit.cluster.local 10 root
check "openssl makes another, unrelated anchor" mkca other root.other.example 30 self
cp "$TMP/ca/issuer.crt" "$TMP/issuer/tls.crt"
cp "$TMP/ca/issuer.key" "$TMP/issuer/tls.key"
cp "$TMP/ca/root.crt" "$TMP/issuer/ca.crt"
printf 'tok-web-0123456789\n' >"$TMP/tokens/emojivoto.web"
printf 'tok-voting-9876543210' >"$TMP/tokens/emojivoto.voting"

IPORT=$(free_port) APORT=$(free_port)
IADDR=127.0.0.1:$IPORT
spawn ctl "$CONDUIT" controller --cluster-dir "$TMP/cluster" --components identity \
	--identity-addr "$IADDR" --admin-addr "127.0.0.1:$APORT" \
	--identity-issuer-dir "$TMP/issuer" --identity-tokens-dir "$TMP/tokens" \
	--identity-issuance-lifetime 2h --log-level debug
CTL=$SPAWNED
if wait_until 10 curl -sf "http://127.0.0.1:$APORT/ready"; then
	ok "the controller is ready once the issuer is loaded"
else
	not_ok "the controller is ready"
	diag "$TMP/ctl.log"
fi
wait_port 127.0.0.1 "$IPORT" 5

WEB=web.emojivoto.serviceaccount.identity.conduit.cluster.local
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/web"
expect_match "a good request: a certificate" "$OUT" '^OK [0-9]+$'
UNTIL=${OUT#OK }
check "openssl verify: the leaf chains to the anchor through the returned intermediate" \
	openssl verify -CAfile "$TMP/ca/root.crt" -untrusted "$TMP/web/chain.pem" "$TMP/web/leaf.pem"
run openssl verify -CAfile "$TMP/ca/other.crt" -untrusted "$TMP/web/chain.pem" "$TMP/web/leaf.pem"
if [ "$RC" != 0 ]; then ok "and not to an unrelated anchor"; else not_ok "and not to an unrelated anchor"; fi
run openssl verify -purpose sslserver -CAfile "$TMP/ca/root.crt" -untrusted "$TMP/web/chain.pem" "$TMP/web/leaf.pem"
expect_match "usable by a TLS server" "$OUT" ': OK$'
run openssl verify -purpose sslclient -CAfile "$TMP/ca/root.crt" -untrusted "$TMP/web/chain.pem" "$TMP/web/leaf.pem"
expect_match "and by a TLS client" "$OUT" ': OK$'
run openssl x509 -in "$TMP/web/leaf.pem" -noout -ext subjectAltName
expect_eq "exactly one SAN: the identity" "$(echo "$OUT" | tail -n +2 | tr -d ' ')" "DNS:$WEB"
run openssl x509 -in "$TMP/web/leaf.pem" -noout -subject
expect_eq "the subject CN is the identity" "$OUT" "subject=CN = $WEB"
run openssl x509 -in "$TMP/web/leaf.pem" -noout -ext basicConstraints,extendedKeyUsage
expect_match "not a CA" "$OUT" 'CA:FALSE'
expect_match "serverAuth and clientAuth" "$OUT" 'TLS Web Server Authentication, TLS Web Client Authentication|TLS Web Client Authentication, TLS Web Server Authentication'
nb=$(date -d "$(openssl x509 -in "$TMP/web/leaf.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$TMP/web/leaf.pem" -noout -enddate | cut -d= -f2)" +%s)
expect_eq "lifetime: --identity-issuance-lifetime 2h, backdated 20s" "$((na - nb))" "$((7200 + 20))"
now=$(date +%s)
if [ "$nb" -le "$now" ] && [ "$nb" -ge $((now - 60)) ]; then ok "valid from just before now"; else
	not_ok "valid from just before now (notBefore $nb, now $now)"; fi
expect_eq "valid_until is the leaf's notAfter" "$UNTIL" "$na"
run sh -c "openssl x509 -in '$TMP/web/leaf.pem' -noout -pubkey; openssl pkey -in '$TMP/web/key.pem' -pubout"
expect_eq "the leaf carries the CSR's public key" "$(echo "$OUT" | sort -u | wc -l)" \
	"$(openssl pkey -in "$TMP/web/key.pem" -pubout | sort -u | wc -l)"
expect_eq "the intermediate is the issuer" "$(openssl x509 -in "$TMP/web/chain.pem" -noout -fingerprint -sha256)" \
	"$(openssl x509 -in "$TMP/ca/issuer.crt" -noout -fingerprint -sha256)"

# a TLS handshake with it: openssl s_server serves the leaf, s_client
# verifies it against the anchor and checks the name
SPORT=$(free_port)
spawn s_server openssl s_server -accept "127.0.0.1:$SPORT" -cert "$TMP/web/leaf.pem" \
	-cert_chain "$TMP/web/chain.pem" -key "$TMP/web/key.pem" -www -quiet
SRV=$SPAWNED
wait_port 127.0.0.1 "$SPORT" 5
run sh -c "echo | timeout 5 openssl s_client -connect 127.0.0.1:$SPORT -CAfile '$TMP/ca/root.crt' -verify_return_error -verify_hostname '$WEB' 2>&1"
expect_match "a TLS client verifies a server holding it, name and chain" "$OUT" 'Verify return code: 0 \(ok\)'
stop "$SRV"

# refusals
run ID certify "$IADDR" "$WEB" tok-voting-9876543210 "$TMP/x"
expect_match "another ServiceAccount's token: PERMISSION_DENIED" "$OUT" "^status: PERMISSION_DENIED .*emojivoto\.voting"
run ID certify "$IADDR" "$WEB" tok-nobody "$TMP/x"
expect_match "a token nobody holds: FAILED_PRECONDITION" "$OUT" '^status: FAILED_PRECONDITION the token authenticates no one'
run ID certify "$IADDR" "$WEB" "" "$TMP/x"
expect_match "no token: FAILED_PRECONDITION" "$OUT" '^status: FAILED_PRECONDITION token: 0 bytes'
head -c 300 /dev/urandom >"$TMP/garbage.bin"
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/x" --csr "$TMP/garbage.bin"
expect_match "a CSR of random bytes: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT certificate signing request: not a DER PKCS#10 request'
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/x" --tamper
expect_match "a CSR whose signature does not verify: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT certificate signing request: the signature does not verify'
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/x" --rsa
expect_match "an RSA key: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT .*not an ECDSA P-256 key'
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/x" --san "$WEB" --san other.emojivoto.serviceaccount.identity.conduit.cluster.local
expect_match "two DNS SANs: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT certificate signing request: 2 DNS and 0 other subjectAltNames'
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/x" --san "$WEB" --uri spiffe://cluster.local/ns/emojivoto/sa/web
expect_match "a DNS and a URI SAN: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT certificate signing request: 1 DNS and 1 other'
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/x" --no-san
expect_match "no SAN: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT certificate signing request: 0 DNS'
run ID certify "$IADDR" "$WEB" tok-web-0123456789 "$TMP/x" --san voting.emojivoto.serviceaccount.identity.conduit.cluster.local
expect_match "a SAN that is not the identity: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT .*is not the identity'
run ID certify "$IADDR" web.emojivoto.serviceaccount.identity.conduit.other.domain tok-web-0123456789 "$TMP/x"
expect_match "another trust domain: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT identity .*want <serviceaccount>\.<namespace>\.serviceaccount\.identity\.conduit\.cluster\.local'
run ID certify "$IADDR" Web.emojivoto.serviceaccount.identity.conduit.cluster.local tok-web-0123456789 "$TMP/x"
expect_match "a name that is not a ServiceAccount's: INVALID_ARGUMENT" "$OUT" '^status: INVALID_ARGUMENT identity '
head -c 2000 /dev/urandom >"$TMP/garbage-req.bin"
run ID raw "$IADDR" "$TMP/garbage-req.bin"
expect_match "a request message of random bytes: INVALID_ARGUMENT, no crash" "$OUT" '^status: INVALID_ARGUMENT'
head -c 200000 /dev/zero | tr '\0' 'a' >"$TMP/big.bin"
run ID raw "$IADDR" "$TMP/big.bin"
expect_match "a 200 KB request: RESOURCE_EXHAUSTED (bounded)" "$OUT" '^status: RESOURCE_EXHAUSTED'
head -c 4096 /dev/urandom | timeout 3 $PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", '"$IPORT"'))
s.sendall(sys.stdin.buffer.read())
s.settimeout(2)
try:
    s.recv(100)
except Exception:
    pass
'
if kill -0 "$CTL" 2>/dev/null; then ok "random bytes on the port: the controller lives on"; else
	not_ok "random bytes on the port: the controller lives on"; diag "$TMP/ctl.log"; fi
run ID certify "$IADDR" voting.emojivoto.serviceaccount.identity.conduit.cluster.local tok-voting-9876543210 "$TMP/voting"
expect_match "and still certifies (voting, its own token)" "$OUT" '^OK '

curl -s "http://127.0.0.1:$APORT/metrics" >"$TMP/metrics.txt"
check "promtool check metrics passes" promtool check metrics <"$TMP/metrics.txt"
M=$(cat "$TMP/metrics.txt")
expect_match "certify requests counted by result: 2 ok" "$M" '^identity_certify_requests_total\{result="ok"\} 2$'
expect_match "and the refusals" "$M" '^identity_certify_requests_total\{result="invalid_argument"\} 1[0-9]$'
expect_match "permission_denied" "$M" '^identity_certify_requests_total\{result="permission_denied"\} 1$'
issuer_na=$(date -d "$(openssl x509 -in "$TMP/ca/issuer.crt" -noout -enddate | cut -d= -f2)" +%s)
expect_match "identity_cert_expiration_timestamp_seconds: the issuer's notAfter" "$M" \
	"^identity_cert_expiration_timestamp_seconds $issuer_na\$"
expect_match "each refusal is logged with its reason" "$(grep 'certify refused' "$TMP/ctl.log" | head -1)" 'status=[A-Z_]+ why='
stop "$CTL"
# (an ASan build reports leaks and errors at exit: none)
expect_eq "it stops cleanly: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$TMP/ctl.log")" 0

# Kubernetes mode against an API server that accepts and never answers:
# the TokenReview gives up after its bound (10 s) and the call gets
# UNAVAILABLE; the loop serves other calls meanwhile
BPORT=$(free_port)
spawn blackhole $PY -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", '"$BPORT"')); s.listen(64)
held = []
while True:
    c, _ = s.accept(); held.append(c)
'
cat >"$TMP/blackhole.kubeconfig" <<KEOF
apiVersion: v1
kind: Config
clusters: [{name: bh, cluster: {server: "http://127.0.0.1:$BPORT"}}]
users: [{name: u, user: {token: admin-token}}]
contexts: [{name: bh, context: {cluster: bh, user: u}}]
current-context: bh
KEOF
wait_port 127.0.0.1 "$BPORT" 5
IPORT2=$(free_port) APORT2=$(free_port)
spawn ctl2 "$CONDUIT" controller --components identity --kubeconfig "$TMP/blackhole.kubeconfig" \
	--identity-addr "127.0.0.1:$IPORT2" --admin-addr "127.0.0.1:$APORT2" \
	--identity-issuer-dir "$TMP/issuer" --log-level debug
CTL2=$SPAWNED
wait_until 10 curl -sf "http://127.0.0.1:$APORT2/ready"
wait_port 127.0.0.1 "$IPORT2" 5
t0=$(date +%s)
ID certify "127.0.0.1:$IPORT2" "$WEB" tok-web-0123456789 "$TMP/x" >"$TMP/bh.out" 2>&1 &
BHC=$!
if wait_until 8 sh -c "curl -s -m 2 http://127.0.0.1:$APORT2/metrics | grep -q '^identity_token_reviews_pending 1\$'"; then
	ok "while the review waits: the admin port answers, one review in flight"
else
	not_ok "while the review waits: the admin port answers, one review in flight"; diag "$TMP/ctl2.log"
fi
run ID certify "127.0.0.1:$IPORT2" "$WEB" tok-web-0123456789 "$TMP/x" --no-san
expect_match "and a bad CSR is refused at once, without the API server" "$OUT" '^status: INVALID_ARGUMENT'
wait "$BHC"
t1=$(date +%s)
expect_match "a dead API server: UNAVAILABLE" "$(cat "$TMP/bh.out")" '^status: UNAVAILABLE TokenReview: the API server did not answer'
if [ $((t1 - t0)) -ge 8 ] && [ $((t1 - t0)) -le 15 ]; then ok "after the review's bound ($((t1 - t0)) s)"; else
	not_ok "after the review's bound ($((t1 - t0)) s, want about 10)"; fi
run ID certify "127.0.0.1:$IPORT2" "$WEB" tok-web-0123456789 "$TMP/x" --timeout 1
expect_match "a client that gives up first: DEADLINE_EXCEEDED" "$OUT" '^status: DEADLINE_EXCEEDED'
if wait_until 5 sh -c "curl -s http://127.0.0.1:$APORT2/metrics | grep -q '^identity_token_reviews_pending 0\$'"; then
	ok "its review is dropped with it: nothing left in flight"
else
	not_ok "its review is dropped with it: nothing left in flight"; diag "$TMP/ctl2.log"
fi
run curl -s "http://127.0.0.1:$APORT2/metrics"
expect_match "counted as unavailable" "$OUT" '^identity_certify_requests_total\{result="unavailable"\} 1$'
stop "$CTL2"
expect_eq "and stops cleanly: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$TMP/ctl2.log")" 0

# a bad issuer stops the controller at start, saying why
start_bad() { # DESC REGEX FLAGS...
	local desc=$1 re=$2 port
	shift 2
	port=$(free_port)
	run timeout 10 "$CONDUIT" controller --cluster-dir "$TMP/cluster" --components identity \
		--identity-addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$(free_port)" "$@"
	if [ "$RC" = 1 ] && printf '%s\n' "$ERR$OUT" | grep -Eq -- "$re"; then ok "$desc"; else
		not_ok "$desc (exit $RC)"; diag "$TMP/out" "$TMP/err"; fi
}
start_bad "no --identity-tokens-dir in local mode: exit 1" 'identity-tokens-dir' \
	--identity-issuer-dir "$TMP/issuer"
start_bad "no issuer dir: exit 1" 'identity-issuer-dir' --identity-tokens-dir "$TMP/tokens"
mkdir -p "$TMP/wrong"
cp "$TMP/issuer/tls.crt" "$TMP/issuer/tls.key" "$TMP/wrong/"
cp "$TMP/ca/other.crt" "$TMP/wrong/ca.crt"
start_bad "an issuer that does not chain to the anchors: exit 1, why" \
	'issuer certificate .*tls\.crt: certificate does not verify' \
	--identity-issuer-dir "$TMP/wrong" --identity-tokens-dir "$TMP/tokens"
mkdir -p "$TMP/mismatch"
cp "$TMP/issuer/tls.crt" "$TMP/issuer/ca.crt" "$TMP/mismatch/"
cp "$TMP/ca/other.key" "$TMP/mismatch/tls.key"
start_bad "a key that is not the issuer's: exit 1, why" 'tls\.key: not the key of' \
	--identity-issuer-dir "$TMP/mismatch" --identity-tokens-dir "$TMP/tokens"
mkdir -p "$TMP/notca"
cp "$TMP/web/leaf.pem" "$TMP/notca/crt.pem"
cp "$TMP/web/key.pem" "$TMP/notca/key.pem"
cp "$TMP/ca/root.crt" "$TMP/notca/ca.crt"
start_bad "a leaf as the issuer (crt.pem/key.pem): exit 1, not a CA" 'not a CA' \
	--identity-issuer-dir "$TMP/notca" --identity-tokens-dir "$TMP/tokens"
# an issuer that expired yesterday (python3-cryptography: openssl x509 cannot backdate)
mkdir -p "$TMP/expired"
cp "$TMP/issuer/ca.crt" "$TMP/issuer/tls.key" "$TMP/expired/"
$PY - "$TMP/ca/root.key" "$TMP/ca/root.crt" "$TMP/issuer/tls.key" "$TMP/expired/tls.crt" <<'EOF'
import sys, datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
rk = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
rc = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
ik = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), None)
now = datetime.datetime.utcnow()
c = (x509.CertificateBuilder()
     .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "identity.conduit.cluster.local")]))
     .issuer_name(rc.subject).public_key(ik.public_key())
     .serial_number(x509.random_serial_number())
     .not_valid_before(now - datetime.timedelta(days=10))
     .not_valid_after(now - datetime.timedelta(days=1))
     .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
     .sign(rk, hashes.SHA256()))
open(sys.argv[4], "wb").write(c.public_bytes(serialization.Encoding.PEM))
EOF
start_bad "an expired issuer: exit 1, expired at" 'tls\.crt: expired at [0-9-]+T' \
	--identity-issuer-dir "$TMP/expired" --identity-tokens-dir "$TMP/tokens"
start_bad "--identity-trust-anchors-file that is not PEM: exit 1" 'trust anchors .*parsing the certificate' \
	--identity-issuer-dir "$TMP/issuer" --identity-tokens-dir "$TMP/tokens" \
	--identity-trust-anchors-file "$TMP/garbage.bin"
finish
