# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# lib.sh - helpers for test/k8s/NN-name.sh: test/integ/lib.sh (ok, not_ok,
# check, expect_*, wait_until, on_exit, finish) plus the cluster's.
#
#   . "$(dirname "$0")/lib.sh"
#   new_ns
#   kapply web <<EOF ... EOF
#   kwait 60 "the Deployment is Available" deploy/x --for=condition=Available
#   finish
#
# test/k8s/run brings the cluster up and exports KUBECONFIG, PATH (kubectl),
# CONDUIT (the static binary), CONDUIT_IMAGE (its archive),
# CONDUIT_IMAGE_REF (the reference the archive was imported as),
# K8S_PAUSE_IMAGE and K8S_BUSYBOX_IMAGE (/busybox alone; servers and clients
# for test pods) and K8S_CLUSTER (the cluster script).
. "$(dirname "$0")/../integ/lib.sh"
: "${KUBECONFIG:?run me through test/k8s/run (no KUBECONFIG)}"

# kc ARGS...: kubectl, every request bounded
kc() { kubectl --request-timeout=20s "$@"; }

# new_ns: a namespace for this test (NS), deleted when the test ends
new_ns() {
	NS=t-$(echo "$TEST_NAME" | tr 'A-Z_.' 'a-z--')
	kc create namespace "$NS" >/dev/null || return 1
	on_exit "kc delete namespace $NS --wait=false >/dev/null 2>&1"
	# pods need the namespace's ServiceAccount and CA ConfigMap
	wait_until 30 kc get serviceaccount default -n "$NS" &&
		wait_until 30 kc get configmap kube-root-ca.crt -n "$NS"
}

# install_part FILE [namespace] COMPONENT...: the objects of `conduit
# install`'s output FILE labelled with one of those control-plane
# components (conduit.io/control-plane-component), and its Namespace when
# "namespace" is named, as YAML on stdout
install_part() {
	/usr/bin/python3 - "$@" <<'EOF'
import sys, yaml
want = set(sys.argv[2:])
comp = lambda d: d["metadata"].get("labels", {}).get("conduit.io/control-plane-component")
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
print(yaml.safe_dump_all([d for d in docs if
    ("namespace" in want if d["kind"] == "Namespace" else comp(d) in want)]))
EOF
}

# kapply NAME [KUBECTL-ARGS...] <<EOF: apply the manifest on stdin (kept as
# $TMP/NAME.yml) in the test namespace; RC, OUT, ERR as for run
kapply() {
	local name=$1
	shift
	cat >"$TMP/$name.yml"
	run kc apply -n "$NS" "$@" -f "$TMP/$name.yml"
}

# kwait SECONDS DESC OBJECT WAIT-ARGS...: ok when `kubectl wait` sees the
# condition in time; on failure shows the namespace's pods and events
kwait() {
	local secs=$1 desc=$2
	shift 2
	run kubectl wait -n "$NS" --timeout="${secs}s" "$@"
	if [ "$RC" = 0 ]; then ok "$desc"; else
		not_ok "$desc (not within ${secs}s)"
		diag "$TMP/err"
		k8s_diag
	fi
}

# pod_done SECONDS POD: wait until POD has Succeeded or Failed (or the time
# is up); its phase in PHASE
pod_done() {
	local end=$(($(date +%s) + $1))
	while :; do
		PHASE=$(kc get pod "$2" -n "$NS" -o jsonpath='{.status.phase}' 2>/dev/null)
		case $PHASE in Succeeded | Failed) return 0 ;; esac
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# k8s_diag: the test namespace's pods and recent events, bounded
k8s_diag() {
	{
		kc get pods -n "$NS" -o wide
		kc get events -n "$NS" --sort-by=.lastTimestamp | tail -n 15
	} 2>&1 | head -n 40 | sed 's/^/#   /'
}
