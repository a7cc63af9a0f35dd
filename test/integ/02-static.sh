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
