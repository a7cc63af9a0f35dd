#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# profile.sh CONDUIT [h2c|h1|grpc] [SECS] - where the proxy's time goes at
# saturation: one `conduit proxy` (explicit inbound forward) between h2load
# (or wrk) and an origin, everything pinned to one CPU as in `make bench`,
# sampled with `perf record -e cpu-clock` (this VM has no hardware
# counters) for SECS seconds. Prints the top symbols (self time), the split
# by DSO and by user/kernel; keeps perf.data in build/bench/profile-MODE/.
# Use the dynamic build (build/conduit, -O2 -g): the static one is
# stripped. Loopback only; every process stopped by PID.
# Env: BENCH_CPU (default 1), PERF_F (sampling Hz, default 4000), PERF_G
# (perf's call-graph flags, default -g; "--call-graph dwarf,16384" for
# callers through code built without frame pointers).
set -euo pipefail
conduit=$(realpath "$1") mode=${2:-h2c} secs=${3:-8}
cpu=${BENCH_CPU:-1}
out=build/bench/profile-$mode
mkdir -p "$out"
. "$(dirname "$0")/lib.sh" profile
P0=$(port) P1=$(port) ADM=$(port)
path=/index.html
load=()
case $mode in
h2c)
	taskset -c "$cpu" nghttpd --no-tls -a 127.0.0.1 -d "$work/www" "$P0" >/dev/null 2>&1 &
	load=(h2load -D "$((secs + 2))" -c16 -m10 -t1) ;;
grpc)
	taskset -c "$cpu" "$(dirname "$conduit")/test/grpc-peer" serve "127.0.0.1:$P0" >/dev/null 2>&1 &
	printf '\0\0\0\0\x0d\x0a\x0bhello world' >"$work/req"
	path=/conduit.test.Echo/Unary
	load=(h2load -D "$((secs + 2))" -c16 -m10 -t1 -d "$work/req"
		-H 'content-type: application/grpc' -H 'te: trailers') ;;
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
	taskset -c "$cpu" nginx -p "$work" -c "$work/nginx.conf" >/dev/null 2>&1 &
	load=(wrk -t1 -c64 -d "$((secs + 2))s") ;;
*) echo "profile.sh: unknown mode \"$mode\"" >&2; exit 2 ;;
esac
pids+=($!)
taskset -c "$cpu" "$conduit" proxy --log warn --inbound-listen-addr "127.0.0.1:$P1" \
	--inbound-forward "127.0.0.1:$P0" --outbound-listen-addr "127.0.0.1:$(port)" \
	--admin-listen-addr "127.0.0.1:$ADM" --control-listen-addr "127.0.0.1:$(port)" \
	>"$work/conduit.log" 2>&1 &
pids+=($!)
cpid=$!
wait_port "$P0"
wait_port "$ADM"
taskset -c "$cpu" "${load[@]}" "http://127.0.0.1:$P1$path" >"$out/load.txt" 2>&1 &
pids+=($!)
lpid=$!
sleep 1
# shellcheck disable=SC2086 # PERF_G is a list of flags
perf record -q -e cpu-clock -F "${PERF_F:-4000}" ${PERF_G:--g} -p "$cpid" -o "$out/perf.data" -- sleep "$secs" \
	>/dev/null 2>&1
wait "$lpid" || true
{
	echo "## $mode: top symbols, self time (perf cpu-clock, $secs s at saturation)"
	perf report -i "$out/perf.data" --no-children --sort sym --percent-limit 0.7 \
		--stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -45
	echo
	echo "## by DSO"
	perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -12
	echo
	echo "## load"
	grep -E '^finished|^requests:|Requests/sec' "$out/load.txt" || true
} | tee "$out/report.txt"
