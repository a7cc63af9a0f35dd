#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 45-web: the dashboard's part of `conduit install`, applied for real beside
# the controller's: the web Deployment (injected, no cluster access of its
# own) becomes Available with install's arguments; through the API
# server's service proxy it serves the page and the public API
# (--public-api-url names conduit-api); `conduit dashboard` with the
# kubeconfig serves a local port forwarding there, until it is stopped.
. "$(dirname "$0")/lib.sh"

cp_ns=t-45-web
"$CONDUIT" install -n "$cp_ns" --image-pull-policy Never >"$TMP/install.yml"
# the controller's part first (with identity, which certifies the
# proxies): the web pod then finds conduit-api in its
# service environment (the test cluster has no DNS)
install_part "$TMP/install.yml" namespace controller identity >"$TMP/controller.yml"
install_part "$TMP/install.yml" web >"$TMP/web.yml"
expect_eq "install's web part: ServiceAccount, Deployment, Service" \
	"$(grep -c '^kind: ' "$TMP/web.yml")" 3
on_exit "kc delete -f $TMP/web.yml --wait=false >/dev/null 2>&1; kc delete -f $TMP/controller.yml --wait=false >/dev/null 2>&1"
run kc apply -f "$TMP/controller.yml"
expect_eq "the controller's part applies" "$RC" 0
run kubectl wait -n "$cp_ns" --timeout=180s deploy/conduit-controller --for=condition=Available
expect_eq "the controller becomes Available" "$RC" 0
run kc apply -f "$TMP/web.yml"
expect_eq "the web part applies" "$RC" 0
run kubectl wait -n "$cp_ns" --timeout=180s deploy/conduit-web --for=condition=Available
if [ "$RC" = 0 ]; then ok "the web Deployment becomes Available (install's arguments, no RBAC of its own)"; else
	not_ok "the web Deployment becomes Available"
	kc get pods -n "$cp_ns" -o wide 2>&1 | sed 's/^/#   /'
	kc logs -n "$cp_ns" deploy/conduit-web -c web --tail=20 2>&1 | sed 's/^/#   /'
fi
P=/api/v1/namespaces/$cp_ns/services/conduit-web:http/proxy
run kc get --raw "$P/"
expect_match "the page through the API server's service proxy" "$OUT" '<title>conduit dashboard</title>'
run kc get --raw "$P/api/v1/version"
expect_match "the public API behind it (--public-api-url)" "$OUT" '^\{"version":"v'
run kc get --raw "$P/api/v1/pods?namespace=$cp_ns"
expect_match "which lists the web pod, meshed" "$OUT" "\"name\":\"conduit-web-[a-z0-9-]+\",\"status\":\"Running\",\"ready\":true,\"meshed\":true"
run kc logs -n "$cp_ns" deploy/conduit-web -c web
expect_match "it logged where it reads the API" "$OUT" 'msg="controller: web listening" addr=0.0.0.0:8084 public_api='

# conduit dashboard: a local port to the Service, through the API server
LP=$(free_port)
spawn dash env CONDUIT_NAMESPACE="$cp_ns" "$CONDUIT" dashboard --port "$LP" --show url --wait 60s
DASH=$SPAWNED
if wait_until 60 grep -q "^Conduit dashboard available at http://127.0.0.1:$LP\$" "$TMP/dash.log"; then
	ok "conduit dashboard: \"Conduit dashboard available at http://127.0.0.1:$LP\""; else
	not_ok "conduit dashboard prints its URL"; diag "$TMP/dash.log"; fi
run curl -s -m 10 -w '\n%{http_code} %{content_type}' "http://127.0.0.1:$LP/"
expect_match "the page through it" "$OUT" $'</html>\n200 text/html; charset=utf-8$'
expect_eq "app.js with its type (nosniff needs it)" \
	"$(curl -s -m 10 -o /dev/null -w '%{http_code} %{content_type}' "http://127.0.0.1:$LP/app.js")" \
	"200 text/javascript; charset=utf-8"
run curl -s -m 10 "http://127.0.0.1:$LP/api/v1/stat?resource=deployment&namespace=$cp_ns"
expect_match "stat through it: the control plane's deployments" "$OUT" '"name":"conduit-controller","meshed_pods":1'
expect_eq "an unknown path: the dashboard's 404" \
	"$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LP/nope.html")" 404
kill -INT "$DASH"
for i in $(seq 1 50); do kill -0 "$DASH" 2>/dev/null || break; sleep 0.1; done
wait "$DASH"
expect_eq "Ctrl-C: it exits 0" "$?" 0
run env CONDUIT_NAMESPACE=no-such-ns "$CONDUIT" dashboard --port 0 --show url --wait 1s
expect_eq "no dashboard in that namespace: exit 1" "$RC" 1
expect_match "saying so" "$ERR" '^conduit dashboard: the dashboard \(Service conduit-web in namespace no-such-ns\) does not answer'
finish
