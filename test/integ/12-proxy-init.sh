#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 12-proxy-init: `conduit proxy-init` programs nf_tables over netlink in pod
# network namespaces. Debian's nft is the oracle (never used by conduit):
# the rules it lists, --simulate fed to `nft -f`, rerun, --cleanup and
# --verify; then real TCP: an outbound connection redirected to the proxy
# port where SO_ORIGINAL_DST gives the original address back, inbound the
# same, and the exceptions (the proxy's UID, loopback, ignored ports and
# subnets). Bad input and missing privileges: one line, non-zero, nothing
# left behind. Needs root; skips with the reason otherwise.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pods.sh"

PY=/usr/bin/python3
HINT="Run 'conduit proxy-init --help' for usage."

# one_line_error DESC REGEX: stderr ($ERR) is one error line matching
# REGEX, followed at most by the flag parser's --help hint
one_line_error() {
	local first rest
	first=$(printf '%s\n' "$ERR" | head -n 1)
	rest=$(printf '%s\n' "$ERR" | tail -n +2 | grep -vxF "$HINT")
	if printf '%s\n' "$first" | grep -Eq -- "$2" && [ -z "$rest" ]; then
		ok "$1"
	else
		not_ok "$1 (want one line matching /$2/)"
		printf '%s\n' "$ERR" | head -n 5 | sed 's/^/#   /'
	fi
}

# --- bad input: the messages (no root needed) -------------------------------
# bad_input CODE DESC REGEX ARGS...: exit CODE, one error line; with pods,
# run inside the pod "bad" and check that nothing was installed there
bad_input() {
	local code=$1 desc=$2 re=$3
	shift 3
	if [ "${HAVE_PODS:-0}" = 1 ]; then
		expect_exit "$code" "$desc: exit $code" pod_exec bad "$CONDUIT" proxy-init "$@"
		one_line_error "$desc: one line" "$re"
		expect_eq "$desc: no rules left behind" "$(pod_exec bad nft list ruleset)" ""
	else
		expect_exit "$code" "$desc: exit $code" "$CONDUIT" proxy-init "$@"
		one_line_error "$desc: one line" "$re"
	fi
}

run_bad_inputs() {
	bad_input 2 "unknown flag" '^conduit proxy-init: unknown flag: --bogus$' --bogus
	bad_input 2 "bad port" \
		'^conduit proxy-init: invalid value "25,70000" for flag --outbound-ports-to-ignore: port 70000 out of range 1-65535$' \
		--outbound-ports-to-ignore 25,70000
	bad_input 2 "bad range" \
		'invalid value "4450-4444" for flag --inbound-ports-to-ignore: bad port range "4450-4444": 4450 > 4444$' \
		--inbound-ports-to-ignore 4450-4444
	bad_input 2 "bad CIDR" \
		'invalid value "10.0.0.0/33" for flag --subnets-to-ignore: bad CIDR "10.0.0.0/33": prefix length 33 > 32$' \
		--subnets-to-ignore 10.0.0.0/33
	bad_input 2 "bad proxy port" \
		'invalid value "0" for flag --incoming-proxy-port: out of range 1-65535$' \
		--incoming-proxy-port 0
	bad_input 2 "two modes" 'exclude each other$' --cleanup --verify
	bad_input 1 "missing --netns" \
		'^conduit proxy-init: --netns /nonexistent/netns: No such file or directory \(ENOENT\)$' \
		--netns /nonexistent/netns
}

if ! pods_init; then
	run_bad_inputs
	skip "proxy-init in pod namespaces" "$POD_SKIP"
	finish
fi
if ! command -v nft >/dev/null; then
	run_bad_inputs
	skip "proxy-init in pod namespaces" "no nft to check the rules with (package nftables)"
	finish
fi
HAVE_PODS=1
pod_create bad
run_bad_inputs

