# SPDX-License-Identifier: Apache-2.0
# lib.sh - what bench/callgrind.sh and bench/profile.sh share: a work
# directory (removed at exit), the PIDs they started (stopped at exit),
# free loopback ports and waiting for a listener.
#   . "$(dirname "$0")/lib.sh" NAME   (work dir /tmp/conduit-NAME.XXXXXX)
work=$(mktemp -d -t "conduit-$1.XXXXXX")
chmod 755 "$work" # nginx's worker (www-data) reads www/
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
# port: a free loopback port
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT [TRIES]: until 127.0.0.1:PORT accepts, 50 ms apart
wait_port() {
	for _ in $(seq 1 "${2:-100}"); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
mkdir -p "$work/www"
printf 'hello world\n' >"$work/www/index.html"
