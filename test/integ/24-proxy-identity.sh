#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 24-proxy-identity: the proxy's side of identity. `conduit proxy` with
# trust anchors gets its certificate from `conduit controller --components
# identity` (local mode, tokens from --identity-tokens-dir, an issuer made
# by openssl): /ready is 503 saying why until the first certificate (the
# proxy starts before the controller), then 200; /metrics carries
# identity_cert_expiration_timestamp_seconds (the leaf's notAfter) and
# identity_cert_refresh_total, which a short --identity-issuance-lifetime
# makes count a renewal; a missing or wrong token keeps /ready 503 with the
# reason in the body and the log, until the token file is fixed; bad
# identity settings stop the proxy at start (exit 2, saying which); and a
# proxy without trust anchors behaves as before (/ready 200 at once, no
# identity series). SIGTERM still exits 0.
. "$(dirname "$0")/lib.sh"

for tool in openssl curl; do
	if ! command -v "$tool" >/dev/null; then
		skip "proxy identity tests" "$tool missing (scripts/install-deps)"
		finish
	fi
done

WEB=web.emojivoto.serviceaccount.identity.conduit.cluster.local
LIFETIME=10 # s: the shortest the controller allows; renewed after ~7 s

# --- a trust anchor and an issuer (CA, pathlen 0) under it, ECDSA P-256 ------
mkdir -p "$TMP/ca" "$TMP/issuer" "$TMP/tokens" "$TMP/cluster"
cd "$TMP/ca" || exit 1
openssl ecparam -name prime256v1 -genkey -noout -out root.key 2>/dev/null &&
	openssl req -x509 -new -key root.key -subj /CN=root.conduit.cluster.local -days 30 \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign -out root.crt 2>/dev/null &&
	openssl ecparam -name prime256v1 -genkey -noout -out issuer.key 2>/dev/null &&
	printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >issuer.ext &&
	openssl req -new -key issuer.key -subj /CN=identity.conduit.cluster.local -out issuer.csr 2>/dev/null &&
	openssl x509 -req -in issuer.csr -CA root.crt -CAkey root.key -CAcreateserial \
		-days 10 -extfile issuer.ext -out issuer.crt 2>/dev/null
check "openssl makes a trust anchor and an issuer" test -s issuer.crt
cd - >/dev/null || exit 1
cp "$TMP/ca/issuer.crt" "$TMP/issuer/tls.crt"
cp "$TMP/ca/issuer.key" "$TMP/issuer/tls.key"
cp "$TMP/ca/root.crt" "$TMP/issuer/ca.crt"
printf 'tok-web-0123456789\n' >"$TMP/tokens/emojivoto.web"
printf 'tok-voting-9876543210\n' >"$TMP/tokens/emojivoto.voting"
printf 'tok-web-0123456789\n' >"$TMP/web.token"
chmod 644 "$TMP/web.token"

IPORT=$(free_port) CAPORT=$(free_port)

# id_proxy NAME [FLAGS...]: a proxy on free loopback ports (as start_proxy)
# that may be unready: waits for its admin port only
id_proxy() {
	local name=$1 in out adm ctl
	shift
	in=$(free_port) out=$(free_port) adm=$(free_port) ctl=$(free_port)
	spawn "$name" "$CONDUIT" proxy --log debug \
		--inbound-listen-addr "127.0.0.1:$in" \
		--outbound-listen-addr "127.0.0.1:$out" \
		--admin-listen-addr "127.0.0.1:$adm" \
		--control-listen-addr "127.0.0.1:$ctl" \
		--inbound-forward "127.0.0.1:$(free_port)" "$@"
	eval "${name}_ADMIN=$adm ${name}_PID=$SPAWNED"
	wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$adm/live"
}

# ready ADMINPORT: "<code> <body>" of /ready
ready() { curl -s -w ' %{http_code}' "http://127.0.0.1:$1/ready" | tr '\n' ' '; }
# metric ADMINPORT NAME: the value of the unlabelled series, or "absent"
metric() {
	curl -s "http://127.0.0.1:$1/metrics" |
		awk -v want="$2" '$1 == want { print $2; found = 1 } END { if (!found) print "absent" }'
}
# body_has ADMINPORT REGEX: /ready's body matches
body_has() { ready "$1" | grep -Eq -- "$2"; }

