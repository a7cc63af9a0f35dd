#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 52-web: the dashboard, as a user sees it. `conduit demo` serves it; curl
# checks what the web component answers (assets with their types and
# ETags, 304, the Host allow-list's 403, 404, 405, /api/ proxied, a tap
# streamed through as it happens); `conduit dashboard` finds it; a real
# headless Chromium (driven over the DevTools protocol by cdp.js) loads it
# and shows the demo's deployments with numeric success rates, a
# deployment's pods and edges, live tap rows and the server version; a
# web-only controller (as `conduit install` runs it, --public-api-url
# naming the API) proxies the demo's API, and one whose API is down shows
# the banner.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || { skip "web tests" "curl missing"; finish; }
here=$(cd "$(dirname "$0")" && pwd)
API_PORT=$(free_port)
API=127.0.0.1:$API_PORT
WEB=127.0.0.1:$(free_port)
SUB=$((RANDOM % 150 + 60))
spawn demo "$CONDUIT" demo --api-addr "$API" --web-addr "$WEB" --rate 20 \
	--subnet "$SUB" --scrape-interval 1s --refresh 5s --duration 150s
DEMO=$SPAWNED
U=http://$WEB
if ! wait_until 30 curl -sf -o /dev/null "$U/api/v1/version"; then
	not_ok "the demo's dashboard answers at $U"
	diag "$TMP/demo.log"
	finish
fi
wait_until 30 grep -q '^  logs: ' "$TMP/demo.log"
expect_match "the demo prints the dashboard's URL" "$(cat "$TMP/demo.log")" "^  dashboard:  http://$WEB/\$"

# --- what the web component answers -------------------------------------------
H=$(curl -s -D - -o "$TMP/index.html" "$U/")
expect_match "GET /: 200, HTML" "$H" $'^Content-Type: text/html; charset=utf-8\r$'
expect_match "with Cache-Control: no-cache" "$H" $'^Cache-Control: no-cache\r$'
expect_match "and a same-origin Content-Security-Policy" "$H" "^Content-Security-Policy: default-src 'self'"
etag=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' <<<"$H")
expect_match "and an ETag" "$etag" '^"[0-9a-f]{16}"$'
expect_eq "If-None-Match with it: 304" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$U/")" 304
expect_eq "app.js: text/javascript" \
	"$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$U/app.js")" "200 text/javascript; charset=utf-8"
expect_eq "style.css: text/css" \
	"$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$U/style.css")" "200 text/css; charset=utf-8"
expect_eq "an unknown path: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/nope.html")" 404
expect_eq "no way out of web/: 404" \
	"$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$U/../manifests/install.yml")" 404
