#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 48-demo: `conduit demo` end to end, as a user runs it: every sample
# deployment in `conduit stat`, the bot's rate at web, the designed
# failure visible in voting's and web's success rate, edges bot -> web ->
# emoji and voting, every pod meshed; Ctrl-C stops every process it
# started and removes its state directory.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || { skip "demo tests" "curl missing"; finish; }
API=127.0.0.1:$(free_port)
RATE=20
# a subnet of its own, so a concurrent run (or a demo) cannot collide
SUB=$((RANDOM % 150 + 60))
# the dashboard on a free port too: 8084 may be taken
spawn demo "$CONDUIT" demo --api-addr "$API" --web-addr "127.0.0.1:$(free_port)" --rate $RATE --subnet "$SUB" \
	--scrape-interval 1s --refresh 1s --duration 120s
DEMO=$SPAWNED
S="$CONDUIT stat --api-addr $API"
rows() { $S deploy -n emojivoto -o json 2>/dev/null; }
val() { /usr/bin/python3 -c "import json,sys; rows=json.load(sys.stdin); r=[x for x in rows if x['name']==sys.argv[1]]; print(r[0][sys.argv[2]] if r else 'missing')" "$1" "$2"; }
# traffic for a while: a 1m window with 15 s of it
wait_until 30 sh -c "$S deploy -n emojivoto 2>/dev/null | grep -q '^web .*rps'"
sleep 15
J=$(rows)
expect_match "the demo says what it started and where" "$(cat "$TMP/demo.log")" "^  web +127\.$SUB\.0\.3 +127\.$SUB\.1\.3:8080"
for d in emoji voting web vote-bot; do
	expect_eq "stat lists deployment $d, meshed" "$(val "$d" meshed_pods <<<"$J")/$(val "$d" total_pods <<<"$J")" "1/1"
done
rps=$(val web rps <<<"$J")
if /usr/bin/python3 -c "import sys; r=float(sys.argv[1]); sys.exit(0 if $RATE*0.5 <= r <= $RATE*1.5 else 1)" "$rps"; then
	ok "web receives the bot's rate ($rps rps for --rate $RATE)"; else not_ok "web rps $rps, want about $RATE"; fi
for d in voting web; do
	sr=$(val $d success_rate <<<"$J")
	if /usr/bin/python3 -c "import sys; s=float(sys.argv[1]); sys.exit(0 if 0.5 < s < 1 else 1)" "$sr"; then
		ok "$d's success rate shows the failing vote ($sr)"; else not_ok "$d success rate $sr, want between 0.5 and 1"; fi
done
expect_eq "emoji never fails" "$(val emoji success_rate <<<"$J")" "1"
run "$CONDUIT" edges --api-addr "$API" -n emojivoto
for e in "vote-bot +web" "web +emoji" "web +voting"; do
	expect_match "edges: ${e/ +/ -> }, secured by mutual TLS" "$OUT" "^$e +emojivoto +emojivoto +√\$"
done
run "$CONDUIT" get pods --api-addr "$API" -n emojivoto
expect_eq "get pods: four, all meshed and ready" "$(grep -c ' true .* yes ' <<<"$OUT")" 4
# tap: live lines, both directions, the failing gRPC status among them
run timeout 6 "$CONDUIT" tap deploy/web -n emojivoto --api-addr "$API"
expect_match "tap deploy/web: request lines, inbound, from the bot over mutual TLS" "$OUT" "^req id=[0-9]+:[0-9]+ proxy=in +src=[0-9.:]+ dst=127\.$SUB\.1\.3:8080 tls=true :method=GET :authority=web-svc\.emojivoto\.svc\.cluster\.local:80 :path=/api/"
expect_match "response lines with status and latency" "$OUT" '^rsp id=[0-9:]+ proxy=in .* :status=(200|500) latency=[0-9]+µs$'
expect_match "outbound gRPC to voting, routed to its pod, over mutual TLS" "$OUT" "^req id=[0-9:]+ proxy=out src=[0-9.:]+ dst=127\.$SUB\.0\.2:8080 tls=true .*:path=/emojivoto\.v1\.VotingService/Vote\$"
expect_match "the designed failure: grpc-status=UNKNOWN" "$OUT" '^end id=[0-9:]+ proxy=out .* grpc-status=Unknown|^end id=[0-9:]+ proxy=out .* grpc-status=UNKNOWN'
# web's proxy: its outbound gRPC series name the voting pod it reached
wmetrics=$(grep -oE "^  web +127\.$SUB\.0\.3 +[^ ]+ +http://[0-9.:]+/metrics" "$TMP/demo.log" | awk '{ print $4 }')
run curl -s -m 5 "$wmetrics"
expect_match "web's outbound gRPC series carry dst_* labels (service, pod, deployment)" "$OUT" \
	'^response_total\{direction="outbound",authority="voting-svc\.emojivoto\.svc\.cluster\.local:8080",[^}]*dst_namespace="emojivoto",dst_service="voting-svc",dst_pod="voting-[a-z0-9-]+",[^}]*dst_deployment="voting",[^}]*grpc_status_code="2"[^}]*\} [1-9]'
