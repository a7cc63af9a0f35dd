#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 49-prometheus: the Prometheus stats backend answers as the embedded one.
# The traffic of 47-stat (a client pod calls a server pod through both
# proxies; 80 x 200 and 20 x 500 after 25 ms) is scraped by a real
# Prometheus (Debian's, on a free loopback port, every 1s) and by the
# embedded scraper; two controllers over the same cluster directory, one
# of each, must give the same `stat deploy`, `stat svc`, `stat po`, `stat
# ns`, `stat au` and `edges`: the same counts, success rates, p50 buckets.
# Prometheus down: a one-line error and exit 1; garbage from it: a 502.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PEER="/usr/bin/python3 $HERE/stat_peer.py"
PROM=${PROMETHEUS:-/usr/bin/prometheus}
for tool in curl "$PROM"; do
	command -v "$tool" >/dev/null || { skip "prometheus tests" "$tool missing"; finish; }
done

C=$TMP/cluster
stat_cluster "$C"
SPORT=$(free_port) SADM=$(free_port) CADM=$(free_port)
stat_pod "$C" server-1 server 127.0.1.30 "$SPORT" "$SADM"
stat_pod "$C" client-1 client 127.0.1.31 1 "$CADM"

# Prometheus: both proxies' admin ports every second, with the target
# labels install's config gives them (namespace, pod, deployment)
PPORT=$(free_port)
PURL=http://127.0.0.1:$PPORT
mkdir -p "$TMP/prom-data"
cat >"$TMP/prometheus.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}
scrape_configs:
- job_name: conduit-proxy
  static_configs:
  - targets: ["127.0.1.30:$SADM"]
    labels: {namespace: demo, pod: server-1, deployment: server}
  - targets: ["127.0.1.31:$CADM"]
    labels: {namespace: demo, pod: client-1, deployment: client}
EOF
spawn prometheus "$PROM" --config.file="$TMP/prometheus.yml" \
	--storage.tsdb.path="$TMP/prom-data" --web.listen-address="127.0.0.1:$PPORT" \
	--log.level=warn
PROM_PID=$SPAWNED
if wait_until 30 curl -sf "$PURL/-/ready"; then ok "Prometheus is ready on $PURL"; else
	not_ok "Prometheus did not get ready"; diag "$TMP/prometheus.log"; finish; fi

spawn backend $PEER backend 127.0.2.30 "$SPORT" 25
wait_port 127.0.2.30 "$SPORT" 10
DPORT=$(free_port) API1PORT=$(free_port) A1ADM=$(free_port)
API2PORT=$(free_port) A2ADM=$(free_port)
API1=127.0.0.1:$API1PORT API2=127.0.0.1:$API2PORT
# the embedded backend (and discovery for the client proxy)
spawn ctl1 "$CONDUIT" controller --components destination,public-api \
	--cluster-dir "$C" --destination-addr "127.0.0.1:$DPORT" \
	--public-api-addr "$API1" --admin-addr "127.0.0.1:$A1ADM" --scrape-interval 500ms
# the Prometheus backend over the same cluster directory
spawn ctl2 "$CONDUIT" controller --components public-api \
	--cluster-dir "$C" --public-api-addr "$API2" --admin-addr "127.0.0.1:$A2ADM" \
	--prometheus-url "$PURL"
wait_until 10 curl -sf "http://127.0.0.1:$A1ADM/ready"
wait_until 10 curl -sf "http://127.0.0.1:$A2ADM/ready"
spawn sp "$CONDUIT" proxy --inbound-listen-addr "127.0.1.30:$SPORT" \
	--outbound-listen-addr "127.0.1.30:$(free_port)" --admin-listen-addr "127.0.1.30:$SADM" \
	--control-listen-addr "127.0.1.30:$(free_port)" --inbound-forward "127.0.2.30:$SPORT" \
	--pod-namespace demo --pod-name server-1 --workload-kind deployment --workload-name server
COUT=$(free_port)
spawn cp "$CONDUIT" proxy --inbound-listen-addr "127.0.1.31:$(free_port)" \
	--outbound-listen-addr "127.0.1.31:$COUT" --admin-listen-addr "127.0.1.31:$CADM" \
	--control-listen-addr "127.0.1.31:$(free_port)" --destination-svc-addr "127.0.0.1:$DPORT" \
	--pod-namespace demo --pod-name client-1 --workload-kind deployment --workload-name client
wait_until 10 curl -sf "http://127.0.1.30:$SADM/ready"
wait_until 10 curl -sf "http://127.0.1.31:$CADM/ready"

