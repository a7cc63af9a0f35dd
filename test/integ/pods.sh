# SPDX-License-Identifier: Apache-2.0
# pods.sh - pods in network namespaces for integration tests (root only).
# Source it after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/pods.sh"
#   pods_init || { skip "pods" "$POD_SKIP"; finish; }
#   pod_create client "$POD_NET.2"
#   pod_create server "$POD_NET.3"
#   pod_spawn server web /usr/bin/python3 -m http.server --bind 0.0.0.0 8080
#   pod_wait_port server 127.0.0.1 8080
#   pod_exec client curl -s "http://$(pod_ip server):8080/"
#   pod_exec_as 2102 client some-proxy       # as the proxy's UID and GID
#
# A pod is a network namespace with loopback up and one veth, eth0, whose
# other end is on a bridge. The bridge lives in a namespace of its own (the
# "switch"), so nothing is added to the host's namespace: no link, no
# route, no address, and the host's firewall never sees pod traffic. Names
# carry this shell's PID, so parallel runs do not collide; addresses are
# from POD_NET (10.77.X.0/24, X from the PID too), used only inside these
# namespaces. Everything is torn down at exit, even when the test fails:
# processes started with pod_spawn (by lib.sh's spawn, by PID), any other
# process still inside a pod (by PID, from `ip netns pids`), then the
# namespaces (deleting the switch deletes the bridge and the veths).

POD_PREFIX="cdt$$"
POD_NET="10.77.$(($$ % 250 + 1))"
POD_SWITCH="$POD_PREFIX-switch"
POD_BRIDGE="br0"
POD_SKIP=""
POD_NAMES=()
declare -A POD_IPS=()
_POD_READY=0

# pods_init: check that pods can be made here and create the switch.
# Returns 1 with the reason in POD_SKIP when they cannot (not root, no ip).
pods_init() {
	if [ "$(id -u)" != 0 ]; then
		POD_SKIP="needs root (network namespaces, veth, nf_tables)"
		return 1
	fi
	if ! command -v ip >/dev/null; then
		POD_SKIP="no ip command (package iproute2)"
		return 1
	fi
	on_exit pods_teardown
	if ! ip netns add "$POD_SWITCH" ||
		! ip -n "$POD_SWITCH" link add "$POD_BRIDGE" type bridge ||
		! ip -n "$POD_SWITCH" link set "$POD_BRIDGE" up; then
		POD_SKIP="cannot create a network namespace with a bridge"
		return 1
	fi
	_POD_READY=1
}

# pod_ns NAME: the pod's network namespace name (for ip netns exec, ip -n)
pod_ns() { echo "$POD_PREFIX-$1"; }

# pod_netns_path NAME: the namespace's file, for setns(2) users (--netns)
pod_netns_path() { echo "/var/run/netns/$POD_PREFIX-$1"; }

# pod_ip NAME: the pod's address
pod_ip() { echo "${POD_IPS[$1]}"; }

# pod_create NAME [IP]: a namespace with lo up; with IP, also eth0 on the
# bridge with IP/24. Without IP, an isolated namespace (loopback only).
pod_create() {
	local name=$1 ip=${2:-} ns idx
	ns=$(pod_ns "$name")
	[ "$_POD_READY" = 1 ] || { echo "pod_create: call pods_init first" >&2; return 1; }
	ip netns add "$ns" || return 1
	POD_NAMES+=("$name")
	ip -n "$ns" link set lo up || return 1
	[ -n "$ip" ] || return 0
	idx=${#POD_NAMES[@]}
	# the switch end is v<idx> (names are private to the switch namespace)
	ip -n "$POD_SWITCH" link add "v$idx" type veth peer name eth0 netns "$ns" &&
		ip -n "$POD_SWITCH" link set "v$idx" master "$POD_BRIDGE" &&
		ip -n "$POD_SWITCH" link set "v$idx" up &&
		ip -n "$ns" addr add "$ip/24" dev eth0 &&
		ip -n "$ns" link set eth0 up || return 1
	POD_IPS[$name]=$ip
}

# pod_exec NAME CMD...: run CMD in the pod (foreground)
pod_exec() {
	local ns
	ns=$(pod_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# pod_exec_as UID NAME CMD...: run CMD in the pod as UID (and GID UID),
# no supplementary groups: how the proxy runs
pod_exec_as() {
	local uid=$1 ns
	ns=$(pod_ns "$2")
	shift 2
	ip netns exec "$ns" setpriv --reuid "$uid" --regid "$uid" --clear-groups "$@"
}

# pod_spawn NAME LOG CMD...: start CMD in the pod in the background, output
# in $TMP/LOG.log; SPAWNED is its PID (ip netns exec execs CMD: same PID)
pod_spawn() {
	local ns
	ns=$(pod_ns "$1")
	shift
	local log=$1
	shift
	spawn "$log" ip netns exec "$ns" "$@"
}

# pod_wait_port NAME HOST PORT [SECONDS]: wait until something accepts
# HOST:PORT, connecting from inside the pod
pod_wait_port() {
	local ns secs=${4:-10} i
	ns=$(pod_ns "$1")
	for i in $(seq 1 $((secs * 20))); do
		if ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# pods_teardown: kill what still runs in the pods, delete every namespace
# (registered by pods_init; safe to call twice)
pods_teardown() {
	local name ns pid
	for name in "${POD_NAMES[@]}"; do
		ns=$(pod_ns "$name")
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for name in "${POD_NAMES[@]}"; do
		ip netns del "$(pod_ns "$name")" 2>/dev/null
	done
	ip netns del "$POD_SWITCH" 2>/dev/null
	POD_NAMES=()
	_POD_READY=0
	return 0
}
