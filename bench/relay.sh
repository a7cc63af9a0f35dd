#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# relay.sh CONDUIT OUT.md [l4|h2] - the proxy beside HAProxy, h2load (h2c)
# against nghttpd, direct, through `conduit proxy` and through haproxy:
#   l4  conduit relays opaque TCP (detection off for the origin's port),
#       haproxy in `mode tcp`
#   h2  conduit's HTTP/2 handler (streams over a pooled upstream
#       connection), haproxy in `mode http` with h2 on both sides
# requests/s, proxy CPU microseconds per request (from
# /proc/PID/schedstat, the number that survives a noisy machine), proxy RSS after
# start and peak. Client and origin on CPU 0, the proxy on CPU 1; runs
# interleaved; loopback only; every process stopped by PID.
set -euo pipefail
conduit=$1 out=$2 mode=${3:-l4}
REPS=${REPS:-5} N=${N:-100000}
[ -n "${BENCH_QUICK:-}" ] && REPS=3 N=30000
work=$(mktemp -d -t conduit-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# time on CPU, ns (schedstat: finer than /proc/PID/stat's clock ticks)
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

mkdir -p "$work/www"
printf 'hello world\n' >"$work/www/index.html"
P0=$(port); P1=$(port); P2=$(port)
taskset -c 0 nghttpd --no-tls -d "$work/www" "$P0" >/dev/null 2>&1 &
pids+=($!)
taskset -c 1 "$conduit" proxy --inbound-listen-addr "127.0.0.1:$P1" \
	--inbound-forward "127.0.0.1:$P0" --outbound-listen-addr "127.0.0.1:$(port)" \
	--admin-listen-addr "127.0.0.1:$(port)" --control-listen-addr "127.0.0.1:$(port)" \
	$([ "$mode" = l4 ] && echo --inbound-ports-disable-protocol-detection "$P0") \
	--log warn >"$work/conduit.log" 2>&1 &
pids+=($!)
cpid=$!
cat >"$work/haproxy.cfg" <<CFG
global
	nbthread 1
defaults
	mode $([ "$mode" = l4 ] && echo tcp || echo http)
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend fe
	bind 127.0.0.1:$P2 $([ "$mode" = h2 ] && echo proto h2)
	default_backend be
backend be
	server origin 127.0.0.1:$P0 $([ "$mode" = h2 ] && echo proto h2)
CFG
taskset -c 1 haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
hpid=$!
for p in "$P0" "$P1" "$P2"; do wait_port "$p"; done
sleep 0.3
rss_conduit=$(kib "$cpid" VmRSS) rss_haproxy=$(kib "$hpid" VmRSS)

declare -A rps cpu
for rep in $(seq 1 "$REPS"); do
	for cfg in direct conduit haproxy; do
		case $cfg in
		direct) p=$P0 pid= ;;
		conduit) p=$P1 pid=$cpid ;;
		haproxy) p=$P2 pid=$hpid ;;
		esac
		t0=0; [ -n "$pid" ] && t0=$(cpu_ns "$pid")
		r=$(taskset -c 0 h2load -n "$N" -c 16 -m 10 -t 1 "http://127.0.0.1:$p/index.html" 2>&1 |
			awk '/^finished in/ {gsub(",", ""); print $4}')
		done_n=$N
		us=-
		if [ -n "$pid" ]; then
			t1=$(cpu_ns "$pid")
			us=$(awk -v d=$((t1 - t0)) -v n="$done_n" 'BEGIN {printf "%.2f", d / 1e3 / n}')
		fi
		rps[$cfg]+="$r "
		cpu[$cfg]+="$us "
	done
done
med() { tr ' ' '\n' | grep -v '^$' | grep -v '^-$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) {print "-"; exit} m=a[int((NR+1)/2)]; printf "%s [%s-%s]", m, a[1], a[NR]}'; }
first() { echo "$1" | awk '{print $1}'; }
direct_med=$(echo "${rps[direct]}" | med | awk '{print $1}')
{
	if [ "$mode" = l4 ]; then
		echo "### The proxy as an L4 relay (h2c through opaque TCP), $REPS runs of $N requests, -c16 -m10"
	else
		echo "### The proxy's HTTP/2 handler (h2c streams over pooled upstream connections; haproxy mode http, h2 both sides), $REPS runs of $N requests, -c16 -m10"
	fi
	echo
	echo "| config | req/s | vs direct | proxy CPU us/req | RSS after start | peak RSS |"
	echo "|---|---|---|---|---|---|"
	for cfg in direct conduit haproxy; do
		m=$(echo "${rps[$cfg]}" | med)
		ratio=$(awk -v a="$(first "$m")" -v b="$direct_med" 'BEGIN {printf "%.2fx", a / b}')
		case $cfg in
		direct) rss=- peak=- ;;
		conduit) rss="$rss_conduit KiB" peak="$(kib "$cpid" VmHWM) KiB" ;;
		haproxy) rss="$rss_haproxy KiB" peak="$(kib "$hpid" VmHWM) KiB" ;;
		esac
		echo "| $cfg | $m | $ratio | $(echo "${cpu[$cfg]}" | med) | $rss | $peak |"
	done
	echo
	echo "haproxy: $(haproxy -v 2>/dev/null | head -n 1); client and origin on CPU 0, proxies on CPU 1."
} >>"$out"