# --- without trust anchors: exactly as before ----------------------------------
id_proxy P
expect_eq "no identity settings: /ready 200 at once" "$(ready "$P_ADMIN")" "ready  200"
expect_eq "and no identity series" "$(metric "$P_ADMIN" identity_cert_refresh_total)" absent
# what inject sets today (an address and a name, no anchors): still off
CONDUIT_PROXY_IDENTITY_SVC_ADDR=conduit-identity.conduit.svc.cluster.local:8080 \
	CONDUIT_PROXY_IDENTITY_LOCAL_NAME=$WEB id_proxy Q
expect_eq "an address and a name but no trust anchors: /ready 200 at once" \
	"$(ready "$Q_ADMIN")" "ready  200"
expect_match "and the log says identity is off, and why" "$(cat "$TMP/Q.log")" 'msg="identity off: no trust anchors"'
stop "$P_PID"
stop "$Q_PID"

# --- bad settings: exit 2 before anything starts, saying what -------------------
bad_start() { # DESC REGEX ENV... -- FLAGS...
	local desc=$1 re=$2
	shift 2
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	run env "${envs[@]}" timeout 10 "$CONDUIT" proxy --admin-listen-addr "127.0.0.1:$(free_port)" \
		--inbound-listen-addr "127.0.0.1:$(free_port)" --outbound-listen-addr "127.0.0.1:$(free_port)" \
		--control-listen-addr "127.0.0.1:$(free_port)" "$@"
	if [ "$RC" = 2 ] && printf '%s\n' "$ERR" | grep -Eq -- "$re"; then ok "$desc"; else
		not_ok "$desc (exit $RC)"; diag "$TMP/out" "$TMP/err"; fi
}
ANCH=CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS_FILE=$TMP/ca/root.crt
bad_start "trust anchors without a local name: exit 2, naming the setting" \
	'identity is on .*--identity-local-name \(CONDUIT_PROXY_IDENTITY_LOCAL_NAME\) is not set' \
	"$ANCH" -- --identity-svc-addr 127.0.0.1:1
bad_start "without the identity address: exit 2" \
	'--identity-svc-addr \(CONDUIT_PROXY_IDENTITY_SVC_ADDR\) is not set' \
	"$ANCH" CONDUIT_PROXY_IDENTITY_LOCAL_NAME=$WEB --
bad_start "a local name that is not a DNS name: exit 2, why" \
	'invalid value "Web_1" for --identity-local-name: character 1' \
	"$ANCH" -- --identity-local-name Web_1 --identity-svc-addr 127.0.0.1:1
bad_start "an identity address without a port: exit 2" \
	'invalid value "identity" for --identity-svc-addr' \
	"$ANCH" -- --identity-local-name "$WEB" --identity-svc-addr identity
bad_start "trust anchors that are a key: exit 2, which file and why" \
	"--identity-trust-anchors-file $TMP/ca/root.key: not trust anchors: no PEM certificate" \
	-- --identity-trust-anchors-file "$TMP/ca/root.key" --identity-local-name "$WEB" --identity-svc-addr 127.0.0.1:1
bad_start "a leaf as the trust anchors: exit 2, not a CA" \
	'not trust anchors: certificate 1 \(CN=.*\) is not a CA' \
	-- --identity-trust-anchors "$(openssl req -x509 -new -key "$TMP/ca/root.key" -subj /CN=leaf -days 1 -addext basicConstraints=critical,CA:FALSE 2>/dev/null)" \
	--identity-local-name "$WEB" --identity-svc-addr 127.0.0.1:1
bad_start "a missing anchors file: exit 2" 'cannot read it: No such file or directory' \
	-- --identity-trust-anchors-file "$TMP/nope.crt" --identity-local-name "$WEB" --identity-svc-addr 127.0.0.1:1
CONDUIT_PROXY_IDENTITY_DISABLED=1 CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS_FILE=$TMP/ca/root.crt id_proxy D
expect_eq "--identity-disabled (the variable) with anchors: off, /ready 200 at once" \
	"$(ready "$D_ADMIN")" "ready  200"
stop "$D_PID"