# pq QUERY: the first value of an instant query, or nothing
pq() {
	curl -s --max-time 5 -G "$PURL/api/v1/query" --data-urlencode "query=$1" |
		/usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
# both proxies scraped by both, before the traffic
if wait_until 20 sh -c "[ \"\$(curl -s --max-time 5 -G $PURL/api/v1/query --data-urlencode 'query=sum(up{job=\"conduit-proxy\"})' | grep -o '\"2\"')\" ]"; then
	ok "Prometheus scrapes both proxies"; else not_ok "Prometheus does not scrape both proxies"; fi
wait_until 10 sh -c "[ \"\$(curl -s http://127.0.0.1:$A1ADM/metrics | awk '\$1 == \"public_api_scrapes_total\" { print \$2 }')\" -ge 2 ]"

run $PEER load "127.0.1.31:$COUT" server-svc.demo.svc.cluster.local 80 20
expect_eq "80 x 200 and 20 x 500 through both proxies" "$OUT" "200 80
500 20"
# both backends have scraped after the traffic: Prometheus holds the 100
# on both sides, the embedded scraper has had two more rounds
have100() { [ "$(pq "sum(response_total{direction=\"$1\"})")" = 100 ]; }
if wait_until 20 have100 inbound && wait_until 20 have100 outbound; then
	ok "Prometheus has scraped all 100 on both sides"; else
	not_ok "Prometheus never saw the 100 requests"; diag "$TMP/prometheus.log"; fi
scrapes() { curl -s "http://127.0.0.1:$A1ADM/metrics" | awk '$1 == "public_api_scrapes_total" { print $2 }'; }
s0=$(scrapes)
wait_until 10 sh -c "[ \"\$(curl -s http://127.0.0.1:$A1ADM/metrics | awk '\$1 == \"public_api_scrapes_total\" { print \$2 }')\" -ge $((s0 + 4)) ]"

# field JSON NAME FIELD: one row's field of a stat -o json answer
field() { /usr/bin/python3 -c "import json,sys; rows=json.loads(sys.argv[1]); r=[x for x in rows if x['name']==sys.argv[2]]; print(r[0][sys.argv[3]] if r else 'missing')" "$1" "$2" "$3"; }
# bucket MS: the index of the latency bucket holding MS
bucket() { /usr/bin/python3 -c "
import sys
b=[1,2,3,4,5,10,20,30,40,50,100,200,300,400,500,1000,2000,3000,4000,5000,10000,20000,30000,40000,50000]
v=sys.argv[1]
print('none' if v=='None' else next((i for i,x in enumerate(b) if float(v)<=x), len(b)))" "$1"; }

# agree WHAT ROW ARGS...: `conduit stat ARGS -o json` from both backends
# give ROW the same requests, failures and success rate, the same p50
# bucket; sets E and P to the two answers
agree() {
	local what=$1 row=$2 f
	shift 2
	run "$CONDUIT" stat --api-addr "$API1" "$@" -o json
	E=$OUT
	run "$CONDUIT" stat --api-addr "$API2" "$@" -o json
	P=$OUT
	if [ "$RC" != 0 ]; then not_ok "$what: the Prometheus backend failed: $ERR"; return; fi
	for f in requests failures success_rate; do
		expect_eq "$what: $row's $f agree ($(field "$E" "$row" $f))" \
			"$(field "$P" "$row" $f)" "$(field "$E" "$row" $f)"
	done
	expect_eq "$what: $row's p50 in the same bucket ($(field "$E" "$row" latency_ms_p50) / $(field "$P" "$row" latency_ms_p50) ms)" \
		"$(bucket "$(field "$P" "$row" latency_ms_p50)")" "$(bucket "$(field "$E" "$row" latency_ms_p50)")"
}

agree "stat deploy" server deploy -n demo -t 1m
expect_eq "stat deploy: the embedded backend counts 100" "$(field "$E" server requests)" 100
expect_eq "stat deploy: success rate 0.8" "$(field "$P" server success_rate)" 0.8
p50=$(field "$P" server latency_ms_p50)
if /usr/bin/python3 -c "import sys; sys.exit(0 if 20 <= float(sys.argv[1]) <= 30 else 1)" "$p50"; then
	ok "Prometheus backend: p50 $p50 ms in the 20-30 ms bucket"; else not_ok "Prometheus backend: p50 $p50 ms, want 20..30"; fi
rps=$(field "$P" server rps)
if /usr/bin/python3 -c "import sys; r=float(sys.argv[1]); sys.exit(0 if 0 < r <= 100 else 1)" "$rps"; then
	ok "Prometheus backend: rps $rps"; else not_ok "Prometheus backend: rps $rps"; fi
expect_eq "the client received nothing: no success rate from either" \
	"$(field "$E" client success_rate)/$(field "$P" client success_rate)" "None/None"
expect_eq "both meshed, in both" \
	"$(field "$E" server meshed_pods)/$(field "$P" server meshed_pods)" "1/1"
echo "# rps: embedded $(field "$E" server rps) (over the span scraped), Prometheus $(field "$P" server rps) (over the window, as rate() reads)"
agree "stat svc" server-svc svc -n demo -t 1m
expect_eq "stat svc: the client's side of the 100" "$(field "$P" server-svc requests)" 100
agree "stat po" server-1 po -n demo -t 1m
agree "stat ns" demo ns -t 1m
agree "stat au" server-svc.demo.svc.cluster.local au -n demo -t 1m
agree "stat deploy over 10m" server deploy -n demo -t 10m

run "$CONDUIT" stat --api-addr "$API2" deploy -n demo -t 1m
expect_match "the table from Prometheus: server 80.00%" "$OUT" '^server +1/1 +80\.00% +[0-9.]+rps +[0-9.]+ms'
run "$CONDUIT" edges --api-addr "$API1" -n demo -t 1m
E=$OUT
run "$CONDUIT" edges --api-addr "$API2" -n demo -t 1m
expect_eq "edges: the same table" "$OUT" "$E"
expect_match "edges: client -> server" "$OUT" '^client +server +demo +demo +-$'
run "$CONDUIT" edges --api-addr "$API2" -n demo -t 1m -o json
expect_match "edges -o json: 100 requests" "$OUT" '"requests": *100'
run "$CONDUIT" stat --api-addr "$API2" deploy/nosuch -n demo
expect_match "a deployment that does not exist: not found" "$ERR" '^conduit stat: deployment/nosuch not found in namespace demo$'
run curl -s -w ' %{http_code}' "http://$API2/api/v1/stat?resource=deployment&window=banana"
expect_match "a bad window: 400 before asking Prometheus" "$OUT" '^\{"error":"invalid window \\"banana\\".*\} 400$'
run curl -s -w ' %{http_code}' "http://$API2/api/v1/stat?resource=deployment&namespace=de%22mo%5C"
expect_match "a namespace with quotes is a string, not PromQL: no rows" "$OUT" '"rows":\[\]\} 200$'

# something that is not Prometheus: 502
GPORT=$(free_port) A3ADM=$(free_port) API3PORT=$(free_port)
mkdir -p "$TMP/empty"
spawn garbage /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$TMP/empty" "$GPORT"
wait_port 127.0.0.1 "$GPORT" 10
spawn ctl3 "$CONDUIT" controller --components public-api --cluster-dir "$C" \
	--public-api-addr "127.0.0.1:$API3PORT" --admin-addr "127.0.0.1:$A3ADM" \
	--prometheus-url "http://127.0.0.1:$GPORT"
wait_until 10 curl -sf "http://127.0.0.1:$A3ADM/ready"
run curl -s -w ' %{http_code}' "http://127.0.0.1:$API3PORT/api/v1/stat?resource=deployment"
expect_match "not Prometheus: 502 with a JSON error naming it" "$OUT" "^\{\"error\":\"Prometheus at http://127.0.0.1:$GPORT answered 404: not JSON.*\} 502$"

# a Prometheus that accepts and never answers: a client that gives up
# first is forgotten (the queries cancelled), the next one gets a 503
SPORT2=$(free_port) A4ADM=$(free_port) API4PORT=$(free_port)
spawn silent /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True: held.append(s.accept())' "$SPORT2"
wait_port 127.0.0.1 "$SPORT2" 10
spawn ctl4 "$CONDUIT" controller --components public-api --cluster-dir "$C" \
	--public-api-addr "127.0.0.1:$API4PORT" --admin-addr "127.0.0.1:$A4ADM" \
	--prometheus-url "http://127.0.0.1:$SPORT2"
wait_until 10 curl -sf "http://127.0.0.1:$A4ADM/ready"
run curl -s --max-time 1 "http://127.0.0.1:$API4PORT/api/v1/stat?resource=deployment"
expect_eq "a silent Prometheus: the client gives up first" "$RC" 28
run curl -s --max-time 9 -w ' %{http_code}' "http://127.0.0.1:$API4PORT/api/v1/stat?resource=deployment"
expect_match "the next one: 503, Prometheus did not answer" "$OUT" "^\{\"error\":\"Prometheus at http://127.0.0.1:$SPORT2 did not answer in 5s\"\} 503$"
check "and the controller lives on" curl -sf "http://127.0.0.1:$A4ADM/live"

# Prometheus down: one line, exit 1
stop "$PROM_PID"
run "$CONDUIT" stat --api-addr "$API2" deploy -n demo
expect_eq "Prometheus down: exit 1" "$RC" 1
expect_match "saying which Prometheus" "$ERR" "^conduit stat: cannot reach Prometheus at $PURL: Connection refused$"
expect_eq "one line only" "$(printf '%s\n' "$ERR" | wc -l)" 1
run curl -s -w ' %{http_code}' "http://$API2/api/v1/edges?namespace=demo"
expect_match "edges: a 503" "$OUT" ' 503$'
run curl -s -w ' %{http_code}' "http://$API2/api/v1/pods?namespace=demo"
expect_match "the rest of the API does not need it" "$OUT" '"name":"server-1".* 200$'

expect_exit 2 "--prometheus-url https://: a usage error" \
	"$CONDUIT" controller --cluster-dir "$C" --prometheus-url https://127.0.0.1:9090
expect_match "saying there is no TLS" "$ERR" 'https is not supported'
finish
