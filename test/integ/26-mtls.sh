#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 26-mtls: mutual TLS between meshed proxies, on one machine. A local-mode
# controller serves destination and identity; a client proxy (outbound,
# routing by Host through discovery) and two server proxies (inbound, one
# in front of an HTTP/1 app, one in front of an HTTP/2 app) each get a
# certificate from identity. Requests between them go over TLS: the
# server's certificate must name the identity discovery gave, the client
# shows its own, and both sides' metrics say tls="true" with the peer's
# identity (client_id inbound, server_id outbound) and count exactly what
# was sent. An app that is not meshed, a plaintext client, a client
# without a certificate, an endpoint whose certificate names someone else
# and an untrusted CA are each checked, and the proxies live on.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PEER="/usr/bin/python3 $HERE/discovery_peer.py"
for tool in curl openssl nghttpd h2load promtool; do
	if ! command -v $tool >/dev/null; then
		skip "mTLS tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done

mkdir -p "$TMP/cluster" "$TMP/issuer" "$TMP/tokens" "$TMP/ca" "$TMP/www"
C=$TMP/cluster
ca_init "$TMP/ca"
check "openssl makes a trust anchor" mkca root root.conduit.cluster.local 30 self
check "openssl makes an issuer under it" mkca issuer identity.conduit.cluster.local 10 root
check "openssl makes an unrelated anchor" mkca other root.other.example 30 self
cp "$TMP/ca/issuer.crt" "$TMP/issuer/tls.crt"
cp "$TMP/ca/issuer.key" "$TMP/issuer/tls.key"
cp "$TMP/ca/root.crt" "$TMP/issuer/ca.crt"
ANCHORS=$TMP/ca/root.crt
for sa in client web h2 other; do
	printf 'token-%s-%s\n' "$sa" "$RANDOM$RANDOM" >"$TMP/tokens/demo.$sa"
	cp "$TMP/tokens/demo.$sa" "$TMP/$sa.token"
done
ID_SUFFIX=serviceaccount.identity.conduit.cluster.local

APORT=$(free_port) DPORT=$(free_port) IPORT=$(free_port)
WPORT=$(free_port) HPORT=$(free_port)

# pod NAME IP PORT SA [identity]: a ready meshed pod of app NAME; its proxy
# has trust anchors (an identity) unless the fifth argument is "none"
pod() {
	local env=""
	[ "${5:-}" = none ] || env='env: [{name: CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS, value: x}]'
	cat >"$C/.$1.tmp" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1-1, namespace: demo, labels: {app: $1}}
spec:
  serviceAccountName: $4
  containers:
  - {name: app, ports: [{name: http, containerPort: $3}]}
  - {name: conduit-proxy, $env}
status:
  phase: Running
  podIP: $2
  conditions: [{type: Ready, status: "True"}]
EOF
	mv "$C/.$1.tmp" "$C/$1.yml"
}
cat >"$C/svc.yml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: h2-svc, namespace: demo}
spec:
  selector: {app: h2}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: plain-svc, namespace: demo}
spec:
  selector: {app: plain}
  ports: [{name: http, port: 80, targetPort: http}]
EOF
pod web 127.0.4.1 "$WPORT" web
pod h2 127.0.4.2 "$HPORT" h2
pod plain 127.0.4.3 "$WPORT" plain none

spawn ctl "$CONDUIT" controller --components destination,identity \
	--cluster-dir "$C" --cluster-dir-interval 100ms \
	--destination-addr "127.0.0.1:$DPORT" --identity-addr "127.0.0.1:$IPORT" \
	--identity-issuer-dir "$TMP/issuer" --identity-tokens-dir "$TMP/tokens" \
	--admin-addr "127.0.0.1:$APORT"
CTL=$SPAWNED
if ! wait_until 10 curl -sf "http://127.0.0.1:$APORT/ready"; then
	not_ok "the controller is ready"; diag "$TMP/ctl.log"; finish
