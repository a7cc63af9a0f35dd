#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 01-symlink: busybox-style dispatch on basename(argv[0]), and --install.
. "$(dirname "$0")/lib.sh"

bin=$TMP/bin
mkdir -p "$bin"
run "$CONDUIT" --install "$bin"
expect_eq "--install DIR exits 0" "$RC" 0
for a in $("$CONDUIT" --list); do
	if [ -L "$bin/conduit-$a" ] && [ "$(readlink "$bin/conduit-$a")" = "$CONDUIT" ]; then
		ok "--install made conduit-$a -> the binary"
	else
		not_ok "--install made conduit-$a"
	fi
done
[ -L "$bin/proxy-init" ] && ok "--install made bare proxy-init" || not_ok "--install made bare proxy-init"

run "$bin/conduit-version" --client
expect_match "conduit-version runs the version applet" "$OUT" '^Client version: '

run "$bin/proxy-init" --help
expect_match "proxy-init symlink runs proxy-init" "$OUT" '^  conduit proxy-init'

ln -s "$CONDUIT" "$TMP/conduit-proxy"
run "$TMP/conduit-proxy" --help
expect_match "a hand-made conduit-proxy symlink runs proxy" "$OUT" '^  conduit proxy \['

ln -s "$CONDUIT" "$TMP/conduit"
run "$TMP/conduit" version --client
expect_match "a symlink named conduit dispatches on argv[1]" "$OUT" '^Client version: '

ln -s "$CONDUIT" "$TMP/some-other-name"
run "$TMP/some-other-name" version --client
expect_match "an unknown basename falls back to argv[1]" "$OUT" '^Client version: '

run "$CONDUIT" conduit-version
expect_eq "conduit-<applet> is a link name, not a command: exit 127" "$RC" 127

# re-running --install replaces our links; a regular file is never clobbered
run "$CONDUIT" --install "$bin"
expect_eq "--install is idempotent" "$RC" 0
rm "$bin/conduit-stat" && echo keep >"$bin/conduit-stat"
run "$CONDUIT" --install "$bin"
expect_eq "--install over a regular file fails" "$RC" 1
expect_match "--install names the file it kept" "$ERR" "conduit-stat exists and is not a symlink"
expect_eq "--install left the file alone" "$(cat "$bin/conduit-stat")" keep

run "$CONDUIT" --install "$TMP/nope"
expect_eq "--install into a missing dir fails" "$RC" 1
expect_match "--install names the missing dir" "$ERR" "nope is not a directory"

finish