expect_match "web calls voting over mutual TLS, to voting's identity" "$OUT" \
	'^response_total\{direction="outbound",authority="voting-svc\.emojivoto\.svc\.cluster\.local:8080",tls="true",server_id="voting\.emojivoto\.serviceaccount\.identity\.conduit\.cluster\.local",[^}]*\} [1-9]'
expect_match "and its proxy was certified by the demo's identity component" "$OUT" \
	'^identity_cert_expiration_timestamp_seconds [1-9]'
vmetrics=$(grep -oE "^  voting +127\.$SUB\.0\.2 +[^ ]+ +http://[0-9.:]+/metrics" "$TMP/demo.log" | awk '{ print $4 }')
run curl -s -m 5 "$vmetrics"
expect_match "voting's proxy: inbound requests over mutual TLS from web's identity" "$OUT" \
	'^request_total\{direction="inbound",[^}]*tls="true",client_id="web\.emojivoto\.serviceaccount\.identity\.conduit\.cluster\.local",[^}]*\} [1-9]'
run timeout 4 "$CONDUIT" tap deploy/voting -n emojivoto --api-addr "$API" -o json --max-rps 5
T=$OUT
check "tap -o json: every line parses" /usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in sys.argv[1].splitlines()]' "$T"
expect_match "tap -o json: voting's inbound requests name web's identity" "$T" \
	'"proxy":"in",.*"tls":"true","client_id":"web\.emojivoto\.serviceaccount\.identity\.conduit\.cluster\.local"'
n=$(grep -c '"type":"req"' <<<"$T")
if [ "$n" -ge 1 ] && [ "$n" -le 30 ]; then ok "--max-rps 5 bounds the requests shown ($n in 4 s)"; else not_ok "--max-rps 5: $n requests shown in 4 s"; fi
run timeout 5 "$CONDUIT" top deploy/web -n emojivoto --api-addr "$API" --refresh 1s
expect_match "top: the busiest paths table" "$OUT" '^SOURCE +DESTINATION +METHOD +PATH +COUNT +BEST +WORST +LAST +SUCCESS_RATE$'
expect_match "top: web's calls to voting, by pod name, with their failures" "$OUT" 'voting-demo-1 +POST +/emojivoto\.v1\.VotingService/Vote +[0-9]+ +[0-9.]+ms +[0-9.]+ms +[0-9.]+ms +[0-9.]+%$'
run "$CONDUIT" tap deploy/nosuch -n emojivoto --api-addr "$API"
expect_eq "tap of a deployment that does not exist: exit 1" "$RC" 1
expect_eq "with one line saying so" "$ERR" "conduit tap: deployment/nosuch not found in namespace emojivoto"
dir=$(sed -n 's/.*(state in \(\/tmp\/conduit-demo-[A-Za-z0-9]*\)).*/\1/p' "$TMP/demo.log")
expect_match "it names its state directory" "$dir" '^/tmp/conduit-demo-'
kill -INT "$DEMO"
for i in $(seq 1 100); do kill -0 "$DEMO" 2>/dev/null || break; sleep 0.1; done
wait "$DEMO"
expect_eq "Ctrl-C: the demo exits 0" "$?" 0
expect_match "saying it stops" "$(cat "$TMP/demo.log")" '^conduit demo: stopping$'
if [ -n "$dir" ] && [ ! -e "$dir" ]; then ok "its state directory is gone"; else not_ok "$dir is still there"; fi
left=$(pgrep -f -- "127\.$SUB\.[01]\." | wc -l)
expect_eq "no process of it is left" "$left" 0
run curl -s -m 2 "http://$API/api/v1/version"
expect_eq "the public API is down" "$RC" 7
finish