fi

# the apps: HTTP/1 (web), HTTP/2 (h2) and a plain one nobody meshed
spawn app-web $PEER backend web-1 127.0.5.1 "$WPORT" 0
spawn app-plain $PEER backend plain-1 127.0.4.3 "$WPORT" 0
printf 'hello over h2\n' >"$TMP/www/index.html"
spawn app-h2 nghttpd --no-tls -a 127.0.5.2 -d "$TMP/www" "$HPORT"
wait_port 127.0.5.1 "$WPORT" 10
wait_port 127.0.4.3 "$WPORT" 10
wait_port 127.0.5.2 "$HPORT" 10

# identity NAME SA: the flags that give a proxy its identity
identity() {
	echo --identity-trust-anchors-file "$ANCHORS" \
		--identity-local-name "$2.demo.$ID_SUFFIX" \
		--identity-svc-addr "127.0.0.1:$IPORT" \
		--identity-token-file "$TMP/$2.token"
}
# server NAME IP PORT APP_IP SA: a pod's proxy, inbound on IP:PORT
server() {
	local adm out ctl
	adm=$(free_port) out=$(free_port) ctl=$(free_port)
	# shellcheck disable=SC2046
	spawn "$1" "$CONDUIT" proxy --log debug \
		--inbound-listen-addr "$2:$3" --inbound-forward "$4:$3" \
		--outbound-listen-addr "127.0.0.1:$out" \
		--admin-listen-addr "127.0.0.1:$adm" \
		--control-listen-addr "127.0.0.1:$ctl" \
		--destination-svc-addr "127.0.0.1:$DPORT" \
		$(identity "$1" "$5")
	eval "${1}_PID=$SPAWNED ${1}_ADMIN=$adm ${1}_CTL=$ctl"
}
server web 127.0.4.1 "$WPORT" 127.0.5.1 web
server h2 127.0.4.2 "$HPORT" 127.0.5.2 h2
# shellcheck disable=SC2046
PROXY_LOG=debug start_proxy cli 127.0.0.1:9 --destination-svc-addr "127.0.0.1:$DPORT" \
	$(identity cli client)
for p in web h2 cli; do
	adm=$(eval echo "\$${p}_ADMIN")
	if wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$adm/ready"; then
		ok "proxy $p is certified and ready"
	else
		not_ok "proxy $p is certified and ready"; diag "$TMP/$p.log"; diag "$TMP/ctl.log"
	fi
done
OUT_ADDR=127.0.0.1:$cli_OUT

metric() { # ADMIN_PORT REGEX: the sum of the matching series
	curl -s "http://127.0.0.1:$1/metrics" | grep -E "$2" |
		awk '{ s += $NF } END { print s + 0 }'
}

# --- HTTP/1 over mTLS --------------------------------------------------------
run $PEER load "$OUT_ADDR" web-svc.demo.svc.cluster.local 50 2
expect_match "50 HTTP/1 requests through both proxies over mTLS: all 200" "$OUT" '^200 web-1 50$'
expect_eq "client proxy: outbound request_total tls=true, server_id = web's identity" \
	"$(metric "$cli_ADMIN" "^request_total\{direction=\"outbound\",authority=\"web-svc.demo.svc.cluster.local\",tls=\"true\",server_id=\"web.demo.$ID_SUFFIX\"")" 50
expect_eq "server proxy: inbound request_total tls=true, client_id = the client's identity" \
	"$(metric "$web_ADMIN" "^request_total\{direction=\"inbound\",[^}]*tls=\"true\",client_id=\"client.demo.$ID_SUFFIX\"")" 50
expect_eq "server proxy: no plaintext inbound request" \
	"$(metric "$web_ADMIN" '^request_total\{direction="inbound",[^}]*tls="no_identity"')" 0
