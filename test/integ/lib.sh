# SPDX-License-Identifier: Apache-2.0
# lib.sh - helpers for integration tests. Source it from test/integ/NN-name.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   check "version prints the client" "$CONDUIT" version --client
#   finish
#
# Every check prints "ok - ..." or "not ok - ..."; finish prints
# "# NN-name: N passed, N failed[, N skipped]" and exits non-zero on a
# failure. Processes started with spawn are killed by PID at exit, even when
# the test fails; cleanups registered with on_exit run in reverse order.
# CONDUIT (the binary under test) and CONDUIT_STATIC come from the runner.

set -u
: "${CONDUIT:?CONDUIT must name the conduit binary under test}"
CONDUIT_STATIC=${CONDUIT_STATIC:-}
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d -t "conduit-$TEST_NAME.XXXXXX")
# other users (the proxy's UID 2102) must reach what tests put here
chmod 755 "$TMP"
PASS=0
FAIL=0
SKIP=0
PIDS=()
EXIT_HOOKS=()

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
skip() { SKIP=$((SKIP + 1)); echo "ok - # SKIP $1: $2"; }

# grpc_stubs DESC PROTO...: python stubs (messages and grpcio services) of
# proto/PROTO.proto into $TMP/py, checked as DESC, with net.proto and
# http_types.proto, which the project's protos import
grpc_stubs() {
	local desc=$1 root files=()
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../proto" && pwd)
	shift
	for f in "$@" net http_types; do files+=("$root/$f.proto"); done
	mkdir -p "$TMP/py"
	check "$desc" protoc -I "$root" --python_out="$TMP/py" --grpc_out="$TMP/py" \
		--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "${files[@]}"
}

# diag FILE...: show a file (indented) after a failure, bounded
diag() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "#   --- $f"
		head -c 4000 "$f" | sed 's/^/#   /'
	done
}

# on_exit CMD...: run at exit (after killing spawned processes)
on_exit() { EXIT_HOOKS+=("$*"); }

