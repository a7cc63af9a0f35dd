#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 40-demo-app: the emojivoto sample app (`conduit demo-app`) on loopback,
# direct (no proxies): emoji and voting (gRPC), web (JSON over HTTP/1.1)
# and the bot. curl checks /api/list, that a vote for :doughnut: is a 500
# and others 200, that the leaderboard counts exactly the votes cast here;
# grpcio (a real gRPC peer) checks the services themselves; the bot's
# traffic reaches web; voting is killed and restarted mid-run and web and
# the bot carry on. The Kubernetes manifest validates strictly against
# the v1.34 schema, injected or not.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

if ! command -v curl >/dev/null; then
	skip "demo-app tests" "curl missing (scripts/install-deps)"
	finish
fi

# json_eval FILE EXPR: print EXPR evaluated over the JSON document d
json_eval() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# stat PORT KEY: one counter of a /api/stats
stat() { curl -s "http://127.0.0.1:$1/api/stats" | $PY -c "import json,sys; print(int(json.load(sys.stdin)['$2']))"; }

# --- usage ---------------------------------------------------------------------
expect_exit 2 "no --role: usage error" "$CONDUIT" demo-app
expect_match "it says --role is required" "$ERR" '--role is required'
expect_exit 2 "an unknown role: usage error" "$CONDUIT" demo-app --role vote
expect_exit 2 "a bad --listen: usage error" "$CONDUIT" demo-app --role web --listen nowhere
check "--help lists the DEMO_* variables" "$CONDUIT" demo-app --help
expect_match "--help names DEMO_EMOJI_AUTHORITY" "$OUT" 'DEMO_EMOJI_AUTHORITY'

# --- the manifest --------------------------------------------------------------
run "$CONDUIT" demo-app --print-manifest --image registry.example/conduit:v9
cp "$TMP/out" "$TMP/demo.yml"
expect_match "--print-manifest uses --image" "$OUT" 'image: registry.example/conduit:v9'
expect_exit 2 "--print-manifest refuses an image that is not one" \
	"$CONDUIT" demo-app --print-manifest --image 'x y'
if $PY -c 'import yaml' 2>/dev/null && [ -d "$(go env GOMODCACHE 2>/dev/null)/k8s.io/kubernetes@v1.34.4" ]; then
	check "the manifest validates strictly against Kubernetes v1.34" \
		"$HERE/../tools/k8s-validate" "$TMP/demo.yml"
	run "$CONDUIT" inject "$TMP/demo.yml"
	cp "$TMP/out" "$TMP/demo-injected.yml"
	check "and so does its injected form" "$HERE/../tools/k8s-validate" "$TMP/demo-injected.yml"
	expect_eq "every Deployment got a proxy" "$(grep -c '^      - name: conduit-proxy$' "$TMP/demo-injected.yml")" 4
else
	skip "manifest validation" "python3-yaml or the k8s.io/kubernetes@v1.34.4 module missing"
fi
expect_eq "four Deployments, three Services" \
	"$(grep -c '^kind: Deployment' "$TMP/demo.yml") $(grep -c '^kind: Service$' "$TMP/demo.yml")" "4 3"

# --- the app, direct ------------------------------------------------------------
EP=$(free_port) VP=$(free_port) WP=$(free_port) BP=$(free_port)
W="http://127.0.0.1:$WP"
export DEMO_LOG=debug
spawn emoji "$CONDUIT" demo-app --role emoji --listen "127.0.0.1:$EP"
EMOJI_PID=$SPAWNED
spawn voting "$CONDUIT" demo-app --role voting --listen "127.0.0.1:$VP"
VOTING_PID=$SPAWNED
# a name (localhost) for emoji, a literal for voting; the authorities a
# mesh would route by
DEMO_VOTING_AUTHORITY=voting-svc.emojivoto.svc.cluster.local:8080 \
	spawn web "$CONDUIT" demo-app --role web --listen "127.0.0.1:$WP" \
	--emoji-addr "localhost:$EP" --voting-addr "127.0.0.1:$VP" --summary-interval 1s
