#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 20-kube-client: the Kubernetes API client and informer (src/kube_*.c)
# against the real apiserver, through build/test/kube-watch (one JSON line
# per event, its counters and store on SIGUSR1): the store converges on a
# Deployment scaled 1 -> 5 -> 2 and pods deleted; watches that end resume
# without a re-list; a kube-apiserver restart mid-watch is survived; a
# forced 410 re-lists and emits only the real difference; a fault proxy
# (faultproxy.py) that cuts and stalls streams does not stop convergence; a
# ServiceAccount without rights and an untrusted CA give clear errors,
# never a crash.
. "$(dirname "$0")/lib.sh"

KW=${KUBE_WATCH:-$(dirname "$(dirname "$CONDUIT")")/test/kube-watch}
S=${CONDUIT_K8S_DIR:-/run/conduit-k8s}
API=10.245.0.1:6443
if [ ! -x "$KW" ]; then
	not_ok "build/test/kube-watch is missing ($KW): make build/test/kube-watch"
	finish
fi
new_ns || { not_ok "a namespace for the test"; finish; }

# --- helpers -------------------------------------------------------------------
# count LOG STRING: lines of LOG holding STRING
count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }

# kw_dump PID LOG: have kube-watch print its STATS and STORE lines, and
# wait until they are out
kw_dump() {
	local n
	n=$(count "$2" '"type":"STORE"')
	kill -USR1 "$1" 2>/dev/null || return 1
	wait_until 5 _more "$2" "$n"
}
_more() { [ "$(count "$1" '"type":"STORE"')" -gt "$2" ]; }

# kw_stat LOG KIND FIELD: a field of the last STATS line for KIND
kw_stat() {
	/usr/bin/python3 -c '
import json, sys
val = ""
for line in open(sys.argv[1]):
    if line.startswith("{"):
        j = json.loads(line)
        if j.get("type") == "STATS" and j.get("kind") == sys.argv[2]:
            val = j[sys.argv[3]]
print(str(val).lower() if isinstance(val, bool) else val)' "$@"
}

# kw_names LOG KIND: the objects of the last STORE line for KIND, sorted
kw_names() {
	/usr/bin/python3 -c '
import json, sys
names = []
for line in open(sys.argv[1]):
    if line.startswith("{"):
        j = json.loads(line)
        if j.get("type") == "STORE" and j.get("kind") == sys.argv[2]:
            names = j["objects"]
print("\n".join(sorted(names)))' "$@"
}

# kube_names KIND: what kubectl sees in the namespace, as ns/name lines
kube_names() {
	kc get "$1" -n "$NS" -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' |
		sort
}

# ready_is N: the Deployment has N ready replicas; pods_are N: N pods exist
ready_is() { [ "$(kc get deploy web -n "$NS" -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }
pods_are() { [ "$(kube_names pods | grep -c .)" = "$1" ]; }

# pod_events LOG TYPE: the pod names of TYPE events, one a line
pod_events() {
	grep -F "\"type\":\"$2\",\"kind\":\"Pod\"" "$1" | sed 's/.*"name":"\([^"]*\)".*/\1/'
}

# converged PID LOG: the informer's Pods and ReplicaSets are kubectl's
converged() {
	kw_dump "$1" "$2" &&
		[ "$(kw_names "$2" Pod)" = "$(kube_names pods)" ] &&
		[ "$(kw_names "$2" ReplicaSet)" = "$(kube_names replicasets)" ]
}

# expect_converged DESC PID LOG [SECONDS]
expect_converged() {
	if wait_until "${4:-60}" converged "$2" "$3"; then
		ok "$1 ($(kube_names pods | grep -c .) pods)"
	else
		not_ok "$1"
		echo "#   informer: $(kw_names "$3" Pod | tr '\n' ' ')"
		echo "#   kubectl:  $(kube_names pods | tr '\n' ' ')"
		tail -n 5 "$3" | cut -c1-300 | sed 's/^/#   /'
		return 1
	fi
}

# pod_events_total LOG: ADDED + MODIFIED + DELETED Pod events so far
pod_events_total() {
	echo $(($(kw_stat "$1" Pod added) + $(kw_stat "$1" Pod modified) + $(kw_stat "$1" Pod deleted)))
}

# restart_apiserver: stop kube-apiserver by its PID and start it again with
# the same command line, detached as the cluster script's launch does it
# (none of our descriptors, the suite's lock included, stays open in it);
# the cluster's pid file names the new one, so `cluster down` stops it
restart_apiserver() {
	local pid cmd=() i
	pid=$(cat "$S/pids/kube-apiserver.pid") || return 1
	mapfile -d '' cmd <"/proc/$pid/cmdline" || return 1
	[ "${#cmd[@]}" -gt 1 ] || return 1
	kill -TERM "$pid"
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec setsid "${cmd[@]}" >>"$S/logs/kube-apiserver.log" 2>&1 </dev/null
	) &
	echo $! >"$S/pids/kube-apiserver.pid"
	wait_until 60 kc get --raw /readyz
}

# --- a Deployment scaled 1 -> 5 -> 2, pods deleted ------------------------------
kapply web <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sleep, "3600"]
EOF
expect_eq "the Deployment applies" "$RC" 0

