#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# callgrind.sh CONDUIT [h2c|grpc|h1] [N] - instructions per request through
# one proxy, counted by callgrind: repeatable where the shared machine's
# CPU times are not. One `conduit proxy` (explicit inbound forward) under
# valgrind --tool=callgrind between h2load and an origin (nghttpd, or
# build/test/grpc-peer for grpc, nginx for h1: h2load --h1 -c16,
# keep-alive); a warm-up of 2000 requests is not
# counted (collection is switched on with callgrind_control after it),
# then N requests (default 20000; -c16 -m10 as in `make bench`) are. Prints
# Ir (instructions) per request, the malloc/free calls per request and the
# top functions (inclusive and self); keeps callgrind.out in
# build/bench/callgrind-MODE/ (callgrind_annotate --tree=caller FILE shows
# who calls what). Use the dynamic build (build/conduit, -O2 -g), or a
# static one linked without strip for nghttp2's own symbols. Kernel time
# is not counted: syscalls per request are strace -c's to tell. Loopback
# only; every process stopped by PID.
set -euo pipefail
conduit=$(realpath "$1") mode=${2:-h2c} n=${3:-20000}
out=build/bench/callgrind-$mode
mkdir -p "$out"
rm -f "$out"/callgrind.out*
. "$(dirname "$0")/lib.sh" cg
P0=$(port) P1=$(port) ADM=$(port)
path=/index.html
load=(h2load -c16 -m10 -t1)
case $mode in
h2c)
	nghttpd --no-tls -a 127.0.0.1 -d "$work/www" "$P0" >/dev/null 2>&1 & ;;
grpc)
	"$(dirname "$conduit")/test/grpc-peer" serve "127.0.0.1:$P0" >/dev/null 2>&1 &
	printf '\0\0\0\0\x0d\x0a\x0bhello world' >"$work/req"
	path=/conduit.test.Echo/Unary
	load+=(-d "$work/req" -H 'content-type: application/grpc' -H 'te: trailers') ;;
h1)
	cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000;
  server { listen 127.0.0.1:$P0; root $work/www; } }
EOF
	PATH=$PATH:/usr/sbin nginx -p "$work" -c "$work/nginx.conf" >/dev/null 2>&1 &
	load=(h2load --h1 -c16 -m1 -t1) ;;
*) echo "callgrind.sh: unknown mode \"$mode\"" >&2; exit 2 ;;
esac
pids+=($!)
valgrind --tool=callgrind --instr-atstart=no --compress-strings=no --callgrind-out-file="$out/callgrind.out" \
	"$conduit" proxy --log warn --inbound-listen-addr "127.0.0.1:$P1" \
	--inbound-forward "127.0.0.1:$P0" --outbound-listen-addr "127.0.0.1:$(port)" \
	--admin-listen-addr "127.0.0.1:$ADM" --control-listen-addr "127.0.0.1:$(port)" \
	>"$work/conduit.log" 2>&1 &
cpid=$!
pids+=($cpid)
wait_port "$P0" 400
wait_port "$ADM" 400
"${load[@]}" -n 2000 "http://127.0.0.1:$P1$path" >"$out/warmup.txt" 2>&1
callgrind_control -i on "$cpid" >/dev/null 2>&1
"${load[@]}" -n "$n" "http://127.0.0.1:$P1$path" >"$out/load.txt" 2>&1
callgrind_control -i off "$cpid" >/dev/null 2>&1
kill "$cpid"
wait "$cpid" 2>/dev/null || true
ok=$(awk '/^requests:/ {print $8}' "$out/load.txt")
f=$(ls "$out"/callgrind.out* | head -n 1)
ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
calls() { # calls of a function, from the call lines of its callers
	awk -v fn="$1" '$0 == "cfn=" fn {want=1; next}
		want && /^calls=/ {split($1, a, "="); s += a[2]; want=0} END {print s + 0}' "$f"
}
per() { awk -v a="$1" -v n="$n" 'BEGIN {printf "%.2f", a / n}'; }
{
	echo "## $mode: $n requests ($ok succeeded), callgrind"
	echo "Ir per request: $((ir / n)) (total $ir)"
	echo "calls per request: malloc $(per "$(calls malloc)"), calloc $(per "$(calls calloc)")," \
		"realloc $(per "$(calls realloc)"), free $(per "$(calls free)") (free(NULL) included)"
	echo
	echo "### inclusive"
	callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '/^Ir/,$p' | head -40
	echo
	echo "### self"
	callgrind_annotate "$f" 2>/dev/null | sed -n '/^Ir/,$p' | head -40
} | tee "$out/report.txt"