# --- a real run, rerun, --simulate, --verify -----------------------------------
pod_create client "$POD_NET.2"
pod_create server "$POD_NET.3"
pod_create ignored "$POD_NET.4"
pod_create meshed "$POD_NET.5"
pod_create fresh
CLIENT=$(pod_ip client)
SERVER=$(pod_ip server)
IGNORED=$(pod_ip ignored)
MESHED=$(pod_ip meshed)
FLAGS=(--ipv6 --inbound-ports-to-ignore 7777 --outbound-ports-to-ignore 9090,6000-6010
       --subnets-to-ignore "$IGNORED/32,fd77::/16")

before=$(pod_exec client nft list ruleset)
run "$CONDUIT" proxy-init --simulate "${FLAGS[@]}"
expect_eq "--simulate exits 0" "$RC" 0
SIM=$OUT
check "a run installs the rules" pod_exec client "$CONDUIT" proxy-init "${FLAGS[@]}"
expect_match "it says what it installed" "$OUT" '^proxy-init: installed 22 rules in table conduit_proxy_init \(ip and ip6\)'
first=$(pod_exec client nft list ruleset)
expect_match "table ip is there" "$first" '^table ip conduit_proxy_init \{$'
expect_match "table ip6 is there" "$first" '^table ip6 conduit_proxy_init \{$'
expect_match "chain PROXY_INIT_REDIRECT: nat prerouting dstnat" "$first" \
	'^	chain PROXY_INIT_REDIRECT \{$'
expect_match "its hook" "$first" \
	'^		type nat hook prerouting priority dstnat; policy accept;$'
expect_match "chain PROXY_INIT_OUTPUT: nat output -100" "$first" \
	'^		type nat hook output priority -100; policy accept;$'
missing=""
ncomments=0
while read -r c; do
	ncomments=$((ncomments + 1))
	n_sim=$(grep -cF "$c" <<<"$SIM")
	n_got=$(grep -cF "$c" <<<"$first")
	[ "$n_sim" = "$n_got" ] || missing+=" $c"
done < <(grep -o 'comment "[^"]*"' <<<"$SIM" | sort -u)
expect_eq "nft lists every rule comment ($ncomments)" "$missing" ""
expect_match "comments name why: the proxy UID" "$first" \
	'meta skuid 2102 return comment "proxy-init/ignore-uid"$'
expect_match "comments name why: ignored subnet" "$first" \
	"ip daddr $IGNORED return comment \"proxy-init/ignore-outbound-subnet-$IGNORED/32\"$"

check "a rerun exits 0" pod_exec client "$CONDUIT" proxy-init "${FLAGS[@]}"
second=$(pod_exec client nft list ruleset)
expect_eq "a rerun leaves the same ruleset" "$second" "$first"
expect_eq "one set of rules (one ip table, one ip6 table)" \
	"$(grep -c '^table ip6\? conduit_proxy_init {$' <<<"$second")" 2
expect_eq "one uid rule per family" "$(grep -c 'proxy-init/ignore-uid' <<<"$second")" 2

pod_exec fresh nft -f - <<<"$SIM"
expect_eq "nft -f of --simulate loads in a fresh namespace" "$?" 0
expect_eq "and nft lists the very same ruleset" "$(pod_exec fresh nft list ruleset)" "$first"
check "--verify passes on what nft -f loaded" pod_exec fresh "$CONDUIT" proxy-init --verify "${FLAGS[@]}"

check "--verify exits 0 after a run" pod_exec client "$CONDUIT" proxy-init --verify "${FLAGS[@]}"
expect_exit 1 "--verify fails with other flags" \
	pod_exec client "$CONDUIT" proxy-init --verify --ipv6 --outbound-ports-to-ignore 9090
handle=$(pod_exec client nft -a list chain ip conduit_proxy_init PROXY_INIT_OUTPUT |
	grep 'proxy-init/ignore-uid' | grep -o 'handle [0-9]*' | cut -d' ' -f2)
pod_exec client nft replace rule ip conduit_proxy_init PROXY_INIT_OUTPUT handle "$handle" \
	meta skuid 2103 return comment '"proxy-init/ignore-uid"'