expect_eq "POST: 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/api/v1/version")" 405
expect_eq "a foreign Host (DNS rebinding): 403" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example.com' "$U/")" 403
expect_eq "on /api/ too" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: rebind.example:8084' "$U/api/v1/pods")" 403
expect_eq "Host: localhost is allowed" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Host: localhost:${WEB##*:}" "$U/")" 200
expect_eq "and the Service's name" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: conduit-web.conduit.svc.cluster.local:8084' "$U/")" 200
expect_eq "/api/v1/version through it is the API's" \
	"$(curl -s "$U/api/v1/version")" "$(curl -s "http://$API/api/v1/version")"
run curl -s -w '\n%{http_code} %{content_type}' "$U/api/v1/stat?resource=nosuch"
expect_match "an API error passes through, status and JSON" "$OUT" $'^\\{"error":"invalid resource.*\\}\n400 application/json$'
wait_until 30 sh -c "curl -s '$U/api/v1/stat?resource=deployment&namespace=emojivoto' | grep -q '\"name\":\"web\",\"meshed_pods\":1,\"total_pods\":1,\"requests\":[1-9]'"
run curl -s "$U/api/v1/stat?resource=deployment&namespace=emojivoto&window=1m"
expect_match "/api/v1/stat through it: web with requests" "$OUT" '"name":"web","meshed_pods":1,"total_pods":1,"requests":[1-9]'
# a tap is streamed through: lines arrive while it runs (curl stops it)
start=$(date +%s%N)
timeout 10 curl -sN --max-time 3 "$U/api/v1/tap?resource=deployment&namespace=emojivoto&name=web" >"$TMP/tap.out" 2>/dev/null
n=$(grep -c '"type":"req"' "$TMP/tap.out")
if [ "$n" -ge 3 ]; then ok "a tap through the dashboard streams ($n requests in 3 s)"; else
	not_ok "a tap through the dashboard: $n requests in 3 s"; diag "$TMP/tap.out"; fi
check "every tap line is JSON" /usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$TMP/tap.out"

# --- conduit dashboard ---------------------------------------------------------
run "$CONDUIT" dashboard --web-addr "$WEB" --show url
expect_eq "conduit dashboard --web-addr: exit 0" "$RC" 0
expect_eq "it prints the URL" "$OUT" "Conduit dashboard available at http://$WEB"
run "$CONDUIT" dashboard --web-addr "$API" --show url --wait 1s
expect_eq "pointed at something else (the API): exit 1" "$RC" 1
expect_match "saying what answered" "$ERR" "^conduit dashboard: http://$API is not the conduit dashboard"
run "$CONDUIT" dashboard --web-addr "127.0.0.1:$(free_port)" --wait 1s
expect_eq "nothing there: exit 1" "$RC" 1
expect_match "saying so" "$ERR" 'does not answer: Connection refused'

# --- web alone, as install runs it: --public-api-url names the API -------------
W2=127.0.0.1:$(free_port)
A2=127.0.0.1:$(free_port)
spawn web2 "$CONDUIT" controller --components web --web-addr "$W2" --admin-addr "$A2" \
	--public-api-url "http://localhost:$API_PORT"
wait_until 10 curl -sf -o /dev/null "http://$A2/ready"
expect_eq "a web-only controller (no cluster source) is ready" "$(curl -s "http://$A2/ready")" "ready"
expect_eq "it proxies the API it was given by name" \
	"$(curl -s "http://$W2/api/v1/version")" "$(curl -s "http://$API/api/v1/version")"
DEAD=$(free_port)
W3=127.0.0.1:$(free_port)
spawn web3 "$CONDUIT" controller --components web --web-addr "$W3" --admin-addr "127.0.0.1:$(free_port)" \
	--public-api-url "http://127.0.0.1:$DEAD" --enforced-host "dash.example.org"
wait_port 127.0.0.1 "${W3##*:}" 10
run curl -s -w '\n%{http_code}' "http://$W3/api/v1/version"
expect_match "its API down: 502 with the reason" "$OUT" $'^\\{"error":"cannot reach the public API at 127.0.0.1:[0-9]+: Connection refused"\\}\n502$'
expect_eq "--enforced-host: the listed name is allowed" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: dash.example.org' "http://$W3/")" 200
expect_eq "localhost no longer is" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: localhost' "http://$W3/")" 403
run curl -s "http://$A2/metrics"
expect_match "web metrics on the admin port" "$OUT" '^web_requests_total\{outcome="api"\} [1-9]'
run "$CONDUIT" controller --components web --public-api-url https://x:1
expect_eq "--public-api-url https: a usage error" "$RC" 2

# --- a real browser ----------------------------------------------------------------
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ] || ! command -v node >/dev/null; then
	skip "the dashboard in a browser" "chromium or node missing (scripts/install-deps installs them)"
else
	UDD=$TMP/chromium
	mkdir -p "$UDD"
	# its own process group (setsid: the PID is the group's id), so every
	# renderer and helper it forks is ended with it, by that id
	spawn chromium setsid "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update --no-first-run \
		--disable-dev-shm-usage --user-data-dir="$UDD" --remote-debugging-port=0 \
		--window-size=1200,900 about:blank
	CHR=$SPAWNED
	on_exit "kill -TERM -- -$CHR 2>/dev/null; sleep 0.5; kill -KILL -- -$CHR 2>/dev/null"
	cdp() { timeout 40 node --experimental-websocket "$here/cdp.js" "$UDD" "$@" 2>"$TMP/cdp.err"; }

	rows='JSON.stringify([...document.querySelectorAll("tr.deploy")].map(r => ({name: r.dataset.name, sr: r.querySelector(".sr").textContent, rps: r.querySelector(".rps").textContent, meshed: r.querySelector(".meshed").textContent})))'
	J=$(cdp "$U/#/namespaces/emojivoto" \
		'document.querySelectorAll("tr.deploy").length == 4 && /^[0-9]+\.[0-9]{2}%$/.test((document.querySelector("tr.deploy[data-name=web] .sr") || {}).textContent)' \
		30 "$rows")
	expect_eq "Chromium: the demo's four deployments in the table" \
		"$(/usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(r["name"] for r in json.loads(json.loads(sys.argv[1])))))' "$J" 2>/dev/null)" \
		"emoji vote-bot voting web"
	if /usr/bin/python3 -c '
