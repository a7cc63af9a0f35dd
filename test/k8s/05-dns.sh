#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 05-dns: the cluster's DNS (CoreDNS, test/k8s/cluster) as pods see it: the
# kubelet gives them its address and the search path; they resolve
# kubernetes.default.svc.cluster.local, a Service of their namespace by FQDN
# and by short name (the search path; busybox's own resolver and the libc one
# of our static binary), a headless Service to its pods' IPs and a ClusterIP
# back to its name; an unknown cluster name is NXDOMAIN; a name outside
# cluster.local is refused at once (nothing is forwarded); the host reaches
# it over UDP and TCP.
. "$(dirname "$0")/lib.sh"

DNS_IP=10.245.0.1
new_ns || { not_ok "a namespace for the test"; finish; }

kapply dns <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: $K8S_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [/busybox, sh, -c, '/busybox mkdir -p /www && echo hello from web > /www/index.html && exec /busybox httpd -f -p 8080 -h /www']
        ports: [{containerPort: 8080}]
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: $K8S_BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [/busybox, sleep, "3600"]
---
# getaddrinfo of glibc, static, in a FROM-scratch image: the demo app's web
# resolves its upstreams at start and logs them (Debian's busybox-static
# cannot be the client here: its wget crashes resolving any name)
apiVersion: v1
kind: Pod
metadata: {name: libc}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: $CONDUIT_IMAGE_REF
    imagePullPolicy: Never
    args: [demo-app, --role, web, --listen, "127.0.0.1:8080",
      --emoji-addr, "web:80", --voting-addr, "web-headless.$NS:8080"]
EOF
expect_eq "the Deployment, the two Services and the client pods apply" "$RC" 0
kwait 60 "the web pods become Available" deploy/web --for=condition=Available
kwait 60 "the client pods are Ready" pod/client pod/libc --for=condition=Ready

# inpod CMD...: run CMD in the client pod; RC, OUT, ERR as for run
inpod() { run kc exec -n "$NS" client -- "$@"; }

# --- what the kubelet gave the pod -------------------------------------------
inpod /busybox cat /etc/resolv.conf
expect_match "the pod's nameserver is the cluster DNS" "$OUT" "^nameserver $DNS_IP$"
expect_match "its search path is the namespace's, the cluster's" "$OUT" \
	"^search $NS\.svc\.cluster\.local svc\.cluster\.local cluster\.local$"
expect_match "with ndots:5" "$OUT" "options .*ndots:5"

# --- names in the cluster ---------------------------------------------------
# lookup NAME: /busybox nslookup NAME in the pod; the answer's addresses,
# sorted, one per line, in ADDRS
lookup() {
	inpod /busybox nslookup "$1"
	ADDRS=$(sed -n '/^Name:/,$s/^Address: *\([0-9.]*\)$/\1/p' "$TMP/out" | sort)
}

lookup kubernetes.default.svc.cluster.local
expect_eq "kubernetes.default.svc.cluster.local is the apiserver's ClusterIP" \
	"$ADDRS" 10.96.0.1
svc_ip=$(kc get svc web -n "$NS" -o jsonpath='{.spec.clusterIP}')
lookup "web.$NS.svc.cluster.local"
expect_eq "web.$NS.svc.cluster.local (FQDN) is the Service's ClusterIP" "$ADDRS" "$svc_ip"

# the search path (busybox's nslookup searches only for a name without a
# dot; name.namespace is the libc pod's, below)
lookup web
expect_eq "web (search path) is the Service's ClusterIP" "$ADDRS" "$svc_ip"

# the headless Service: one address per ready pod
pods=$(kc get pods -n "$NS" -l app=web -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' | sort)
wait_until 20 sh -c "kubectl --request-timeout=20s exec -n $NS client -- \
	/busybox nslookup web-headless.$NS.svc.cluster.local 2>/dev/null |
	grep -c '^Address: *10\.245\.1\.' | grep -qx 2"
lookup "web-headless.$NS.svc.cluster.local"
expect_eq "the headless Service resolves to its two pods' IPs" \
	"$(echo "$ADDRS" | tr '\n' ' ')" "$(echo "$pods" | tr '\n' ' ')"

# the libc resolver of our static binary, with the search path
wait_until 20 sh -c "kubectl --request-timeout=20s logs -n $NS libc | grep -q 'voting='"
run kc logs -n "$NS" libc
expect_match "getaddrinfo in a FROM-scratch pod: web:80 is the ClusterIP" \
	"$OUT" "msg=\"upstreams\" emoji=${svc_ip//./\\.}:80 "
expect_match "and web-headless.$NS:8080 a pod's IP" \
	"$OUT" "msg=\"upstreams\" voting=10\.245\.1\.[0-9]+:8080 "
if printf '%s\n' "$OUT" | grep -q "service environment"; then
	not_ok "the names came from the Kubernetes service variables, not DNS"
else
	ok "through DNS, not the Kubernetes service variables"
fi

# reverse: the ClusterIP's PTR is the Service's name
inpod /busybox nslookup "$svc_ip"
expect_match "the ClusterIP $svc_ip resolves back to the Service's name" \
	"$OUT" "name = web\.$NS\.svc\.cluster\.local"

# --- names it does not know -------------------------------------------------
inpod /busybox nslookup "nosuch.$NS.svc.cluster.local"
expect_match "an unknown Service is NXDOMAIN" "$OUT$(cat "$TMP/err")" \
	"can't find nosuch\.$NS\.svc\.cluster\.local: NXDOMAIN"
t0=$(date +%s%N)
inpod /busybox nslookup conduit.example.com
ms=$((($(date +%s%N) - t0) / 1000000))
expect_match "a name outside cluster.local is REFUSED (not forwarded)" \
	"$OUT$(cat "$TMP/err")" "can't find conduit\.example\.com: REFUSED"
if [ "$ms" -lt 3000 ]; then
	ok "and fails fast (${ms} ms with kubectl exec)"
else
	not_ok "a refused name took ${ms} ms"
fi

# --- from the host: UDP and TCP on the node address only ------------------
run timeout 5 /bin/busybox nslookup "web.$NS.svc.cluster.local" "$DNS_IP"
expect_match "the host asks $DNS_IP:53 over UDP" "$OUT" "Address: *$svc_ip"
# a query over TCP, by hand (RFC 1035 4.2.2: a 2-byte length first)
cat >"$TMP/tcp.py" <<'PY'
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in sys.argv[2].split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.create_connection((sys.argv[1], 53), timeout=3)
s.sendall(struct.pack(">H", len(q)) + q)
buf = b""
while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
    b = s.recv(4096)
    if not b:
        break
    buf += b
r = buf[2:]
rcode, an = r[3] & 15, struct.unpack(">H", r[6:8])[0]
# the single answer's RDATA is the last 4 bytes
print("rcode=%d answers=%d %s" % (rcode, an, socket.inet_ntoa(r[-4:]) if an else "-"))
PY
run timeout 5 /usr/bin/python3 "$TMP/tcp.py" "$DNS_IP" "web.$NS.svc.cluster.local"
expect_eq "and over TCP" "$OUT" "rcode=0 answers=1 $svc_ip"
finish