expect_exit 1 "--verify fails after someone edits a rule with nft" \
	pod_exec client "$CONDUIT" proxy-init --verify "${FLAGS[@]}"
one_line_error "--verify names the rule" \
	'^conduit proxy-init: verify: chain ip PROXY_INIT_OUTPUT rule 1: is .*0x00000837.* want "meta skuid 2102 return"'
pod_exec client nft add rule ip6 conduit_proxy_init PROXY_INIT_REDIRECT counter
check "a rerun repairs it" pod_exec client "$CONDUIT" proxy-init "${FLAGS[@]}"
check "--verify passes again" pod_exec client "$CONDUIT" proxy-init --verify "${FLAGS[@]}"
pod_exec client nft add rule ip6 conduit_proxy_init PROXY_INIT_REDIRECT counter
expect_exit 1 "--verify fails on a rule someone added" \
	pod_exec client "$CONDUIT" proxy-init --verify "${FLAGS[@]}"
one_line_error "and names it" 'chain ip6 PROXY_INIT_REDIRECT rule [0-9]+: unexpected \[ counter \]$'
pod_exec client nft add table ip conduit_proxy_init '{ flags dormant; }'
expect_exit 1 "--verify fails when someone makes our table dormant" \
	pod_exec client "$CONDUIT" proxy-init --verify "${FLAGS[@]}"
one_line_error "and says so" 'table ip conduit_proxy_init: flags 0x1 \(dormant\), want 0x0$'
check "rerun" pod_exec client "$CONDUIT" proxy-init "${FLAGS[@]}"
check "--verify passes after the rerun" pod_exec client "$CONDUIT" proxy-init --verify "${FLAGS[@]}"

# --- real traffic --------------------------------------------------------------
# srv MODE PORT [HOST]: answers each connection with one line, MODE itself,
# or with MODE "orig" the connection's SO_ORIGINAL_DST ("orig=IP:PORT")
SRV='
import socket, struct, sys
mode, port = sys.argv[1], int(sys.argv[2])
host = sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(64)
while True:
    c, _ = s.accept()
    try:
        if mode == "orig":
            raw = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
            p, a = struct.unpack("!2xH4s8x", raw)
            msg = "orig=%s:%d" % (socket.inet_ntoa(a), p)
        else:
            msg = mode
        c.sendall((msg + "\n").encode())
    except OSError:
        pass
    c.close()
'
# cli HOST PORT: connect, print the line the server sends
CLI='
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(s.makefile().readline().strip())
except OSError as e:
    print("ERR %s" % e)
    sys.exit(1)
'
pod_spawn client orig4140 "$PY" -c "$SRV" orig 4140 127.0.0.1
pod_spawn client local8081 "$PY" -c "$SRV" local 8081
for p in 8080 9090 6005; do
	pod_spawn server "server$p" "$PY" -c "$SRV" "server-$p" "$p"
done
pod_spawn ignored ignored8080 "$PY" -c "$SRV" ignored-8080 8080
pod_spawn meshed orig4143 "$PY" -c "$SRV" orig 4143
for p in 8080 4191 7777; do
	pod_spawn meshed "meshed$p" "$PY" -c "$SRV" "meshed-$p" "$p"
done
ready=1
for hp in client:127.0.0.1:4140 client:127.0.0.1:8081 server:127.0.0.1:8080 \
	server:127.0.0.1:9090 server:127.0.0.1:6005 ignored:127.0.0.1:8080 \
	meshed:127.0.0.1:4143 meshed:127.0.0.1:8080 meshed:127.0.0.1:4191 \
	meshed:127.0.0.1:7777; do
	IFS=: read -r pod h p <<<"$hp"
	pod_wait_port "$pod" "$h" "$p" || { ready=0; echo "# $hp never listened"; }