expect_match "server proxy: inbound TCP connections counted as tls=true with client_id" \
	"$(curl -s "http://127.0.0.1:$web_ADMIN/metrics")" \
	"^tcp_open_total\\{direction=\"inbound\",peer=\"src\",tls=\"true\",client_id=\"client.demo.$ID_SUFFIX\""

# --- HTTP/2 over mTLS: h2c inside TLS, streams multiplexed -------------------
run h2load -n 200 -c 2 -m 10 -H ":authority: h2-svc.demo.svc.cluster.local" "http://$OUT_ADDR/index.html"
expect_match "h2load: 200 HTTP/2 requests over mTLS, all 2xx" "$OUT" 'status codes: 200 2xx'
expect_eq "client proxy: h2 outbound tls=true to h2's identity" \
	"$(metric "$cli_ADMIN" "^response_total\{direction=\"outbound\",authority=\"h2-svc.demo.svc.cluster.local\",tls=\"true\",server_id=\"h2.demo.$ID_SUFFIX\".*status_code=\"200\"")" 200
expect_eq "h2 server proxy: inbound tls=true from the client" \
	"$(metric "$h2_ADMIN" "^response_total\{direction=\"inbound\",[^}]*tls=\"true\",client_id=\"client.demo.$ID_SUFFIX\".*status_code=\"200\"")" 200

# --- what is on the wire ------------------------------------------------------
# openssl as a client without a certificate: the server proxy proves its
# identity (SNI = the identity), accepts the connection without client_id
run sh -c "printf 'GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n' |
	timeout 10 openssl s_client -quiet -connect 127.0.4.1:$WPORT -servername web.demo.$ID_SUFFIX \
	-CAfile '$ANCHORS' -verify_return_error -verify_hostname web.demo.$ID_SUFFIX 2>&1"
expect_match "openssl verifies the server proxy's certificate for its identity" "$OUT" 'verify return:1'
expect_match "and gets the app's answer through it" "$OUT" 'web-1'
expect_eq "a client without a certificate: tls=true, no client_id" \
	"$(metric "$web_ADMIN" '^request_total\{direction="inbound",[^}]*tls="true",target_addr=')" 1
run sh -c "timeout 10 openssl s_client -connect 127.0.4.1:$WPORT -servername web.demo.$ID_SUFFIX \
	-CAfile '$TMP/ca/other.crt' -verify_return_error </dev/null 2>&1"
expect_match "a CA the client does not trust: openssl refuses the server" "$OUT" 'verify error|unable to get local issuer'
run curl -s -m 5 "http://127.0.4.1:$WPORT/" -H "Host: web"
expect_match "a plaintext client still reaches the app (not every caller is meshed)" "$OUT" 'web-1'
expect_eq "and is counted as tls=no_identity" \
	"$(metric "$web_ADMIN" '^request_total\{direction="inbound",[^}]*tls="no_identity"')" 1

# --- endpoints without an identity, or with the wrong one ---------------------
run $PEER load "$OUT_ADDR" plain-svc.demo.svc.cluster.local 5 1
expect_match "an endpoint whose proxy has no identity gets plaintext (5 x 200)" "$OUT" '^200 plain-1 5$'
expect_eq "counted as tls=no_identity" \
	"$(metric "$cli_ADMIN" '^request_total\{direction="outbound",authority="plain-svc.demo.svc.cluster.local",tls="no_identity"')" 5
# web's pod now claims ServiceAccount other: discovery says the endpoint
# is other.demo..., but the proxy there proves web.demo...
pod web 127.0.4.1 "$WPORT" other
wait_until 5 sh -c "! $PEER load $OUT_ADDR web-svc.demo.svc.cluster.local 1 1 | grep -q '^200'"
run $PEER load "$OUT_ADDR" web-svc.demo.svc.cluster.local 5 1
if grep -q '^200' <<<"$OUT"; then
	not_ok "a server that proves another identity gets no request"; echo "$OUT" | sed 's/^/#   /'
else
	ok "a server that proves another identity gets no request"
