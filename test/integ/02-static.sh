#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 02-static: the static binary runs alone in an empty root, as it will in a
# FROM-scratch image.
. "$(dirname "$0")/lib.sh"

if [ -z "$CONDUIT_STATIC" ] || [ ! -x "$CONDUIT_STATIC" ]; then
	skip "static binary" "no CONDUIT_STATIC given (make static)"
	finish
fi

run file -L "$CONDUIT_STATIC"
expect_match "file says statically linked" "$OUT" "statically linked"
run ldd "$CONDUIT_STATIC"
expect_match "ldd says not a dynamic executable" "$OUT$ERR" "not a dynamic executable"
echo "# static binary: $(stat -c %s "$CONDUIT_STATIC") bytes"

# the sidecar keeps resident only the code it runs: the static binary puts
# the proxy's code and read-only data first, in segments of their own
# (scripts/proxy-layout.ld), so the kernel, which maps the page cache around
# each fault, does not map the other applets. RssFile: the binary's pages
# mapped now (with every object in the default order: 92%).
adm=$(free_port)
spawn static-proxy "$CONDUIT_STATIC" proxy --log info --inbound-listen-addr 127.0.0.1:0 \
	--outbound-listen-addr 127.0.0.1:0 --admin-listen-addr "127.0.0.1:$adm" \
	--control-listen-addr 127.0.0.1:0 --inbound-forward 127.0.0.1:9
SP=$SPAWNED
# measured once it says it started, before any request
if wait_until 10 grep -q 'msg="proxy started"' "$TMP/static-proxy.log" && sleep 0.2; then
	file_kib=$(awk '/^RssFile:/ { print $2 }' "/proc/$SP/status")
	rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SP/status")
	size_kib=$(($(stat -c %s "$CONDUIT_STATIC") / 1024))
	curl -s -o /dev/null "http://127.0.0.1:$adm/metrics"
	echo "# static proxy once started: VmRSS $rss_kib KiB, of it the binary's pages $file_kib KiB (the binary: $size_kib KiB); after one /metrics: VmRSS $(awk '/^VmRSS:/ { print $2 }' "/proc/$SP/status") KiB"
	if [ "$file_kib" -lt $((size_kib * 3 / 4)) ]; then
		ok "the static proxy keeps less than 3/4 of the binary resident ($file_kib of $size_kib KiB)"
	else
		not_ok "the static proxy keeps $file_kib KiB of its $size_kib KiB binary resident"
	fi
else
	not_ok "the static proxy starts"; diag "$TMP/static-proxy.log"
fi
stop "$SP"

if ! is_root; then
	skip "chroot into an empty root" "needs root for chroot"
	finish
fi
root=$TMP/root
mkdir -p "$root"
cp "$CONDUIT_STATIC" "$root/conduit"
expect_eq "the empty root holds only the binary" "$(ls -A "$root")" conduit
run chroot "$root" /conduit version --client
expect_eq "chroot: version exits 0" "$RC" 0
expect_match "chroot: version prints the client" "$OUT" '^Client version: v'
run chroot "$root" /conduit --list
expect_match "chroot: --list works" "$OUT" '^proxy-init$'
run chroot "$root" /conduit version -o json
expect_match "chroot: version -o json (static cJSON)" "$OUT" '"clientVersion": "v'
# busybox-style install inside the root, without /proc
mkdir -p "$root/bin"
run chroot "$root" /conduit --install /bin
expect_eq "chroot: --install works without /proc" "$RC" 0
run chroot "$root" /bin/conduit-version --client
expect_match "chroot: a symlink dispatches" "$OUT" '^Client version: v'
finish