WEB_PID=$SPAWNED
unset DEMO_LOG
wait_port 127.0.0.1 "$EP" 10 && wait_port 127.0.0.1 "$VP" 10 &&
	wait_until 10 curl -sf -o /dev/null "$W/ready" || { not_ok "the app did not start"; diag "$TMP"/*.log; finish; }
ok "emoji, voting and web are up"
expect_match "web logs its upstreams and their authorities" "$(cat "$TMP/web.log")" \
	"voting=127.0.0.1:$VP voting_authority=voting-svc.emojivoto.svc.cluster.local:8080"

run curl -s -o "$TMP/list.json" -w '%{http_code} %{content_type}' "$W/api/list"
expect_eq "GET /api/list: 200 JSON" "$OUT" "200 application/json"
run json_eval "$TMP/list.json" 'len(d) >= 20, [e["unicode"] for e in d if e["shortcode"] == ":joy:"], any(e["shortcode"] == ":doughnut:" for e in d)'
expect_eq "the list holds the emojis, :joy: is 😂, :doughnut: is there" "$OUT" "True ['😂'] True"

vote() { curl -s -o "$TMP/vote.json" -w '%{http_code}' "$W/api/vote?choice=$1"; }
cast=(:joy: :joy: :taco: %3Ajoy%3A :fire: :taco: :joy:)
codes=""
for c in "${cast[@]}"; do codes="$codes$(vote "$c") "; done
expect_eq "seven votes: 200 each" "$codes" "200 200 200 200 200 200 200 "
run vote :doughnut:
expect_eq "a vote for :doughnut: is a 500" "$OUT" 500
run json_eval "$TMP/vote.json" 'd["error"], d["service"], d["grpc_status"]'
expect_eq "with voting's error as JSON" "$OUT" "ERROR voting UNKNOWN"
run vote :no_such_emoji:
expect_eq "an unknown emoji: 404" "$OUT" 404
run curl -s -o /dev/null -w '%{http_code}' "$W/api/vote"
expect_eq "no choice: 400" "$OUT" 400
run curl -s -o "$TMP/board.json" -w '%{http_code}' "$W/api/leaderboard"
expect_eq "GET /api/leaderboard: 200" "$OUT" 200
run json_eval "$TMP/board.json" '" ".join("%s=%d" % (e["shortcode"], e["votes"]) for e in d)'
expect_eq "the leaderboard counts exactly the votes cast" "$OUT" ":joy:=4 :taco:=2 :fire:=1"
run json_eval "$TMP/board.json" 'd[0]["unicode"]'
expect_eq "with the emoji itself" "$OUT" "😂"
run curl -s -o "$TMP/index.html" -w '%{http_code} %{content_type}' "$W/"
expect_eq "GET /: 200 HTML" "$OUT" "200 text/html; charset=utf-8"
expect_match "the page reads /api/list" "$(cat "$TMP/index.html")" "fetch\('/api/list'\)"
expect_eq "web counted the requests" "$(stat "$WP" vote_ok) $(stat "$WP" vote_failed)" "7 1"

# --- grpcio against emoji and voting ----------------------------------------------
if $PY -c 'import grpc, google.protobuf' 2>/dev/null && command -v protoc >/dev/null; then
	mkdir -p "$TMP/py"
	protoc -I "$HERE/../../proto" --python_out="$TMP/py" "$HERE/../../proto/emojivoto.proto"
	cat >"$TMP/py/client.py" <<'EOF'
import sys, grpc
import emojivoto_pb2 as pb
ch = grpc.insecure_channel(sys.argv[1])
ex = grpc.insecure_channel(sys.argv[2])
un = lambda c, m, req, resp: c.unary_unary(m, request_serializer=req.SerializeToString,
                                           response_deserializer=resp.FromString)(req, timeout=5)
l = un(ch, "/emojivoto.v1.EmojiService/ListAll", pb.ListAllEmojiRequest(), pb.ListAllEmojiResponse)
f = un(ch, "/emojivoto.v1.EmojiService/FindByShortcode", pb.FindByShortcodeRequest(shortcode=":taco:"), pb.FindByShortcodeResponse)
n = un(ch, "/emojivoto.v1.EmojiService/FindByShortcode", pb.FindByShortcodeRequest(shortcode=":x:"), pb.FindByShortcodeResponse)
print(len(l.list), f.emoji.unicode, n.HasField("emoji"))
try:
    un(ex, "/emojivoto.v1.VotingService/Vote", pb.VoteRequest(shortcode=":doughnut:"), pb.VoteResponse)
except grpc.RpcError as e:
    print(e.code().name, e.details())
r = un(ex, "/emojivoto.v1.VotingService/Results", pb.ResultsRequest(), pb.ResultsResponse)
print(" ".join("%s=%d" % (x.shortcode, x.votes) for x in r.results))
EOF
	run timeout 20 $PY "$TMP/py/client.py" "127.0.0.1:$EP" "127.0.0.1:$VP"
	expect_eq "grpcio: ListAll, FindByShortcode, Vote(:doughnut:) UNKNOWN ERROR, Results" "$OUT" \
		"24 🌮 False
UNKNOWN ERROR
:joy:=4 :taco:=2 :fire:=1"
else
	skip "grpcio against the services" "python3-grpcio or protoc missing"
fi

# --- the bot -------------------------------------------------------------------------
before=$(stat "$WP" requests)
spawn bot "$CONDUIT" demo-app --role bot --web-addr "127.0.0.1:$WP" \
	--web-authority web-svc.emojivoto.svc.cluster.local:80 --rate 50 \
	--summary-interval 1s --listen "127.0.0.1:$BP" --seed 7
BOT_PID=$SPAWNED
wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$BP/ready" || not_ok "the bot did not start"
sleep 2.5
after=$(stat "$WP" requests)
sent=$(stat "$BP" sent)
if [ $((after - before)) -ge 60 ] && [ "$sent" -ge 60 ]; then
	ok "the bot's traffic reaches web ($sent sent, web counted $((after - before)))"
else
	not_ok "bot sent $sent, web counted $((after - before)) in 2.5 s at 50/s"
fi
expect_eq "no transport errors while all is up" "$(stat "$BP" errors)" 0
[ "$(stat "$BP" failed)" -gt 0 ] && [ "$(stat "$WP" vote_failed)" -gt 1 ] &&
	ok "web shows a failure rate (the :doughnut: votes)" || not_ok "no failed votes seen"
expect_match "the bot logs a summary" "$(cat "$TMP/bot.log")" 'msg="bot summary" sent=[0-9]+ ok=[0-9]+ failed=[0-9]+'
expect_match "so does web" "$(cat "$TMP/web.log")" 'msg="web summary" requests=[0-9]+'

# --- voting dies and comes back -------------------------------------------------------
stop "$VOTING_PID"
sleep 1.5
run vote :joy:
if [ "$OUT" = 500 ] || [ "$OUT" = 503 ]; then ok "voting down: a vote fails ($OUT)"; else not_ok "voting down: vote gave $OUT"; fi
run curl -s -o /dev/null -w '%{http_code}' "$W/api/list"
expect_eq "voting down: /api/list still works" "$OUT" 200
failed_down=$(stat "$BP" failed)
spawn voting2 "$CONDUIT" demo-app --role voting --listen "127.0.0.1:$VP"
wait_port 127.0.0.1 "$VP" 10
if wait_until 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$W/api/vote?choice=:joy:')\" = 200 ]"; then
	ok "voting restarted: votes go through again"
else
	not_ok "votes still fail 10 s after voting came back"
fi
ok_before=$(stat "$BP" ok)
sleep 1.5
ok_after=$(stat "$BP" ok)
[ "$ok_after" -gt "$ok_before" ] && ok "the bot carries on after the restart" || not_ok "the bot stalled ($ok_before -> $ok_after)"
[ "$failed_down" -gt 0 ] && ok "the bot counted the failures meanwhile" || not_ok "no failures counted while voting was down"
check "web is still running" kill -0 "$WEB_PID"
check "the bot is still running" kill -0 "$BOT_PID"
run curl -s -o /dev/null -w '%{http_code}' "$W/api/leaderboard"
expect_eq "the new voting answers the leaderboard" "$OUT" 200

# --- web dies and comes back: the bot reconnects ------------------------------------------
stop "$WEB_PID"
sleep 0.5
errs=$(stat "$BP" errors)
spawn web2 "$CONDUIT" demo-app --role web --listen "127.0.0.1:$WP" \
	--emoji-addr "127.0.0.1:$EP" --voting-addr "127.0.0.1:$VP"
WEB2_PID=$SPAWNED
wait_until 10 curl -sf -o /dev/null "$W/ready"
sleep 1
[ "$errs" -gt 0 ] && ok "the bot counted connection errors while web was down" || not_ok "no errors counted"
[ "$(stat "$WP" requests)" -gt 10 ] && ok "the bot's traffic reaches the new web" || not_ok "no traffic at the new web"

# --- stopping ------------------------------------------------------------------------
kill -TERM "$BOT_PID"
wait "$BOT_PID"
expect_eq "SIGTERM: the bot exits 0" "$?" 0
expect_match "with a last summary" "$(tail -n 2 "$TMP/bot.log")" 'msg="bot summary"'
# a request in flight when web is told to stop is still answered
kill -STOP "$EMOJI_PID"
curl -s -o /dev/null -w '%{http_code}' "$W/api/list" >"$TMP/inflight" &
curl_pid=$!
sleep 0.3
kill -TERM "$WEB2_PID"
sleep 0.3
kill -CONT "$EMOJI_PID"
wait "$WEB2_PID"
expect_eq "SIGTERM: web drains, then exits 0" "$?" 0
wait "$curl_pid"
expect_eq "the request in flight got its answer" "$(cat "$TMP/inflight")" 200
finish