fi
expect_match "the client proxy logs why" "$(cat "$TMP/cli.log")" 'msg="TLS handshake failed" side=client target=127.0.4.1:[0-9]+ server_id=other\.demo\.serviceaccount\.identity\.conduit\.cluster\.local error="handshake: the server does not speak TLS as this identity'
pod web 127.0.4.1 "$WPORT" web
wait_until 5 sh -c "$PEER load $OUT_ADDR web-svc.demo.svc.cluster.local 1 1 | grep -q '^200'"
run $PEER load "$OUT_ADDR" web-svc.demo.svc.cluster.local 20 2
expect_match "the right identity again: 20 x 200" "$OUT" '^200 web-1 20$'

# --- tap: how each request's peer was secured ---------------------------------
# grpcio's Tap.Observe on the server proxy (inbound: the client's TLS) and
# on the client proxy (outbound: the server's), as `conduit tap` shows it
if /usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null && command -v protoc >/dev/null &&
	[ -x /usr/bin/grpc_python_plugin ]; then
	grpc_stubs "protoc generates python stubs of tap.proto" tap
	cp "$HERE/tap_client.py" "$TMP/py/"
	# tap NAME PROXY: observe PROXY's next 2 requests, into $TMP/NAME.log
	tap() {
		local ctl
		ctl=$(eval echo "\$${2}_CTL")
		spawn "$1" env PYTHONPATH="$TMP/py" /usr/bin/python3 "$TMP/py/tap_client.py" \
			"127.0.0.1:$ctl" 2 15
		eval "${1}_TAP=$SPAWNED"
		wait_until 10 grep -q '^observing' "$TMP/$1.log"
	}
	tap tapweb web
	tap tapcli cli
	run $PEER load "$OUT_ADDR" web-svc.demo.svc.cluster.local 1 1
	run curl -s -m 5 "http://127.0.4.1:$WPORT/tapped-plain" -H "Host: web"
	run $PEER load "$OUT_ADDR" plain-svc.demo.svc.cluster.local 1 1
	wait_until 10 sh -c "[ \$(grep -c '^{' '$TMP/tapweb.log') -ge 2 ] && [ \$(grep -c '^{' '$TMP/tapcli.log') -ge 2 ]"
	W=$(grep '^{' "$TMP/tapweb.log") C=$(grep '^{' "$TMP/tapcli.log")
	expect_match "tap, server proxy: a request over mTLS says tls=true and the client's identity" "$W" \
		"^\\{\"destination_meta\": \\{\\}, \"dir\": \"in\", \"path\": \"/[^\"]*\", \"source_meta\": \\{\"client_id\": \"client\\.demo\\.$ID_SUFFIX\", \"tls\": \"true\"\\}\\}\$"
	expect_match "a plaintext request says tls=no_identity, and no identity" "$W" \
		'^\{"destination_meta": \{\}, "dir": "in", "path": "/tapped-plain", "source_meta": \{"tls": "no_identity"\}\}$'
	expect_match "tap, client proxy: to web over mTLS, tls=true and the server's identity" "$C" \
		"^\\{\"destination_meta\": \\{\"server_id\": \"web\\.demo\\.$ID_SUFFIX\", \"tls\": \"true\"\\}, \"dir\": \"out\","
	expect_match "to an endpoint without an identity: tls=no_identity" "$C" \
		'^\{"destination_meta": \{"tls": "no_identity"\}, "dir": "out",'
	for t in tapweb tapcli; do
		pid=$(eval echo "\$${t}_TAP")
		kill "$pid" 2>/dev/null
	done
else
	skip "tap's tls labels" "python3-grpcio or protoc missing (scripts/install-deps)"
fi