# HTTPS with the admin client certificate; watches of 4-6 s, so several
# end normally during the test and must resume without a re-list
spawn kw "$KW" -n "$NS" --watch-timeout 4-6 pods replicasets
KW_PID=$SPAWNED
KW_LOG=$TMP/kw.log
if wait_until 20 grep -q '"type":"SYNCED","kind":"Pod"' "$KW_LOG"; then
	ok "kube-watch lists and syncs over HTTPS with the admin client certificate"
else
	not_ok "kube-watch syncs"
	diag "$KW_LOG"
fi
expect_converged "1 replica: the store is what kubectl sees" "$KW_PID" "$KW_LOG"
kc scale deploy/web -n "$NS" --replicas=5 >/dev/null
expect_converged "scaled to 5: converged" "$KW_PID" "$KW_LOG"
wait_until 60 ready_is 5
kc scale deploy/web -n "$NS" --replicas=2 >/dev/null
# the terminating pods are in both views until they are gone: wait for that
wait_until 90 pods_are 2
expect_converged "scaled to 2, the others gone: converged" "$KW_PID" "$KW_LOG" 60
victim=$(kc get pods -n "$NS" -l app=web -o jsonpath='{.items[0].metadata.name}')
kc delete pod "$victim" -n "$NS" --wait=false >/dev/null
kc wait --for=delete "pod/$victim" -n "$NS" --timeout=60s >/dev/null 2>&1
expect_converged "a pod deleted (and replaced): converged" "$KW_PID" "$KW_LOG" 60
expect_eq "the deleted pod came as one DELETED event" \
	"$(pod_events "$KW_LOG" DELETED | grep -cx "$victim")" 1
added=$(pod_events "$KW_LOG" ADDED | grep -c .)
deleted=$(pod_events "$KW_LOG" DELETED | grep -c .)
expect_eq "ADDED - DELETED = the pods there are now" \
	"$((added - deleted))" "$(kube_names pods | grep -c .)"
expect_eq "no pod ADDED twice, none DELETED twice" \
	"$(pod_events "$KW_LOG" ADDED | sort | uniq -d)$(pod_events "$KW_LOG" DELETED | sort | uniq -d)" ""

# --- watches that end are resumed, not re-listed -------------------------------
sleep 7
kw_dump "$KW_PID" "$KW_LOG"
ends=$(kw_stat "$KW_LOG" Pod watch_ends)
if [ "${ends:-0}" -ge 1 ] && [ "$(kw_stat "$KW_LOG" Pod lists)" = 1 ] &&
	[ "$(kw_stat "$KW_LOG" Pod relists)" = 0 ]; then
	ok "$ends watches ended (timeoutSeconds) and resumed from their resourceVersion: 1 list, 0 re-lists"
else
	not_ok "watch ends resume without a list: watch_ends=$ends lists=$(kw_stat "$KW_LOG" Pod lists) relists=$(kw_stat "$KW_LOG" Pod relists)"
fi

# --- kube-apiserver restarted mid-watch ----------------------------------------
before_rc=$(kw_stat "$KW_LOG" Pod reconnects)
before_rl=$(kw_stat "$KW_LOG" Pod relists)
before_ev=$(pod_events_total "$KW_LOG")
t0=$(date +%s)
if restart_apiserver; then
	ok "kube-apiserver restarted mid-watch ($(($(date +%s) - t0)) s to /readyz)"
else
	not_ok "kube-apiserver restart"