import json, sys
rows = {r["name"]: r for r in json.loads(json.loads(sys.argv[1]))}
sr = float(rows["web"]["sr"].rstrip("%"))
assert 50 <= sr < 100, sr                      # the failing vote shows
assert rows["emoji"]["sr"] == "100.00%"
assert float(rows["web"]["rps"]) > 0
assert all(r["meshed"] == "1/1" for r in rows.values())
' "$J" 2>"$TMP/py.err"; then ok "with numeric success rates (web below 100%, emoji 100.00%), RPS and 1/1 meshed: $(tr -d '\\' <<<"$J" | head -c 200)"; else
		not_ok "the deployments' figures: $J"; diag "$TMP/py.err" "$TMP/cdp.err"; fi
	V=$(cdp "$U/#/" 'document.getElementById("server-version").textContent.startsWith("v")' 15 \
		'document.getElementById("server-version").textContent')
	expect_eq "the footer shows the server's version" "$V" "\"$(curl -s "http://$API/api/v1/version" | sed 's/.*"version":"\([^"]*\)".*/\1/')\""
	expect_match "the namespaces page lists emojivoto" \
		"$(cdp "$U/#/" 'document.querySelector("tr[data-namespace=emojivoto]") !== null' 15 'document.querySelector("main").innerText')" 'emojivoto'
	D=$(cdp "$U/#/deployments/emojivoto/web" \
		'document.querySelectorAll("tr.pod").length >= 1 && document.querySelectorAll("tr.edge").length >= 3' 30 \
		'document.querySelector("main").innerText')
	expect_match "the deployment page: its pod, running and meshed" "$D" 'web-demo-1\\tRunning\\tyes\\tyes'
	expect_match "and its edges: web -> voting" "$D" 'outbound\\temojivoto/web\\temojivoto/voting\\t[0-9]+'
	expect_match "and vote-bot -> web" "$D" 'inbound\\temojivoto/vote-bot\\temojivoto/web'
	T=$(cdp "$U/#/tap?resource=deployment&namespace=emojivoto&name=web&start=1" \
		'[...document.querySelectorAll("#tap-rows tr")].filter(r => /^[0-9]{3}$/.test(r.querySelector(".st").textContent)).length >= 3' 30 \
		'[...document.querySelectorAll("#tap-rows tr")].map(r => r.innerText).join("\n")')
	expect_match "tap: live rows, inbound GETs to web-svc answered with a status" "$T" 'in\\tweb-demo-1\\t[0-9.:]+\\t[0-9.:]+\\tGET\\tweb-svc\.emojivoto\.svc\.cluster\.local:80/api/[^\\]+\\t(200|500)\\t[0-9.]+ ms'
	expect_match "and outbound gRPC calls" "$T" 'out\\tweb-demo-1\\t.*\\tPOST\\t(emoji|voting)-svc\.emojivoto\.svc\.cluster\.local:8080/emojivoto\.v1\.'
	S=$(cdp "$U/#/tap?resource=deployment&namespace=emojivoto&name=web&start=1&s=2" \
		'document.querySelectorAll("#tap-rows tr").length >= 1 && (document.getElementById("tap-stop").click(), /^Stopped/.test(document.getElementById("tap-status").textContent))' 30 \
		'document.getElementById("tap-status").textContent + " start-disabled=" + document.getElementById("tap-start").disabled')
	expect_match "the Stop button stops it" "$S" '^"Stopped\. [0-9]+ events\. start-disabled=false"$'
	B=$(cdp "http://$W3/#/" '!document.getElementById("banner").hidden' 20 \
		'document.getElementById("banner").textContent')
	expect_match "an unreachable API: the banner says so" "$B" '^"The public API is unreachable: cannot reach the public API at 127\.0\.0\.1:[0-9]+: Connection refused'
	N=$(cdp "$U/#/deployments" 'document.getElementById("banner").hidden && document.querySelectorAll("tr.deploy").length == 4' 20 \
		'document.querySelectorAll("tr.deploy").length')
	expect_eq "a reachable one: no banner" "$N" 4
	[ -s "$TMP/cdp.err" ] && diag "$TMP/cdp.err"
	kill -TERM -- "-$CHR" 2>/dev/null
	for i in $(seq 1 50); do pgrep -g "$CHR" >/dev/null || break; sleep 0.1; done
	kill -KILL -- "-$CHR" 2>/dev/null
	wait "$CHR" 2>/dev/null
	left=$(pgrep -g "$CHR" 2>/dev/null | wc -l)
	expect_eq "Chromium and its children are gone" "$left" 0
fi

kill -INT "$DEMO"
for i in $(seq 1 100); do kill -0 "$DEMO" 2>/dev/null || break; sleep 0.1; done
wait "$DEMO"
expect_eq "Ctrl-C: the demo exits 0" "$?" 0
run curl -s -m 2 "$U/"
expect_eq "the dashboard is down with it" "$RC" 7
finish
