#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 40-demo-app: the sample app's manifest (`conduit demo-app
# --print-manifest`) on a real cluster, plain and then injected: the
# apiserver takes it strictly, the four Deployments become Available on
# our FROM-scratch image (readiness probes passing), web finds emoji and
# voting by their Service names (through the cluster's DNS; Kubernetes'
# service variables when DNS lags), and from the node, through web-svc's
# ClusterIP, /api/list answers, a :doughnut: vote fails with 500 and the
# bot's traffic arrives.
. "$(dirname "$0")/lib.sh"

NS=emojivoto
# the manifest names its namespace; one left by a broken run goes first
kc delete namespace "$NS" --wait=true --timeout=90s >/dev/null 2>&1
on_exit "kc delete namespace $NS --wait=false >/dev/null 2>&1"

"$CONDUIT" demo-app --print-manifest --image "$CONDUIT_IMAGE_REF" \
	--image-pull-policy Never >"$TMP/demo.yml"

# app_checks WHAT: the checks of a running app
app_checks() {
	local what=$1 ip
	kwait 150 "$what: the four Deployments become Available (readiness probes pass)" \
		deploy --all --for=condition=Available
	ip=$(kc get svc web-svc -n "$NS" -o jsonpath='{.spec.clusterIP}')
	rm -f "$TMP/list.json"
	t0=$(date +%s)
	if wait_until 60 curl -sf -m 5 -o "$TMP/list.json" "http://$ip/api/list"; then
		ok "$what: GET /api/list through web-svc's ClusterIP ($(($(date +%s) - t0)) s after Available)"
	else
		not_ok "$what: GET /api/list through web-svc's ClusterIP"
		curl -sv -m 5 "http://$ip/api/list" 2>&1 | tail -n 15 | sed 's/^/#   /'
		kc logs -n "$NS" deploy/web -c conduit-proxy --tail=30 2>&1 | sed 's/^/#   /'
		kc logs -n "$NS" deploy/web -c web-svc --tail=10 2>&1 | sed 's/^/#   /'
	fi
	run /usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/list.json"
	expect_eq "$what: with the 24 emojis" "$OUT" 24
	run curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$ip/api/vote?choice=:doughnut:"
	expect_eq "$what: a vote for :doughnut: is a 500" "$OUT" 500
	# the first calls after Available may race kube-proxy programming the
	# voting Service's ClusterIP (web answers 500 "UNAVAILABLE" then)
	if wait_until 30 sh -c "[ \"\$(curl -s -m 10 -o /dev/null -w '%{http_code}' 'http://$ip/api/vote?choice=:rocket:')\" = 200 ]"; then
		ok "$what: a vote for :rocket: is a 200"
	else
		not_ok "$what: a vote for :rocket: is a 200"
		curl -s -m 10 "http://$ip/api/vote?choice=:rocket:" 2>&1 | head -c 300 | sed 's/^/#   /'
	fi
	if wait_until 30 sh -c "curl -s -m 5 http://$ip/api/stats | grep -Eq '\"requests\":([2-9][0-9]|[0-9]{3,})'"; then
		ok "$what: the bot's traffic reaches web"
	else
		not_ok "$what: no bot traffic at web"
		diag "$TMP/err"
		kc logs -n "$NS" deploy/vote-bot -c vote-bot --tail=20 2>&1 | sed 's/^/#   /'
	fi
	expect_match "$what: web found emoji by its Service name" \
		"$(kc logs -n "$NS" deploy/web -c web-svc 2>&1)" \
		'msg="upstreams" emoji=[0-9.]+:8080 emoji_authority=emoji-svc.emojivoto.svc.cluster.local:8080'
}

run kc apply --validate=strict -f "$TMP/demo.yml"
if [ "$RC" = 0 ] && ! grep -qi "warning" "$TMP/err"; then
	ok "the apiserver takes the manifest strictly"
else
	not_ok "kubectl apply --validate=strict"
	diag "$TMP/err"
fi
app_checks plain

# --- meshed: the same app, injected -------------------------------------------
kc delete namespace "$NS" --wait=true --timeout=90s >/dev/null 2>&1
"$CONDUIT" inject --proxy-image "$CONDUIT_IMAGE_REF" --init-image "$CONDUIT_IMAGE_REF" \
	--image-pull-policy Never "$TMP/demo.yml" >"$TMP/demo-injected.yml" 2>/dev/null
run kc apply --validate=strict -f "$TMP/demo-injected.yml"
expect_eq "the injected manifest applies" "$RC" 0
app_checks injected
web=$(kc get pods -n "$NS" -l app=web-svc -o jsonpath='{.items[0].metadata.name}')
run kc get --raw "/api/v1/namespaces/$NS/pods/$web:4191/proxy/metrics"
expect_match "injected: web's proxy counts inbound connections" \
	"$OUT" 'tcp_open_total\{[^}]*direction="inbound"'
expect_match "injected: web's proxy served HTTP/1 requests inbound" \
	"$OUT" '^request_total\{[^}]*direction="inbound"[^}]*\} [1-9]'
expect_match "injected: and sent gRPC outbound, to a target address, with gRPC statuses" \
	"$OUT" '^response_total\{[^}]*direction="outbound"[^}]*target_addr="[0-9.]+:8080"[^}]*grpc_status_code="0"[^}]*\} [1-9]'
voting=$(kc get pods -n "$NS" -l app=voting-svc -o jsonpath='{.items[0].metadata.name}')
run kc get --raw "/api/v1/namespaces/$NS/pods/$voting:4191/proxy/metrics"
expect_match "injected: voting's proxy saw the failing votes arrive (grpc_status_code 2, UNKNOWN)" \
	"$OUT" '^response_total\{[^}]*direction="inbound"[^}]*classification="failure"[^}]*grpc_status_code="2"[^}]*\} [1-9]'
finish