_cleanup() {
	local pid i
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${EXIT_HOOKS[$i]}" || true
	done
	# under make check-asan: a report from any process this test started
	# (its log) is a failure, even when the test's checks passed
	for i in "$TMP"/*.log; do
		[ -f "$i" ] || continue
		if grep -qE '^(==[0-9]+==ERROR: (Address|Leak)Sanitizer|.*runtime error: )' "$i"; then
			echo "not ok - sanitizer report in $(basename "$i")"
			grep -m 20 -E 'Sanitizer|runtime error|^    #[0-9]' "$i" | sed 's/^/#   /'
		fi
	done
	rm -rf "$TMP"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# run CMD...: run with output in $TMP/out and $TMP/err, exit code in RC
run() {
	"$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

# check DESC CMD...: ok when CMD exits 0
check() {
	local desc=$1
	shift
	run "$@"
	if [ "$RC" = 0 ]; then ok "$desc"; else
		not_ok "$desc (exit $RC)"
		diag "$TMP/out" "$TMP/err"
	fi
}

# expect_exit CODE DESC CMD...: ok when CMD exits with CODE
expect_exit() {
	local code=$1 desc=$2
	shift 2
	run "$@"
	if [ "$RC" = "$code" ]; then ok "$desc"; else
		not_ok "$desc (exit $RC, want $code)"
		diag "$TMP/out" "$TMP/err"
	fi
}

# expect_match DESC TEXT REGEX: ok when TEXT matches the extended REGEX
expect_match() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then ok "$1"; else
		not_ok "$1 (no match for /$3/)"
		printf '%s\n' "$2" | head -n 20 | sed 's/^/#   /'
	fi
}

# expect_eq DESC GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"
		echo "#   got:  $(printf '%q' "$2")"
		echo "#   want: $(printf '%q' "$3")"
	fi
}

# spawn NAME CMD...: start CMD in the background, output in $TMP/NAME.log;
# sets SPAWNED to its PID and remembers it for cleanup
spawn() {
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 </dev/null &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
}

# stop PID: TERM, wait up to 5 s, then KILL; returns the exit status
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# free_port: a TCP port nobody listens on now (the kernel picks it)
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port HOST PORT [SECONDS]: wait until something accepts there
wait_port() {
	local host=$1 port=$2 secs=${3:-10} i
	for i in $(seq 1 $((secs * 20))); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_until() {
	local secs=$1 i
	shift
	for i in $(seq 1 $((secs * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# conduit_any_user: a copy of the binary under test that any user can run
# (the checkout may sit in a directory only root can enter, as a CI clone
# under a mktemp -d does): for processes started as the proxy's UID
conduit_any_user() {
	[ -x "$TMP/conduit-any-user" ] || install -m 755 "$CONDUIT" "$TMP/conduit-any-user"
	echo "$TMP/conduit-any-user"
}

finish() {
	local extra=""
	[ "$SKIP" -gt 0 ] && extra=", $SKIP skipped"
	echo "# $TEST_NAME: $PASS passed, $FAIL failed$extra"
	[ "$FAIL" = 0 ]
	exit $?
}

# start_proxy NAME FORWARD [FLAGS...]: a `conduit proxy` on free loopback
# ports forwarding inbound to FORWARD (log level $PROXY_LOG, default debug);
# sets <NAME>_IN, _OUT, _ADMIN, _CTL and _PID once its ports answer
start_proxy() {
	local name=$1 fwd=$2 in out adm ctl
	shift 2
	in=$(free_port) out=$(free_port) adm=$(free_port) ctl=$(free_port)
	spawn "$name" "$CONDUIT" proxy --log "${PROXY_LOG:-debug}" \
		--inbound-listen-addr "127.0.0.1:$in" \
		--outbound-listen-addr "127.0.0.1:$out" \
		--admin-listen-addr "127.0.0.1:$adm" \
		--control-listen-addr "127.0.0.1:$ctl" \
		--inbound-forward "$fwd" "$@"
	eval "${name}_IN=$in ${name}_OUT=$out ${name}_ADMIN=$adm ${name}_CTL=$ctl ${name}_PID=$SPAWNED"
	# /ready (listeners up), not a connect to the inbound port: that
	# would be counted in the proxy's metrics
	wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$adm/ready"
}

# ca_init DIR: where mkca makes its files
ca_init() { CA_DIR=$1; mkdir -p "$CA_DIR"; }

# mkca NAME SUBJECT DAYS SIGNER: an ECDSA P-256 CA, NAME.key and NAME.crt
# in $CA_DIR, self-signed (SIGNER "self") or an intermediate (pathlen 0)
# signed by SIGNER.crt/.key, by openssl
mkca() (
	cd "$CA_DIR" || exit 1
	openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
	printf 'basicConstraints=critical,CA:TRUE%s\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' \
		"$([ "$4" = self ] || echo ,pathlen:0)" >"$1.ext"
	if [ "$4" = self ]; then
		openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days "$3" \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign -out "$1.crt" 2>/dev/null
	else
		openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null &&
			openssl x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" -CAcreateserial \
				-days "$3" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	fi
)

# hwm_kib PID: the process's peak resident memory (VmHWM) in KiB
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# stat_cluster DIR: a local-mode cluster directory for the stats tests:
# namespace demo, Service server-svc (port 80 -> the pods' "http" port)
# selecting app=server; add pods with stat_pod
stat_cluster() {
	mkdir -p "$1"
	cat >"$1/svc.yml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: server-svc, namespace: demo}
spec: {selector: {app: server}, ports: [{port: 80, targetPort: http}]}
EOF
}

# stat_pod DIR NAME DEPLOYMENT IP APP_PORT ADMIN_PORT: a running, meshed
# pod of namespace demo owned by DEPLOYMENT (through its ReplicaSet)
stat_pod() {
	cat >"$1/$2.yml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $2
  namespace: demo
  labels: {app: $3}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: $3-rs, controller: true, uid: "1"}]
spec:
  containers:
  - {name: app, ports: [{name: http, containerPort: $5}]}
  - {name: conduit-proxy, ports: [{name: conduit-admin, containerPort: $6}]}
status: {phase: Running, podIP: $4, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: $3-rs
  namespace: demo
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: $3, controller: true, uid: "2"}]
EOF
}

# rss_bound KIB: KIB, or 4x that when $CONDUIT is built with AddressSanitizer
# (its shadow memory and quarantine inflate RSS; the bound is about leaks
# and buffering, which ASan would not hide)
rss_bound() {
	if grep -q __asan_init "$CONDUIT" 2>/dev/null; then
		echo $(($1 * 4))
	else
		echo "$1"
	fi
}