fi
reconnected() {
	kw_dump "$KW_PID" "$KW_LOG" &&
		[ "$(kw_stat "$KW_LOG" Pod reconnects)" -gt "$before_rc" ] &&
		[ "$(kw_stat "$KW_LOG" Pod reconnects)" -gt "$before_rc" ]
}
wait_until 60 reconnected
sleep 8 # a watch (4-6 s) begun after the restart has ended and resumed
kw_dump "$KW_PID" "$KW_LOG"
after_rc=$(kw_stat "$KW_LOG" Pod reconnects)
after_rl=$(kw_stat "$KW_LOG" Pod relists)
if [ "$after_rc" -gt "$before_rc" ]; then
	ok "the informer reconnected after the restart ($((after_rc - before_rc)) retries with backoff)"
else
	not_ok "no reconnect after the restart (reconnects $before_rc -> $after_rc)"
fi
rl=$((after_rl - before_rl))
if [ "$rl" = 0 ]; then
	ok "it resumed the watch from its resourceVersion, no re-list"
elif [ "$rl" = 1 ]; then
	# the new apiserver's watch cache starts at etcd's revision of its
	# start: an older resourceVersion is 410 Gone, and with leases renewed
	# every 10 s it usually is older; then one re-list, and only one
	ok "the new watch cache said 410 (our resourceVersion predates it): exactly one re-list"
else
	not_ok "re-lists after the restart: $rl"
fi
expect_eq "the restart produced no event (the pods did not change)" \
	"$(pod_events_total "$KW_LOG")" "$before_ev"
expect_eq "and the informer is synced" "$(kw_stat "$KW_LOG" Pod synced)" true
kc scale deploy/web -n "$NS" --replicas=3 >/dev/null
expect_converged "after the restart: scaled to 3, converged" "$KW_PID" "$KW_LOG" 60

# --- a fault proxy that cuts and stalls the streams ------------------------------
pport=$(free_port)
spawn proxy /usr/bin/python3 "$(dirname "$0")/faultproxy.py" "$pport" "${API%:*}" "${API#*:}"
PROXY_PID=$SPAWNED
wait_port 127.0.0.1 "$pport" 10
# the apiserver's certificate names 127.0.0.1: verification still holds
sed "s#server: https://$API#server: https://127.0.0.1:$pport#" "$KUBECONFIG" >"$TMP/proxied.kubeconfig"
spawn kwp "$KW" --kubeconfig "$TMP/proxied.kubeconfig" -n "$NS" \
	--idle-timeout 2000 --backoff-max 1500 pods replicasets
KWP_PID=$SPAWNED
KWP_LOG=$TMP/kwp.log
# SIGUSR1 before kube-watch handles it would kill it: wait for its sync
wait_until 20 grep -q '"type":"SYNCED","kind":"Pod"' "$KWP_LOG"
expect_converged "through the fault proxy: converged" "$KWP_PID" "$KWP_LOG" 30 ||
	diag "$TMP/proxy.log"
kc scale deploy/web -n "$NS" --replicas=4 >/dev/null
for i in 1 2 3 4; do
	kill -USR1 "$PROXY_PID" # cut every stream
	sleep 1.5
done
kill -USR2 "$PROXY_PID" # stall: nothing moves for 4 s
sleep 4
kill -USR2 "$PROXY_PID"
kc delete pod "$(kc get pods -n "$NS" -l app=web -o jsonpath='{.items[0].metadata.name}')" \
	-n "$NS" --wait=false >/dev/null
kill -USR1 "$PROXY_PID"
expect_converged "streams cut 5 times and stalled 4 s while scaling to 4 and deleting a pod: converged" \
	"$KWP_PID" "$KWP_LOG" 60
kw_dump "$KWP_PID" "$KWP_LOG"
rc=$(kw_stat "$KWP_LOG" Pod reconnects)
if [ "${rc:-0}" -ge 4 ] && [ "$(kw_stat "$KWP_LOG" Pod relists)" = 0 ] &&
	[ "$(kw_stat "$KWP_LOG" Pod lists)" = 1 ]; then
	ok "every cut resumed the watch from its resourceVersion: $rc reconnects, 0 re-lists"
else
	not_ok "cuts: reconnects=$rc relists=$(kw_stat "$KWP_LOG" Pod relists) lists=$(kw_stat "$KWP_LOG" Pod lists)"
fi
if grep -q 'no data from the server for 2 s' "$KWP_LOG"; then
	ok "the stalled stream was detected (idle timeout) and abandoned"
else
	not_ok "no idle-timeout error for the stalled stream"
fi

