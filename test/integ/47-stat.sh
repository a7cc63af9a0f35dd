#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 47-stat: the public API's numbers are right. A client pod calls a server
# pod through both proxies (discovery by service name, local mode); the
# server answers 80 x 200 and 20 x 500 after 25 ms each. `conduit stat`
# must say 80.00% success, 100 requests, a p50 in the 20-30 ms bucket;
# `stat svc` the same from the client's side; `edges` client -> server;
# `get pods` both, meshed; bad input gets one-line errors and exit codes.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PEER="/usr/bin/python3 $HERE/stat_peer.py"
for tool in curl; do
	command -v $tool >/dev/null || { skip "stat tests" "$tool missing"; finish; }
done

C=$TMP/cluster
stat_cluster "$C"
SPORT=$(free_port) SADM=$(free_port) CADM=$(free_port)
stat_pod "$C" server-1 server 127.0.1.20 "$SPORT" "$SADM"
stat_pod "$C" client-1 client 127.0.1.21 1 "$CADM"

spawn backend $PEER backend 127.0.2.20 "$SPORT" 25
wait_port 127.0.2.20 "$SPORT" 10
DPORT=$(free_port) APIPORT=$(free_port) AADM=$(free_port)
API=127.0.0.1:$APIPORT
spawn ctl "$CONDUIT" controller --components destination,public-api \
	--cluster-dir "$C" --destination-addr "127.0.0.1:$DPORT" \
	--public-api-addr "$API" --admin-addr "127.0.0.1:$AADM" --scrape-interval 500ms
wait_until 10 curl -sf "http://127.0.0.1:$AADM/ready"
# the two proxies: each on its pod's IP
spawn sp "$CONDUIT" proxy --inbound-listen-addr "127.0.1.20:$SPORT" \
	--outbound-listen-addr "127.0.1.20:$(free_port)" --admin-listen-addr "127.0.1.20:$SADM" \
	--control-listen-addr "127.0.1.20:$(free_port)" --inbound-forward "127.0.2.20:$SPORT" \
	--pod-namespace demo --pod-name server-1
COUT=$(free_port)
spawn cp "$CONDUIT" proxy --inbound-listen-addr "127.0.1.21:$(free_port)" \
	--outbound-listen-addr "127.0.1.21:$COUT" --admin-listen-addr "127.0.1.21:$CADM" \
	--control-listen-addr "127.0.1.21:$(free_port)" --destination-svc-addr "127.0.0.1:$DPORT" \
	--pod-namespace demo --pod-name client-1
wait_until 10 curl -sf "http://127.0.1.20:$SADM/ready"
wait_until 10 curl -sf "http://127.0.1.21:$CADM/ready"

scrapes() { curl -s "http://127.0.0.1:$AADM/metrics" | awk '$1 == "public_api_scrapes_total" { print $2 }'; }
# a first scrape of both before any traffic, so the window holds it all
wait_until 10 sh -c "[ \"\$(curl -s http://127.0.0.1:$AADM/metrics | awk '\$1 == \"public_api_scrapes_total\" { print \$2 }')\" -ge 2 ]"

run $PEER load "127.0.1.21:$COUT" server-svc.demo.svc.cluster.local 80 20
expect_eq "80 x 200 and 20 x 500 through both proxies" "$OUT" "200 80
500 20"
# two more scrape rounds: the newest snapshot holds everything
s0=$(scrapes)
wait_until 10 sh -c "[ \"\$(curl -s http://127.0.0.1:$AADM/metrics | awk '\$1 == \"public_api_scrapes_total\" { print \$2 }')\" -ge $((s0 + 4)) ]"

S="$CONDUIT stat --api-addr $API"
run $S deploy -n demo -t 1h -o json
J=$OUT
val() { /usr/bin/python3 -c "import json,sys; rows=json.load(sys.stdin); r=[x for x in rows if x['name']==sys.argv[1]][0]; print(r[sys.argv[2]])" "$1" "$2" <<<"$J"; }
expect_eq "stat deploy: the server received 100 requests" "$(val server requests)" "100"
expect_eq "its success rate is exactly 0.8" "$(val server success_rate)" "0.8"
p50=$(val server latency_ms_p50)
if /usr/bin/python3 -c "import sys; sys.exit(0 if 20 <= float(sys.argv[1]) <= 30 else 1)" "$p50"; then
	ok "p50 $p50 ms is in the 20-30 ms bucket (25 ms upstream)"; else not_ok "p50 $p50 ms, want 20..30"; fi