# --- Certify over TLS, as in a cluster ----------------------------------------
# the identity component gets a proxy of its own (certified over loopback,
# plaintext, as inject sets it up); other proxies then certify through it
# over TLS to its identity: the token never crosses the wire in the clear
IDN=conduit-identity.conduit.serviceaccount.identity.conduit.cluster.local
printf 'token-idp-%s\n' "$RANDOM$RANDOM" >"$TMP/tokens/conduit.conduit-identity"
cp "$TMP/tokens/conduit.conduit-identity" "$TMP/idp.token"
IDP_PORT=$(free_port)
adm=$(free_port) out=$(free_port) ctl=$(free_port)
spawn idp "$CONDUIT" proxy --log debug \
	--inbound-listen-addr "127.0.4.9:$IDP_PORT" --inbound-forward "127.0.0.1:$IPORT" \
	--outbound-listen-addr "127.0.0.1:$out" --admin-listen-addr "127.0.0.1:$adm" \
	--control-listen-addr "127.0.0.1:$ctl" \
	--identity-trust-anchors-file "$ANCHORS" --identity-local-name "$IDN" \
	--identity-svc-addr "127.0.0.1:$IPORT" --identity-token-file "$TMP/idp.token"
idp_PID=$SPAWNED IDP_ADMIN=$adm
wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$IDP_ADMIN/ready"
# late NAME SVC_NAME: a proxy that certifies through idp over TLS to SVC_NAME
late() {
	local a o c
	a=$(free_port) o=$(free_port) c=$(free_port)
	spawn "$1" "$CONDUIT" proxy --log debug --inbound-listen-addr "127.0.0.1:$(free_port)" \
		--inbound-forward 127.0.0.1:9 --outbound-listen-addr "127.0.0.1:$o" \
		--admin-listen-addr "127.0.0.1:$a" --control-listen-addr "127.0.0.1:$c" \
		--identity-trust-anchors-file "$ANCHORS" --identity-local-name "client.demo.$ID_SUFFIX" \
		--identity-svc-addr "127.0.4.9:$IDP_PORT" --identity-svc-name "$2" \
		--identity-token-file "$TMP/client.token"
	eval "${1}_PID=$SPAWNED ${1}_ADMIN=$a"
}
late tlsid "$IDN"
if wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$tlsid_ADMIN/ready"; then
	ok "a proxy certified through the identity service's proxy, over TLS to its identity"
else
	not_ok "a proxy certified over TLS to the identity service"; diag "$TMP/tlsid.log"; diag "$TMP/idp.log"
fi
expect_match "the identity service's proxy terminated that TLS (no client certificate yet)" \
	"$(curl -s "http://127.0.0.1:$IDP_ADMIN/metrics")" \
	'^request_total\{direction="inbound",authority="127\.0\.4\.9:[0-9]+",tls="true",target_addr="127\.0\.0\.1:[0-9]+"[^}]*\} [1-9]'
late wrongid "web.demo.$ID_SUFFIX"
sleep 2
run curl -s "http://127.0.0.1:$wrongid_ADMIN/ready"
expect_match "a proxy told the identity service is someone else: not certified, and says why" "$OUT" \
	'not certified yet \(last attempt: .*'
expect_match "its log names the identity it could not verify" "$(cat "$TMP/wrongid.log")" \
	"msg=\"TLS handshake failed\" side=client target=127\\.0\\.4\\.9:$IDP_PORT server_id=web\\.demo\\."

curl -s "http://127.0.0.1:$cli_ADMIN/metrics" >"$TMP/cli.txt"
curl -s "http://127.0.0.1:$web_ADMIN/metrics" >"$TMP/web.txt"
check "promtool check metrics (client proxy)" promtool check metrics <"$TMP/cli.txt"
check "promtool check metrics (server proxy)" promtool check metrics <"$TMP/web.txt"
for p in cli web h2 idp tlsid; do
	pid=$(eval echo "\$${p}_PID")
	if kill -0 "$pid" 2>/dev/null; then ok "proxy $p is still running"; else
		not_ok "proxy $p died"; diag "$TMP/$p.log"; fi
done
finish
