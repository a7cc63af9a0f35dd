#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# dstgen.py - local-mode (--cluster-dir) YAML for bench/destination: what
# the KWOK cluster holds, as files: per Deployment a ReplicaSet, its Pods
# (running, ready, owned by the ReplicaSet, on fake nodes), a Service, and
# EndpointSlices of 100 endpoints naming those pods, as the real
# controller-manager writes them.
#   dstgen.py dir DIR NS NAME:REPLICAS[:EXTRA]...
#       svc-NAME.yaml (Service, ReplicaSet, REPLICAS+EXTRA Pods) and
#       slices-NAME.yaml (the slices of the first REPLICAS pods)
#   dstgen.py slices NS NAME INDEX K
#       the slices of NAME (the INDEX-th service given to `dir`) with K
#       endpoints, to stdout
# Pod IPs are 10.(128+INDEX).x.y: never contacted, only written in files.
import os
import sys

SLICE = 100


def ip(index, j):
    j += 1
    return "10.%d.%d.%d" % (128 + index, j >> 8, j & 255)


def pod_name(name, j):
    return "%s-rs-%05d" % (name, j)


def service(ns, name, index, pods):
    out = ["""apiVersion: v1
kind: Service
metadata: {name: %(n)s, namespace: %(ns)s}
spec:
  selector: {app: %(n)s}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: %(n)s-rs
  namespace: %(ns)s
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: %(n)s, controller: true, uid: "d-%(n)s"}
""" % {"n": name, "ns": ns}]
    for j in range(pods):
        out.append("""---
apiVersion: v1
kind: Pod
metadata:
  name: %(p)s
  namespace: %(ns)s
  labels: {app: %(n)s}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: %(n)s-rs, controller: true, uid: "r-%(n)s"}
spec:
  nodeName: kwok-node-%(node)d
  serviceAccountName: default
  containers:
  - name: app
    ports:
    - {name: http, containerPort: 8080}
status:
  phase: Running
  podIP: %(ip)s
  conditions:
  - {type: Ready, status: "True"}
""" % {"p": pod_name(name, j), "ns": ns, "n": name, "node": j % 10,
       "ip": ip(index, j)})
    return "".join(out)


def slices(ns, name, index, k):
    out = []
    for s in range(0, max(k, 1), SLICE):
        out.append("""---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %(n)s-%(s)03d
  namespace: %(ns)s
  labels: {kubernetes.io/service-name: %(n)s}
addressType: IPv4
ports:
- {name: http, port: 8080, protocol: TCP}
endpoints:
""" % {"n": name, "ns": ns, "s": s // SLICE})
        for j in range(s, min(k, s + SLICE)):
            out.append("""- addresses: [%s]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: kwok-node-%d
  targetRef: {kind: Pod, namespace: %s, name: %s}
""" % (ip(index, j), j % 10, ns, pod_name(name, j)))
        if k == 0:
            out.append("  []\n")
    return "".join(out)


def main(argv):
    if len(argv) >= 4 and argv[1] == "dir":
        d, ns = argv[2], argv[3]
        for index, spec in enumerate(argv[4:]):
            f = spec.split(":")
            name, n = f[0], int(f[1])
            extra = int(f[2]) if len(f) > 2 else 0
            for fname, text in (("svc-%s.yaml" % name,
                                 service(ns, name, index, n + extra)),
                                ("slices-%s.yaml" % name,
                                 slices(ns, name, index, n))):
                with open(os.path.join(d, "." + fname), "w") as fp:
                    fp.write(text)
                os.rename(os.path.join(d, "." + fname), os.path.join(d, fname))
        return 0
    if len(argv) == 6 and argv[1] == "slices":
        sys.stdout.write(slices(argv[2], argv[3], int(argv[4]), int(argv[5])))
        return 0
    sys.stderr.write("usage: dstgen.py dir DIR NS NAME:N[:EXTRA]... | slices NS NAME INDEX K\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