# --- a proxy started before the controller ------------------------------------
# the anchors as PEM text in the environment, the identity service by
# name (resolved with c-ares: /etc/hosts' localhost)
CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS=$(cat "$TMP/ca/root.crt") \
	CONDUIT_PROXY_IDENTITY_LOCAL_NAME=$WEB \
	CONDUIT_PROXY_IDENTITY_SVC_ADDR=localhost:$IPORT \
	CONDUIT_PROXY_IDENTITY_TOKEN_FILE=$TMP/web.token id_proxy A
wait_until 10 body_has "$A_ADMIN" 'last attempt'
expect_match "no identity component yet: /ready 503, saying why" "$(ready "$A_ADMIN")" \
	'^not ready: identity: not certified yet \(last attempt: Certify: UNAVAILABLE: connect to 127\.0\.0\.1:[0-9]+: Connection refused\)  503$'
expect_match "each failure is a warn line with the gRPC status" "$(cat "$TMP/A.log")" \
	'level=warn .*msg="identity: certification failed" identity='"$WEB"' status=UNAVAILABLE error='
expect_eq "identity_cert_expiration_timestamp_seconds 0 before the first" \
	"$(metric "$A_ADMIN" identity_cert_expiration_timestamp_seconds)" 0
expect_eq "identity_cert_refresh_total 0" "$(metric "$A_ADMIN" identity_cert_refresh_total)" 0

spawn ctl "$CONDUIT" controller --cluster-dir "$TMP/cluster" --components identity \
	--identity-addr "127.0.0.1:$IPORT" --admin-addr "127.0.0.1:$CAPORT" \
	--identity-issuer-dir "$TMP/issuer" --identity-tokens-dir "$TMP/tokens" \
	--identity-issuance-lifetime "${LIFETIME}s" --log-level debug
CTL=$SPAWNED
wait_until 10 curl -sf "http://127.0.0.1:$CAPORT/ready" || { not_ok "the controller is ready"; diag "$TMP/ctl.log"; }
t0=$(date +%s%N)
if wait_until 30 curl -sf -o /dev/null "http://127.0.0.1:$A_ADMIN/ready"; then
	ok "once the identity component is up: /ready 200"
	echo "# certified $(( ($(date +%s%N) - t0) / 1000000 )) ms after the controller was ready"
else
	not_ok "once the identity component is up: /ready 200 ($(ready "$A_ADMIN"))"
	diag "$TMP/A.log" "$TMP/ctl.log"
fi
now=$(date +%s)
exp=$(metric "$A_ADMIN" identity_cert_expiration_timestamp_seconds)
if [ "$exp" != absent ] && [ "$exp" -gt "$now" ] && [ "$exp" -le $((now + LIFETIME)) ]; then
	ok "identity_cert_expiration_timestamp_seconds is the leaf's notAfter: now + the lifetime ($((exp - now)) s left)"
else
	not_ok "identity_cert_expiration_timestamp_seconds ~ now+$LIFETIME (got $exp, now $now)"
fi
expect_eq "identity_cert_refresh_total 1" "$(metric "$A_ADMIN" identity_cert_refresh_total)" 1
expect_match "one info line per certification, with the identity and the expiry" "$(cat "$TMP/A.log")" \
	'level=info .*msg="identity: certified" identity='"$WEB"' expires=20[0-9-]+T[0-9:]+Z'
expect_match "the controller issued it to that name" "$(cat "$TMP/ctl.log")" "msg=\"identity: certified\" identity=$WEB"
if command -v promtool >/dev/null; then
	curl -s "http://127.0.0.1:$A_ADMIN/metrics" >"$TMP/metrics.txt"
	promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ] || [ "$rc" = 3 ]; then
		ok "promtool check metrics accepts /metrics (exit $rc)"
	else
		not_ok "promtool check metrics exit $rc"; diag "$TMP/promtool.out"
	fi
	expect_eq "and has nothing to say about the identity series" \
		"$(grep -c identity_cert "$TMP/promtool.out")" 0
else
	skip "promtool check metrics" "promtool missing"
fi

# the renewal, at 70% of what was left
if wait_until 20 sh -c "[ \"\$(curl -s http://127.0.0.1:$A_ADMIN/metrics | awk '\$1 == \"identity_cert_refresh_total\" { print \$2 }')\" -ge 2 ]"; then
	ok "a renewal before the certificate expires: identity_cert_refresh_total 2"
else
	not_ok "a renewal: identity_cert_refresh_total is $(metric "$A_ADMIN" identity_cert_refresh_total)"
	diag "$TMP/A.log"