done
expect_eq "every listener is up" "$ready" 1
check "meshed pod: proxy-init (default flags, 7777 ignored)" \
	pod_exec meshed "$CONDUIT" proxy-init --inbound-ports-to-ignore 7777

run pod_exec client "$PY" -c "$CLI" "$SERVER" 8080
expect_eq "outbound TCP goes to port 4140, which sees the original destination" \
	"$OUT" "orig=$SERVER:8080"
run pod_exec_as 2102 client "$PY" -c "$CLI" "$SERVER" 8080
expect_eq "the proxy's UID 2102 is not redirected" "$OUT" "server-8080"
run pod_exec_as 2103 client "$PY" -c "$CLI" "$SERVER" 8080
expect_eq "another UID is" "$OUT" "orig=$SERVER:8080"
run pod_exec client "$PY" -c "$CLI" 127.0.0.1 8081
expect_eq "loopback traffic is not redirected" "$OUT" "local"
run pod_exec client "$PY" -c "$CLI" "$CLIENT" 8081
expect_eq "traffic to the pod's own address is not redirected (lo)" "$OUT" "local"
run pod_exec client "$PY" -c "$CLI" "$SERVER" 9090
expect_eq "an ignored outbound port bypasses the proxy" "$OUT" "server-9090"
run pod_exec client "$PY" -c "$CLI" "$SERVER" 6005
expect_eq "a port in an ignored range bypasses it" "$OUT" "server-6005"
run pod_exec client "$PY" -c "$CLI" "$IGNORED" 8080
expect_eq "an ignored subnet bypasses it" "$OUT" "ignored-8080"
run pod_exec server "$PY" -c "$CLI" "$MESHED" 8080
expect_eq "inbound TCP goes to port 4143, which sees the original destination" \
	"$OUT" "orig=$MESHED:8080"
run pod_exec server "$PY" -c "$CLI" "$MESHED" 4191
expect_eq "the proxy's admin port 4191 is never redirected" "$OUT" "meshed-4191"
run pod_exec server "$PY" -c "$CLI" "$MESHED" 7777
expect_eq "an ignored inbound port bypasses the proxy" "$OUT" "meshed-7777"

# --- cleanup ---------------------------------------------------------------------
check "--cleanup exits 0" pod_exec client "$CONDUIT" proxy-init --cleanup
expect_eq "--cleanup restores the original (empty) ruleset" \
	"$(pod_exec client nft list ruleset)" "$before"
check "--cleanup again is fine" pod_exec client "$CONDUIT" proxy-init --cleanup
expect_match "and says there was nothing" "$OUT" 'deleted 0 tables'
expect_exit 1 "--verify fails when nothing is installed" \
	pod_exec client "$CONDUIT" proxy-init --verify
one_line_error "and says so" 'verify: table ip conduit_proxy_init is missing$'

pod_create other
pod_exec other nft -f - <<'EOF'
table inet someone_else {
	chain out {
		type nat hook output priority 50; policy accept;
		tcp dport 1234 counter redirect to :4321 comment "theirs"
	}
}
table ip conduit_proxy_init_x {
}
EOF
orig=$(pod_exec other nft list ruleset)
theirs=$(pod_exec other nft list table inet someone_else)
check "a run beside someone else's tables" pod_exec other "$CONDUIT" proxy-init --ipv6
expect_eq "their table is untouched" "$(pod_exec other nft list table inet someone_else)" "$theirs"
expect_match "ours is there too" "$(pod_exec other nft list tables)" '^table ip6 conduit_proxy_init$'
check "a run without --ipv6 drops our stale ip6 table" pod_exec other "$CONDUIT" proxy-init
expect_eq "only our ip table left" \
	"$(pod_exec other nft list tables | grep -c 'conduit_proxy_init$')" 1
check "--verify passes" pod_exec other "$CONDUIT" proxy-init --verify
check "--cleanup beside someone else's tables" pod_exec other "$CONDUIT" proxy-init --cleanup
expect_eq "--cleanup restores the ruleset byte for byte" \
	"$(pod_exec other nft list ruleset)" "$orig"

