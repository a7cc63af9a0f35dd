#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 13-check: `conduit check` without a cluster says what is wrong, one
# check at a time, and exits 1: no kubeconfig at all; a kubeconfig whose
# server refuses; a server that never answers (bounded). Usage errors exit
# 2. (Against a real cluster: test/k8s/60-install.)
. "$(dirname "$0")/lib.sh"

run env -u KUBECONFIG HOME="$TMP" "$CONDUIT" check
expect_eq "no kubeconfig: exit 1" "$RC" 1
expect_match "the client check fails, saying why" "$OUT" \
	'^× can initialize the client$'
expect_match "with a hint" "$OUT" 'see: --kubeconfig FILE, or export KUBECONFIG'
expect_match "and the verdict" "$OUT" '^Status check results are ×$'

kcfg() { # SERVER: a kubeconfig for it
	cat >"$TMP/kubeconfig" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
EOC
}
kcfg "https://127.0.0.1:$(free_port)"
run "$CONDUIT" check --kubeconfig "$TMP/kubeconfig"
expect_eq "a server that refuses: exit 1" "$RC" 1
expect_match "the API check fails" "$OUT" '^× can query the Kubernetes API$'
expect_match "with the reason below it" "$OUT" \
	'^    GET /version: connect to 127\.0\.0\.1:[0-9]+: Connection refused$'
expect_eq "and no later section runs" "$(grep -c '^conduit-existence' <<<"$OUT")" 0

# a server that accepts and never answers: bounded by the request timeout
P=$(free_port)
spawn sink /usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $P)); s.listen(8); c = []
while True: c.append(s.accept()[0])"
wait_port 127.0.0.1 "$P" 10
kcfg "https://127.0.0.1:$P"
t0=$(date +%s)
run timeout 60 "$CONDUIT" check --kubeconfig "$TMP/kubeconfig"
expect_eq "a server that never answers: exit 1 (not a hang)" "$RC" 1
expect_match "the API check fails" "$OUT" '^× can query the Kubernetes API$'
if [ $(($(date +%s) - t0)) -le 30 ]; then ok "within the check's own bounds ($(($(date +%s) - t0)) s)"; else
	not_ok "took $(($(date +%s) - t0)) s"; fi
stop "$SPAWNED"

run "$CONDUIT" check -n demo
expect_eq "-n without --proxy: usage error, exit 2" "$RC" 2
run "$CONDUIT" check --wait=-1s
expect_eq "a negative --wait: exit 2" "$RC" 2
run "$CONDUIT" check --no-such-flag
expect_eq "an unknown flag: exit 2" "$RC" 2
finish