fi
exp2=$(metric "$A_ADMIN" identity_cert_expiration_timestamp_seconds)
if [ "$exp2" -gt "$exp" ]; then ok "and the expiry moved on ($exp -> $exp2)"; else
	not_ok "and the expiry moved on ($exp -> $exp2)"; fi
expect_eq "/ready stays 200" "$(ready "$A_ADMIN")" "ready  200"
n=$(grep -c 'msg="identity: certified"' "$TMP/A.log")
echo "# renewals: $n certifications; $(grep 'msg="identity: certified"' "$TMP/A.log" | awk '{print $1}' | tr '\n' ' ')"

# --- tokens: missing, someone else's, then right ---------------------------------
id_proxy B --identity-trust-anchors-file "$TMP/ca/root.crt" --identity-local-name "$WEB" \
	--identity-svc-addr "127.0.0.1:$IPORT" --identity-token-file "$TMP/b.token"
if wait_until 10 body_has "$B_ADMIN" 'token file'; then
	ok "no token file: /ready 503 saying so"
else
	not_ok "no token file: /ready 503 saying so ($(ready "$B_ADMIN"))"
fi
expect_match "the body names the file and the reason" "$(ready "$B_ADMIN")" \
	"^not ready: identity: not certified yet \\(last attempt: token file $TMP/b.token: No such file or directory\\)  503\$"
expect_match "logged as an error" "$(cat "$TMP/B.log")" \
	"level=error .*msg=\"identity: certification failed\" .*error=\"token file $TMP/b.token: No such file or directory\""
printf 'tok-voting-9876543210\n' >"$TMP/b.token"
if wait_until 10 body_has "$B_ADMIN" PERMISSION_DENIED; then
	ok "someone else's token: /ready 503"
else
	not_ok "someone else's token: /ready 503 ($(ready "$B_ADMIN"))"
fi
expect_match "with the identity component's reason in the body" "$(ready "$B_ADMIN")" \
	"Certify: PERMISSION_DENIED: the token is emojivoto\\.voting's .*503\$"
expect_match "and in the log, with the status" "$(cat "$TMP/B.log")" \
	'level=warn .*status=PERMISSION_DENIED error="Certify: PERMISSION_DENIED: the token is emojivoto\.voting'"'"'s'
expect_eq "not certified: refresh count 0" "$(metric "$B_ADMIN" identity_cert_refresh_total)" 0
printf 'tok-web-0123456789' >"$TMP/b.token"
if wait_until 30 curl -sf -o /dev/null "http://127.0.0.1:$B_ADMIN/ready"; then
	ok "the token file fixed: certified at the next attempt, /ready 200"
else
	not_ok "the token file fixed: /ready 200 ($(ready "$B_ADMIN"))"; diag "$TMP/B.log"
fi

# --- the controller goes away: the certificate held stays in use ------------
nfail=$(grep -c 'msg="identity: certification failed"' "$TMP/A.log")
stop "$CTL"
# its next renewal (70% into a 10 s certificate) finds no one
if wait_until 15 sh -c "[ \$(grep -c 'msg=\"identity: certification failed\"' '$TMP/A.log') -gt $nfail ]"; then
	ok "the renewal after the controller stopped fails"
else
	not_ok "the renewal after the controller stopped fails"; diag "$TMP/A.log"
fi
expect_match "logged at warn with its status" \
	"$(grep 'msg="identity: certification failed"' "$TMP/A.log" | tail -n 1)" \
	'level=warn .*status=UNAVAILABLE error="Certify: UNAVAILABLE: connect to 127\.0\.0\.1:[0-9]+: Connection refused"'
expect_eq "the identity component gone: /ready stays 200 (the certificate held)" "$(ready "$A_ADMIN")" "ready  200"

# --- SIGTERM -----------------------------------------------------------------------
kill -TERM "$A_PID"
wait "$A_PID"
expect_eq "SIGTERM: exit 0" "$?" 0
expect_match "stopped" "$(tail -n 3 "$TMP/A.log")" 'msg="proxy stopped"'
kill -TERM "$B_PID"
wait "$B_PID"
expect_eq "SIGTERM (B): exit 0" "$?" 0
expect_eq "no sanitizer report" "$(cat "$TMP"/*.log | grep -c 'Sanitizer\|runtime error')" 0
finish