# --- privileges, namespaces ----------------------------------------------------
NOCAP=(setpriv --inh-caps=-all --bounding-set=-net_admin)
expect_exit 1 "no CAP_NET_ADMIN: exit 1" pod_exec bad "${NOCAP[@]}" "$CONDUIT" proxy-init
one_line_error "no CAP_NET_ADMIN: one line naming it and the errno" \
	'^conduit proxy-init: .*: Operation not permitted \(EPERM\): CAP_NET_ADMIN is missing'
expect_exit 1 "no CAP_NET_ADMIN, --ipv6: exit 1" \
	pod_exec bad "${NOCAP[@]}" "$CONDUIT" proxy-init --ipv6
one_line_error "--ipv6: one line" '\(EPERM\): CAP_NET_ADMIN is missing'
expect_exit 1 "no CAP_NET_ADMIN, --cleanup: exit 1" \
	pod_exec bad "${NOCAP[@]}" "$CONDUIT" proxy-init --cleanup
expect_exit 1 "no CAP_NET_ADMIN, --verify: exit 1" \
	pod_exec bad "${NOCAP[@]}" "$CONDUIT" proxy-init --verify
expect_eq "no CAP_NET_ADMIN: nothing left behind" "$(pod_exec bad nft list ruleset)" ""
run pod_exec bad "${NOCAP[@]}" "$CONDUIT" proxy-init --simulate
expect_match "--simulate needs no privilege" "$RC $OUT" '^0 table ip conduit_proxy_init'

pod_create hop
check "--netns enters another namespace" \
	pod_exec hop "$CONDUIT" proxy-init --netns "$(pod_netns_path bad)"
expect_match "the rules are in that namespace" "$(pod_exec bad nft list tables)" \
	'^table ip conduit_proxy_init$'
expect_eq "and not in the one it started in" "$(pod_exec hop nft list ruleset)" ""
check "--netns --verify" pod_exec hop "$CONDUIT" proxy-init --verify --netns "$(pod_netns_path bad)"
check "--netns --cleanup" pod_exec hop "$CONDUIT" proxy-init --cleanup --netns "$(pod_netns_path bad)"
expect_eq "cleaned up there" "$(pod_exec bad nft list ruleset)" ""
expect_exit 1 "--netns to a file that is not a namespace" \
	pod_exec hop "$CONDUIT" proxy-init --netns /etc/passwd
one_line_error "says so in one line" 'setns: Invalid argument \(EINVAL\): not a network namespace$'

# --- FROM scratch in miniature: the static binary alone in an empty root -------
if [ -z "$CONDUIT_STATIC" ] || [ ! -x "$CONDUIT_STATIC" ]; then
	skip "static binary in an empty root" "no CONDUIT_STATIC given (make static)"
else
	pod_create jail
	pod_create jail_ref
	root=$TMP/root
	mkdir -p "$root"
	cp "$CONDUIT_STATIC" "$root/conduit"
	expect_eq "the root holds only the binary" "$(ls -A "$root")" conduit
	check "chroot: proxy-init in a pod namespace" \
		pod_exec jail chroot "$root" /conduit proxy-init --subnets-to-ignore 10.0.0.0/8
	"$CONDUIT" proxy-init --simulate --subnets-to-ignore 10.0.0.0/8 | pod_exec jail_ref nft -f -
	expect_eq "chroot: the same ruleset as nft -f of --simulate" \
		"$(pod_exec jail nft list ruleset)" "$(pod_exec jail_ref nft list ruleset)"
	check "chroot: --verify" pod_exec jail chroot "$root" /conduit proxy-init --verify \
		--subnets-to-ignore 10.0.0.0/8
	check "chroot: --cleanup" pod_exec jail chroot "$root" /conduit proxy-init --cleanup
	expect_eq "chroot: nothing left" "$(pod_exec jail nft list ruleset)" ""
fi
finish