# --- a forced 410: the informer is cut off while the apiserver moves on ------------
# Stall the proxy, change the cluster (a pod deleted, a ConfigMap written:
# etcd's revision moves past the informer's resourceVersion), restart the
# apiserver (its new watch cache starts at that revision), then let the
# informer back in: its watch from the old resourceVersion gets 410 Gone.
kw_dump "$KWP_PID" "$KWP_LOG"
rl0=$(kw_stat "$KWP_LOG" Pod relists)
kill -USR2 "$PROXY_PID"
gone_pod=$(kc get pods -n "$NS" -l app=web -o jsonpath='{.items[0].metadata.name}')
kc delete pod "$gone_pod" -n "$NS" --grace-period=0 --force >/dev/null 2>&1
kc create configmap bump -n "$NS" --from-literal=a=b >/dev/null
restart_apiserver || not_ok "kube-apiserver restart (for the 410)"
kill -USR2 "$PROXY_PID"
kill -USR1 "$PROXY_PID"
relisted() {
	kw_dump "$KWP_PID" "$KWP_LOG" && [ "$(kw_stat "$KWP_LOG" Pod relists)" -gt "$rl0" ]
}
if wait_until 60 relisted; then
	ok "410 Gone for the stale resourceVersion: re-listed ($(kw_stat "$KWP_LOG" Pod relists) re-list, $(kw_stat "$KWP_LOG" Pod lists) lists)"
else
	not_ok "no re-list after the forced 410"
	tail -n 5 "$KWP_LOG" | cut -c1-300 | sed 's/^/#   /'
fi
expect_converged "after the re-list: converged" "$KWP_PID" "$KWP_LOG" 60
expect_eq "the pod deleted while it was cut off came as one DELETED (the re-list's difference)" \
	"$(pod_events "$KWP_LOG" DELETED | grep -cx "$gone_pod")" 1
expect_eq "and nothing came twice" \
	"$(pod_events "$KWP_LOG" ADDED | sort | uniq -d)$(pod_events "$KWP_LOG" DELETED | sort | uniq -d)" ""
stop "$KWP_PID"
expect_match "kube-watch prints its counters at exit" "$(tail -n 4 "$KWP_LOG")" '"type":"STATS"'

# --- a ServiceAccount with no rights: 403, a clear line, no crash ------------------
kc create serviceaccount nobody -n "$NS" >/dev/null
token=$(kc create token nobody -n "$NS" --duration=10m)
cat >"$TMP/nobody.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://$API
    certificate-authority-data: $(base64 -w0 "$S/pki/ca.crt")
users:
- name: nobody
  user:
    token: $token
contexts:
- name: c
  context: {cluster: c, user: nobody}
current-context: c
EOF
spawn kwn "$KW" --kubeconfig "$TMP/nobody.kubeconfig" --backoff-max 500 pods
KWN_PID=$SPAWNED
want="list pods: 403 Forbidden: pods is forbidden: User \\\"system:serviceaccount:$NS:nobody\\\" cannot list resource \\\"pods\\\" in API group \\\"\\\" at the cluster scope"
if wait_until 10 grep -qF "$want" "$TMP/kwn.log"; then
	ok "403: the error names the verb, the resource and the server's message"
else
	not_ok "403 message"
	diag "$TMP/kwn.log"
fi
if grep -q 'level=warn .*403 Forbidden' "$TMP/kwn.log"; then
	ok "403: a warn log line"
else
	not_ok "403: no log line"
fi
sleep 2
if kill -0 "$KWN_PID" 2>/dev/null && [ "$(count "$TMP/kwn.log" '"type":"ERROR"')" -ge 3 ]; then
	ok "403: still running, retrying with backoff ($(count "$TMP/kwn.log" '"type":"ERROR"') tries)"
else
	not_ok "403: the informer died or stopped retrying"
fi
stop "$KWN_PID"
expect_eq "403: exits 0 on SIGTERM" "$?" 0

# --- an apiserver the CA does not vouch for -----------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other-ca \
	-keyout "$TMP/other.key" -out "$TMP/other.crt" -days 1 2>/dev/null
sed "s#certificate-authority-data: .*#certificate-authority: $TMP/other.crt#" \
	"$TMP/nobody.kubeconfig" >"$TMP/untrusted.kubeconfig"
spawn kwu "$KW" --kubeconfig "$TMP/untrusted.kubeconfig" --backoff-max 500 pods
if wait_until 10 grep -q "the server's certificate is not trusted" "$TMP/kwu.log"; then
	ok "an untrusted server certificate is refused, with the reason"
else
	not_ok "untrusted CA"
	diag "$TMP/kwu.log"
fi
expect_eq "and no object was read" "$(count "$TMP/kwu.log" '"type":"ADDED"')" 0

stop "$KW_PID"
finish