rps=$(val server rps)
if /usr/bin/python3 -c "import sys; r=float(sys.argv[1]); sys.exit(0 if 0 < r <= 100 else 1)" "$rps"; then
	ok "rps $rps: 100 requests over the scraped span"; else not_ok "rps $rps"; fi
expect_eq "the client received nothing: no success rate" "$(val client success_rate)" "None"
expect_eq "both are meshed" "$(val client meshed_pods)/$(val server meshed_pods)" "1/1"

run $S deploy -n demo -t 1h
expect_match "the table: header" "$OUT" '^NAME +MESHED +SUCCESS +RPS +LATENCY_P50 +LATENCY_P95 +LATENCY_P99 +TCP_CONN$'
expect_match "the table: server 80.00%" "$OUT" '^server +1/1 +80\.00% +[0-9.]+rps +[0-9.]+ms'
expect_match "the table: client without traffic shows no success rate, 0 rps" "$OUT" '^client +1/1 +- +0\.0rps +- +- +- +0$'

run $S deploy -n demo -t 1h -o wide
expect_match "-o wide adds the bytes a second" "$OUT" '^NAME +MESHED .* TCP_CONN +READ_BYTES/SEC +WRITE_BYTES/SEC$'
expect_match "and the server read and wrote some" "$OUT" '^server +1/1 .* [1-9][0-9.]*B/s +[1-9][0-9.]*B/s$'
run $S svc -n demo -t 1h -o json
J=$OUT
expect_eq "stat svc: the client's side of the same 100 requests" "$(val server-svc requests)" "100"
expect_eq "and the same success rate" "$(val server-svc success_rate)" "0.8"
run $S deploy/server -n demo -t 1h -o json
J=$OUT
expect_eq "deploy/server selects one row" "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$J")" 1

run "$CONDUIT" edges --api-addr "$API" -n demo -t 1h
expect_match "edges: client -> server, not secured (the proxies have no identity)" "$OUT" '^client +server +demo +demo +-$'
run "$CONDUIT" edges --api-addr "$API" -n demo -t 1h -o json
check "edges -o json parses" /usr/bin/python3 -c 'import json,sys; json.loads(sys.argv[1])' "$OUT"
run "$CONDUIT" get pods --api-addr "$API" -n demo
expect_match "get pods: both, ready and meshed" "$OUT" '^server-1 +true +Running +yes +deployment/server$'
run "$CONDUIT" version --api-addr "$API"
expect_match "version: the server answers" "$OUT" '^Server version: v'
expect_eq "and exits 0" "$RC" 0

# bad input: one line, non-zero
run $S frobs
expect_eq "an unknown resource type: exit 2" "$RC" 2
expect_match "naming it" "$ERR" '^conduit stat: unknown resource type "frobs"'
run $S deploy -n demo -t 7s
expect_eq "a bad window: exit 1" "$RC" 1
expect_match "saying what windows exist" "$ERR" '^conduit stat: invalid window "7s": want a duration from 10s to 1h'
run $S deploy/nosuch -n demo
expect_eq "a deployment that does not exist: exit 1" "$RC" 1
expect_match "not found" "$ERR" '^conduit stat: deployment/nosuch not found in namespace demo$'
run $CONDUIT stat --api-addr "127.0.0.1:$(free_port)" deploy
expect_eq "an unreachable API: exit 1" "$RC" 1
expect_match "one line saying where it looked" "$ERR" '^conduit stat: cannot reach the public API at 127\.0\.0\.1:[0-9]+: Connection refused$'
expect_eq "one line only" "$(printf '%s\n' "$ERR" | wc -l)" 1
run curl -s -w ' %{http_code}' "http://$API/api/v1/stat?resource=deployment&window=banana"
expect_match "the API itself: 400 with a JSON error" "$OUT" '^\{"error":"invalid window \\"banana\\".*\} 400$'
finish
