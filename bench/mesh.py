#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""mesh.py CONDUIT GRPC_PEER OUT.md - the `make bench` table: the same
workloads direct, through one and two conduit proxies (explicit
forwarding, and the mesh path with discovery) and through HAProxy and
nghttpx in the same roles; one Markdown table appended to OUT.md.

Workloads (client h2load or wrk; every origin pinned with the client):
  h2c   h2load -c16 -m10 for SAT_SECS (saturation), and 1000 req/s from 4
        connections (--rps 250 each, -m1) for RATE_SECS with --log-file
        (latency p50/p99/max); origin nghttpd, a 12-byte file
  grpc  gRPC-shaped h2: POST /conduit.test.Echo/Unary, content-type
        application/grpc, te: trailers, a 5+13 byte framed EchoRequest;
        origin build/test/grpc-peer (conduit's gRPC server: answers with a
        framed EchoReply and grpc-status trailers; nghttpd cannot send
        trailers); saturation -c16 -m10
  h1    HTTP/1.1 keep-alive: wrk -t1 -c64 (saturation), h2load --h1 at
        1000 req/s (latency); origin nginx (static file)
  tcp   opaque TCP: one TCP_MIB MiB transfer client -> sink (detection
        disabled for the port on every conduit hop; haproxy mode tcp;
        nghttpx has no TCP mode)
Configurations:
  direct        client -> origin
  conduit       client -> proxy inbound (--inbound-forward origin)
  conduit-x2    client -> proxy A inbound -> proxy B inbound -> origin
                (both explicit --inbound-forward)
  conduit-mesh  client -> client sidecar's outbound listener, routed by
                :authority/Host through `conduit controller --cluster-dir`
                (local mode) to the server pod's sidecar inbound -> origin
  conduit-mtls  the mesh path with identity: both sidecars certified by the
                controller's identity component, mutual TLS between them
                (the mesh and mTLS sidecars find the destination and
                identity components by name, as injected ones do: dnsmasq
                answers on 127.0.2.53:53 when the bench runs as root, else
                they are given IP addresses; the table says which)
  haproxy, haproxy-x2, nghttpx, nghttpx-x2: the same one- and two-hop roles
Figures: throughput and its ratio to direct; proxy CPU per request (sum
over the proxies on the path, from /proc/PID/task/*/schedstat, children
included); latency at the fixed rate and what the proxies add; proxy RSS
after start (after one probe request) and peak (VmHWM), summed over the
path's proxies. Then the static binary's size and exec-to-ready times.

Everything (client, origins, proxies) is pinned to CPU BENCH_CPU (default
1): the throughput ratio is then the proxy's share of one core.
Repetitions are interleaved across configurations; the table shows the
median and [min-max]. Loopback only (127.0.0.0/8); every process started
here is stopped by PID; every client run is bounded in time.

Environment: BENCH_QUICK=1 (short runs), REPS, SAT_SECS, RATE_SECS,
H1_SECS, TCP_MIB, READY_RUNS, BENCH_CPU, BENCH_KEEP=1 (keep the work dir).
"""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

QUICK = bool(os.environ.get("BENCH_QUICK"))
REPS = int(os.environ.get("REPS", 2 if QUICK else 5))
SAT_SECS = int(os.environ.get("SAT_SECS", 1 if QUICK else 2))
RATE_SECS = float(os.environ.get("RATE_SECS", 0.5 if QUICK else 4))
H1_SECS = int(os.environ.get("H1_SECS", 1 if QUICK else 2))
TCP_MIB = int(os.environ.get("TCP_MIB", 256 if QUICK else 1024))
READY_RUNS = int(os.environ.get("READY_RUNS", 10 if QUICK else 100))
CPU = os.environ.get("BENCH_CPU", "1")
WORKLOADS = os.environ.get("WORKLOADS", "h2c grpc h1 tcp").split()
RATE_TOTAL, RATE_CONNS = 1000, 4
HOST = "127.0.0.1"
SVC_DOMAIN = "demo.svc.cluster.local"

started = []            # every Popen this script started, stopped by PID


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def start(name, argv, pin=True):
    """Start argv in the background (pinned to CPU), output to WORK/name.log"""
    f = open(os.path.join(WORK, name + ".log"), "wb")
    pre = ["taskset", "-c", CPU] if pin else []
    p = subprocess.Popen(pre + argv, stdout=f, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    f.close()
    started.append(p)
    return p


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + 5
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p in started:
            started.remove(p)


def cleanup(*_):
    stop(list(started))
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        log(f"work dir kept: {WORK}")


def on_signal(sig, _frame):
    cleanup()
    sys.exit(128 + sig)


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree(pid):
    """pid and its children (nghttpx's worker, nginx's worker)"""
    out = [pid]
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def pids_of(procs):
    return [q for p in procs for q in tree(p.pid)]


def cpu_ns(pids):
    """time on CPU so far, all threads of all pids (schedstat: ns)"""
    s = 0
    for pid in pids:
        try:
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    s += int(f.read().split()[0])
        except OSError:
            pass
    return s


def vm_kib(key, pids):
    s = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        s += int(line.split()[1])
        except OSError:
            pass
    return s


def can_connect(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


def http_status(ip, port, path):
    """one HTTP/1.0 GET; the status code, or 0"""
    try:
        with socket.create_connection((ip, port), timeout=0.5) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
            head = s.recv(64)
            return int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    except (OSError, ValueError, IndexError):
        return 0


def wait_for(pred, secs=10):
    deadline = time.time() + secs
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def run(argv, timeout):
    """run a client pinned to CPU; its stdout+stderr as text"""
    try:
        r = subprocess.run(["taskset", "-c", CPU] + argv, capture_output=True,
                           text=True, timeout=timeout)
        return r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        return f"TIMEOUT {e}"


# --- proxies ----------------------------------------------------------------

def conduit_proxy(name, inbound, fwd=None, tcp_ports=(), dst=None, ident=None):
    """a conduit proxy; inbound is (ip, port); ident (service account)
    gives it an identity; returns (proc, ready predicate)"""
    ip = inbound[0]
    admin = (ip, free_port())
    argv = [CONDUIT, "proxy", "--log", "info",
            "--inbound-listen-addr", f"{ip}:{inbound[1]}",
            "--outbound-listen-addr", f"{ip}:{OUTBOUND.get(name, free_port())}",
            "--admin-listen-addr", f"{ip}:{admin[1]}",
            "--control-listen-addr", f"{ip}:{free_port()}"]
    if fwd:
        argv += ["--inbound-forward", f"{fwd[0]}:{fwd[1]}"]
    if tcp_ports:
        argv += ["--inbound-ports-disable-protocol-detection",
                 ",".join(str(p) for p in tcp_ports)]
    # the control plane by name, as an injected sidecar finds it (through
    # the bench's DNS server when there is one: the name lookups are part
    # of a sidecar's start)
    ctl_host = DST_NAME if DNS else HOST
    if DNS and (dst or ident):
        argv += ["--resolv-conf", DNS]
    if dst:
        argv += ["--destination-svc-addr", f"{ctl_host}:{dst}"]
    if ident:
        argv += ["--identity-trust-anchors-file", os.path.join(WORK, "ca", "root.crt"),
                 "--identity-local-name",
                 f"{ident}.demo.serviceaccount.identity.conduit.cluster.local",
                 "--identity-svc-addr", f"{ID_NAME if DNS else HOST}:{ID_PORT}",
                 "--identity-token-file", os.path.join(WORK, "tokens", f"demo.{ident}")]
    p = start(name, argv)
    ADMINS.append(admin)
    return p, lambda: http_status(admin[0], admin[1], "/ready") == 200


ADMINS = []             # every conduit proxy's admin address, for scrapes
DNS = None              # the bench's resolv.conf, when its DNS server runs
DNS_NOTE = ""           # how the sidecars find the control plane
DST_NAME = "conduit-dst.conduit.svc.cluster.local"
ID_NAME = "conduit-identity.conduit.svc.cluster.local"
DNS_IP = "127.0.2.53"


def dns_server():
    """dnsmasq on DNS_IP:53 answering the control plane's names with
    127.0.0.1 (root only: port 53); sets DNS to a resolv.conf naming it.
    Without it the sidecars are given IP addresses."""
    global DNS
    dnsmasq = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq"
                                           if os.path.exists("/usr/sbin/dnsmasq") else None)
    if not dnsmasq or os.geteuid() != 0:
        return "no DNS server (needs root and dnsmasq): the sidecars get IP addresses"
    p = start("dns", [dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                  f"--listen-address={DNS_IP}", "--bind-interfaces", "--port=53",
                  "--pid-file=", "--user=root", "--log-facility=-",
                  "--local=/cluster.local/",
                  f"--host-record={DST_NAME},127.0.0.1",
                  f"--host-record={ID_NAME},127.0.0.1"], pin=False)
    if not wait_for(lambda: dns_answers(DST_NAME), 5) or p.poll() is not None:
        return (f"dnsmasq did not start or answer on {DNS_IP}:53 (see {WORK}/dns.log): "
                "the sidecars get IP addresses")
    conf = os.path.join(WORK, "resolv.conf")
    with open(conf, "w") as f:
        f.write(f"search demo.svc.cluster.local svc.cluster.local cluster.local\n"
                f"nameserver {DNS_IP}\noptions ndots:5\n")
    DNS = conf
    return f"the sidecars find the control plane by name (dnsmasq on {DNS_IP}, c-ares)"


def dns_answers(name):
    """one A query to DNS_IP: any answer record"""
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(q, (DNS_IP, 53))
        r = s.recv(512)
        return len(r) > 12 and r[:2] == b"\x12\x34" and (r[6] << 8 | r[7]) > 0
    except OSError:
        return False
    finally:
        s.close()
OUTBOUND = {}           # proxy name -> its outbound port, when it matters


def haproxy(name, port, target, mode):
    """mode: h2 (h2c both sides), h1, tcp"""
    cfg = os.path.join(WORK, name + ".cfg")
    proto = " proto h2" if mode == "h2" else ""
    with open(cfg, "w") as f:
        f.write(f"""global
  nbthread 1
  maxconn 4096
defaults
  mode {"tcp" if mode == "tcp" else "http"}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
{"  http-reuse always" if mode != "tcp" else ""}
frontend fe
  bind {HOST}:{port}{proto}
  default_backend be
backend be
  server s1 {target[0]}:{target[1]}{proto}
""")
    p = start(name, ["haproxy", "-db", "-f", cfg])
    return p, lambda: can_connect(HOST, port)


def nghttpx(name, port, target, mode):
    proto = "h2" if mode == "h2" else "http/1.1"
    p = start(name, ["nghttpx", "--conf=/dev/null", "--workers=1", "--no-via",
                     f"--frontend={HOST},{port};no-tls",
                     f"--backend={target[0]},{target[1]};;proto={proto}",
                     f"--errorlog-file={WORK}/{name}.err"])
    return p, lambda: can_connect(HOST, port)


# --- the cluster of the mesh path -------------------------------------------
# one Service per workload, each selecting one server pod whose IP is on
# loopback (127.0.1.x) and whose containerPort is its sidecar's inbound port

POD_IP = {"h2c": "127.0.1.10", "grpc": "127.0.1.11", "h1": "127.0.1.12"}
POD_IP_TLS = {"h2c": "127.0.1.13", "grpc": "127.0.1.14", "h1": "127.0.1.15"}
ID_PORT = 0             # the identity component's port, once started


def make_identity(d):
    """a trust anchor and an issuer (openssl, ECDSA P-256) in d/ca, the
    issuer directory d/issuer, and a token per service account in
    d/tokens (local mode)"""
    ca, iss, tok = (os.path.join(d, x) for x in ("ca", "issuer", "tokens"))
    for x in (ca, iss, tok):
        os.makedirs(x, exist_ok=True)
    sh = lambda *a: subprocess.run(a, check=True, cwd=ca,  # noqa: E731
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "root.key")
    sh("openssl", "req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=root.bench",
       "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.crt")
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "issuer.key")
    with open(os.path.join(ca, "issuer.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE,pathlen:0\n"
                "keyUsage=critical,keyCertSign,cRLSign\n")
    sh("openssl", "req", "-new", "-key", "issuer.key", "-subj", "/CN=identity.bench",
       "-out", "issuer.csr")
    sh("openssl", "x509", "-req", "-in", "issuer.csr", "-CA", "root.crt", "-CAkey",
       "root.key", "-CAcreateserial", "-days", "1", "-extfile", "issuer.ext",
       "-out", "issuer.crt")
    shutil.copy(os.path.join(ca, "issuer.crt"), os.path.join(iss, "tls.crt"))
    shutil.copy(os.path.join(ca, "issuer.key"), os.path.join(iss, "tls.key"))
    shutil.copy(os.path.join(ca, "root.crt"), os.path.join(iss, "ca.crt"))
    for sa in ["client"] + [f"server-{wl}-tls" for wl in POD_IP_TLS]:
        with open(os.path.join(tok, f"demo.{sa}"), "w") as f:
            f.write(f"bench-token-{sa}-{os.getpid()}\n")


def write_cluster(d, pod_ports):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "mesh.yml"), "w") as f:
        for wl, port in pod_ports.items():
            # the same behind a sidecar with an identity: mutual TLS
            f.write(f"""---
apiVersion: v1
kind: Pod
metadata: {{name: server-{wl}-tls, namespace: demo, labels: {{app: server-{wl}-tls}}}}
spec:
  serviceAccountName: server-{wl}-tls
  containers:
  - {{name: app, ports: [{{name: http, containerPort: {port}}}]}}
  - {{name: conduit-proxy, env: [{{name: CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS, value: x}}]}}
status: {{phase: Running, podIP: {POD_IP_TLS[wl]}, conditions: [{{type: Ready, status: "True"}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: server-{wl}-tls, namespace: demo}}
spec: {{selector: {{app: server-{wl}-tls}}, ports: [{{name: http, port: 80, targetPort: http}}]}}
""")
            f.write(f"""---
apiVersion: v1
kind: Pod
metadata: {{name: server-{wl}, namespace: demo, labels: {{app: server-{wl}}}}}
spec:
  containers:
  - {{name: app, ports: [{{name: http, containerPort: {port}}}]}}
status: {{phase: Running, podIP: {POD_IP[wl]}, conditions: [{{type: Ready, status: "True"}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: server-{wl}, namespace: demo}}
spec: {{selector: {{app: server-{wl}}}, ports: [{{name: http, port: 80, targetPort: http}}]}}
""")


# --- configurations of one workload -----------------------------------------

def setup(wl, origin, mode, dst_port, pod_port):
    """Start every proxy configuration of workload wl in front of origin.
    Returns {config: (url_addr, authority or None, [procs], [ready preds])}"""
    cfgs = {"direct": (origin, None, [], [])}
    tcp = mode == "tcp"
    # conduit, one hop
    a = (HOST, free_port())
    p, r = conduit_proxy(f"{wl}-conduit", a, origin,
                         tcp_ports=[origin[1]] if tcp else ())
    cfgs["conduit"] = (a, None, [p], [r])
    # conduit, two hops, explicit forwarding: A inbound -> B inbound
    b = (HOST, free_port())
    a = (HOST, free_port())
    pb, rb = conduit_proxy(f"{wl}-conduit-b", b, origin,
                           tcp_ports=[origin[1]] if tcp else ())
    pa, ra = conduit_proxy(f"{wl}-conduit-a", a, b,
                           tcp_ports=[b[1]] if tcp else ())
    cfgs["conduit-x2"] = (a, None, [pa, pb], [ra, rb])
    # the mesh path: client sidecar (outbound, discovery) -> server sidecar
    if not tcp:
        s = (POD_IP[wl], pod_port)
        ps, rs = conduit_proxy(f"{wl}-mesh-server", s, origin)
        OUTBOUND[f"{wl}-mesh-client"] = free_port()
        c = ("127.0.1.20", OUTBOUND[f"{wl}-mesh-client"])
        pc, rc = conduit_proxy(f"{wl}-mesh-client", ("127.0.1.20", free_port()),
                               dst=dst_port)
        cfgs["conduit-mesh"] = (c, f"server-{wl}.{SVC_DOMAIN}", [pc, ps],
                                [rc, rs])
        # the same with identities: mutual TLS between the sidecars
        s = (POD_IP_TLS[wl], pod_port)
        ps, rs = conduit_proxy(f"{wl}-mtls-server", s, origin,
                               ident=f"server-{wl}-tls")
        OUTBOUND[f"{wl}-mtls-client"] = free_port()
        c = ("127.0.1.21", OUTBOUND[f"{wl}-mtls-client"])
        pc, rc = conduit_proxy(f"{wl}-mtls-client", ("127.0.1.21", free_port()),
                               dst=dst_port, ident="client")
        cfgs["conduit-mtls"] = (c, f"server-{wl}-tls.{SVC_DOMAIN}", [pc, ps],
                                [rc, rs])
    # peers in the same roles
    hmode = "tcp" if tcp else ("h1" if mode == "h1" else "h2")
    a, b = free_port(), free_port()
    p, r = haproxy(f"{wl}-haproxy", a, origin, hmode)
    cfgs["haproxy"] = ((HOST, a), None, [p], [r])
    a = free_port()
    pb, rb = haproxy(f"{wl}-haproxy-b", b, origin, hmode)
    pa, ra = haproxy(f"{wl}-haproxy-a", a, (HOST, b), hmode)
    cfgs["haproxy-x2"] = ((HOST, a), None, [pa, pb], [ra, rb])
    if not tcp:
        a, b = free_port(), free_port()
        p, r = nghttpx(f"{wl}-nghttpx", a, origin, mode)
        cfgs["nghttpx"] = ((HOST, a), None, [p], [r])
        a = free_port()
        pb, rb = nghttpx(f"{wl}-nghttpx-b", b, origin, mode)
        pa, ra = nghttpx(f"{wl}-nghttpx-a", a, (HOST, b), mode)
        cfgs["nghttpx-x2"] = ((HOST, a), None, [pa, pb], [ra, rb])
    for name, (_, _, procs, ready) in cfgs.items():
        for pred in ready:
            if not wait_for(pred):
                raise SystemExit(f"bench: {wl} {name}: not ready (see {WORK})")
    return cfgs


# --- measurements -----------------------------------------------------------

def h2load_args(addr, auth, path, extra=()):
    url = f"http://{addr[0]}:{addr[1]}{path}"
    hdr = ["-H", f":authority: {auth}"] if auth else []
    return list(extra) + hdr + [url]


def parse_h2load(out):
    ok = secs = 0
    for line in out.splitlines():
        if line.startswith("finished in"):
            t = line.split()[2].rstrip(",")
            secs = float(t[:-2]) / 1e3 if t.endswith("ms") else float(t[:-1])
        elif line.startswith("status codes:"):
            ok = int(line.split()[2])
    return ok, secs


def percentiles(lat):
    lat.sort()
    def q(p):
        return lat[max(0, min(len(lat) - 1, int(len(lat) * p / 100 + 0.999999) - 1))]
    return q(50), q(99), lat[-1]


class Results:
    def __init__(self):
        self.v = {}      # (workload, config, metric) -> [values]
        self.notes = []

    def add(self, wl, cfg, metric, value):
        self.v.setdefault((wl, cfg, metric), []).append(value)

    def get(self, wl, cfg, metric):
        return self.v.get((wl, cfg, metric), [])


R = Results()


def measured(wl, cfg, procs, metric_unit, fn):
    """run fn() -> (units done, seconds, extra); record rate and CPU/unit"""
    pids = pids_of(procs)
    c0 = cpu_ns(pids)
    done, secs, extra = fn()
    c1 = cpu_ns(pids)
    if done <= 0 or secs <= 0:
        R.notes.append(f"{wl} {cfg}: a run failed ({extra})")
        return
    R.add(wl, cfg, "rate", done / secs)
    if procs:
        R.add(wl, cfg, "cpu", (c1 - c0) / 1e3 / done / metric_unit)


def sat_h2(wl, cfg, addr, auth, procs, path, extra):
    def fn():
        out = run(["h2load", "-D", str(SAT_SECS), "-c16", "-m10", "-t1"] +
                  h2load_args(addr, auth, path, extra), SAT_SECS + 30)
        ok, secs = parse_h2load(out)
        return ok, secs, out.strip().splitlines()[-1:] if not ok else ""
    measured(wl, cfg, procs, 1, fn)


def rate_h2(wl, cfg, addr, auth, procs, path, extra, rep):
    n = int(RATE_TOTAL * RATE_SECS)
    lg = os.path.join(WORK, f"rate.{wl}.{cfg}.{rep}.log")
    pids = pids_of(procs)
    c0 = cpu_ns(pids)
    run(["h2load", "-n", str(n), "-c", str(RATE_CONNS), "-m1", "-t1",
         "--rps", str(RATE_TOTAL // RATE_CONNS), "--log-file", lg] +
        h2load_args(addr, auth, path, extra), RATE_SECS + 30)
    c1 = cpu_ns(pids)
    lat = []
    try:
        with open(lg) as f:
            for line in f:
                c = line.split("\t")
                if len(c) >= 3 and c[1].startswith("2"):
                    lat.append(int(c[2]))
    except OSError:
        pass
    if len(lat) < n:
        R.notes.append(f"{wl} {cfg} rep {rep}: {len(lat)}/{n} 2xx at the fixed rate")
    if not lat:
        return
    p50, p99, mx = percentiles(lat)
    R.add(wl, cfg, "p50", p50)
    R.add(wl, cfg, "p99", p99)
    R.add(wl, cfg, "max", mx)
    if procs:
        R.add(wl, cfg, "rate_cpu", (c1 - c0) / 1e3 / len(lat))


def sat_wrk(wl, cfg, addr, auth, procs):
    def fn():
        hdr = ["-H", f"Host: {auth}"] if auth else []
        out = run(["wrk", "-t1", "-c64", "-d", f"{H1_SECS}s"] + hdr +
                  [f"http://{addr[0]}:{addr[1]}/index.html"], H1_SECS + 30)
        n = 0
        secs = 0.0
        for line in out.splitlines():
            w = line.split()
            if "requests in" in line:
                n = int(w[0])
                t = w[3].rstrip(",")
                secs = float(t[:-2]) / 1e3 if t.endswith("ms") else float(t[:-1])
            if "Non-2xx" in line or "Socket errors" in line:
                R.notes.append(f"{wl} {cfg}: wrk: {line.strip()}")
        return n, secs, out.strip().splitlines()[-1:] if not n else ""
    measured(wl, cfg, procs, 1, fn)


def tcp_run(wl, cfg, addr, procs):
    def fn():
        out = run([sys.executable, SELF, "_send", addr[0], str(addr[1]),
                   str(TCP_MIB << 20)], 120)
        try:
            n, secs = out.split()[:2]
            return int(n), float(secs), ""
        except ValueError:
            return 0, 0, out.strip()[-200:]
    # CPU per MiB relayed (metric_unit 1 / MiB)
    pids = pids_of(procs)
    c0 = cpu_ns(pids)
    done, secs, extra = fn()
    c1 = cpu_ns(pids)
    if done <= 0:
        R.notes.append(f"{wl} {cfg}: transfer failed ({extra})")
        return
    R.add(wl, cfg, "rate", done / secs / 2**20)
    if procs:
        R.add(wl, cfg, "cpu", (c1 - c0) / 1e3 / (done / 2**20))


# --- TCP client and sink (sub-commands of this script) ----------------------

def tcp_sink(ip, port):
    """accept connections; read each to EOF; answer the byte count"""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(64)
    buf = bytearray(1 << 18)
    while True:
        c, _ = ls.accept()
        n = 0
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            n += k
        c.sendall(b"%d\n" % n)
        c.close()


def tcp_send(ip, port, total):
    """send total bytes, half-close, wait for the sink's count"""
    chunk = memoryview(bytes(1 << 18))
    t0 = time.perf_counter()
    s = socket.create_connection((ip, port), timeout=60)
    left = total
    while left > 0:
        k = s.send(chunk[:min(left, len(chunk))])
        left -= k
    s.shutdown(socket.SHUT_WR)
    got = s.recv(64)
    secs = time.perf_counter() - t0
    n = int(got.split()[0])
    print(n if n == total else 0, f"{secs:.6f}")


# --- workload phases --------------------------------------------------------

def probe(wl, cfg, addr, auth):
    """one request that checks the configuration works; '' or what failed"""
    url = f"http://{addr[0]}:{addr[1]}"
    if wl == "h2c":
        argv = ["curl", "-s", "--http2-prior-knowledge", url + "/index.html"]
        if auth:
            argv += ["-H", f"Host: {auth}"]
        out = run(argv, 10)
        return "" if out == "hello world\n" else f"h2 probe: {out[:80]!r}"
    if wl == "grpc":
        argv = ["nghttp", "-v", "-d", GRPC_REQ, "-H", "content-type: application/grpc",
                "-H", "te: trailers"] + (["-H", f":authority: {auth}"] if auth else []) + \
               [url + "/conduit.test.Echo/Unary"]
        out = run(argv, 10)
        return "" if "grpc-status: 0" in out else f"grpc probe: no grpc-status 0 trailer"
    if wl == "h1":
        argv = ["curl", "-s", "--http1.1", url + "/index.html"]
        if auth:
            argv += ["-H", f"Host: {auth}"]
        out = run(argv, 10)
        return "" if out == "hello world\n" else f"h1 probe: {out[:80]!r}"
    out = run([sys.executable, SELF, "_send", addr[0], str(addr[1]), "65536"], 10)
    return "" if out.startswith("65536 ") else f"tcp probe: {out[:80]!r}"


def phase(wl, origin_argv, origin, mode, dst_port, pod_port):
    log(f"{wl}: starting origin and proxies")
    po = start(f"{wl}-origin", origin_argv)
    if not wait_for(lambda: can_connect(*origin)):
        raise SystemExit(f"bench: {wl} origin not listening (see {WORK})")
    cfgs = setup(wl, origin, mode, dst_port, pod_port)
    for cfg, (addr, auth, procs, _) in cfgs.items():
        if procs:
            R.add(wl, cfg, "rss0", vm_kib("VmRSS", pids_of(procs)))
    bad = set()
    for cfg, (addr, auth, procs, _) in cfgs.items():
        # discovery may answer a moment after /ready: retry a little
        for _ in range(20):
            why = probe(wl, cfg, addr, auth)
            if not why:
                break
            time.sleep(0.1)
        if why:
            R.notes.append(f"{wl} {cfg}: not measured: {why}")
            bad.add(cfg)
    time.sleep(0.2)
    for cfg, (addr, auth, procs, _) in cfgs.items():
        if procs and cfg not in bad:
            R.add(wl, cfg, "rss", vm_kib("VmRSS", pids_of(procs)))
    # Prometheus scrapes every sidecar: /metrics is part of its life
    for a in ADMINS:
        http_status(a[0], a[1], "/metrics")
    order = [c for c in cfgs if c not in bad]
    if wl == "grpc":
        extra = ["-d", GRPC_REQ, "-H", "content-type: application/grpc",
                 "-H", "te: trailers"]
        path = "/conduit.test.Echo/Unary"
    else:
        extra, path = [], "/index.html"
    # warm-up: connections, pools, discovery, page cache
    for cfg in order:
        addr, auth, procs, _ = cfgs[cfg]
        if wl == "tcp":
            run([sys.executable, SELF, "_send", addr[0], str(addr[1]),
                 str(16 << 20)], 30)
        else:
            # HTTP/1.1 without pipelining (-m1): keep-alive is the workload
            run(["h2load", "-n", "5000", "-c16", "-t1"] +
                (["--h1", "-m1"] if wl == "h1" else ["-m10"]) +
                h2load_args(addr, auth, path, extra), 30)
    for rep in range(1, REPS + 1):
        log(f"{wl}: rep {rep}/{REPS}")
        for cfg in order:
            addr, auth, procs, _ = cfgs[cfg]
            if wl == "tcp":
                tcp_run(wl, cfg, addr, procs)
            elif wl == "h1":
                sat_wrk(wl, cfg, addr, auth, procs)
            else:
                sat_h2(wl, cfg, addr, auth, procs, path, extra)
        if wl in ("h2c", "h1"):
            for cfg in order:
                addr, auth, procs, _ = cfgs[cfg]
                rate_h2(wl, cfg, addr, auth, procs, path,
                        ["--h1"] if wl == "h1" else [], rep)
    for cfg in order:
        procs = cfgs[cfg][2]
        if procs:
            R.add(wl, cfg, "hwm", vm_kib("VmHWM", pids_of(procs)))
    stop([po] + [p for c in cfgs.values() for p in c[2]])
    return order


# --- exec to ready ----------------------------------------------------------

def ready_times():
    """exec to ready, tight poll (connect every 100 us): conduit /ready 200;
    haproxy and nghttpx: their listener accepts"""
    out = {"conduit": [], "haproxy": [], "nghttpx": []}
    target = (HOST, 9)           # never connected to: no request is sent
    for i in range(READY_RUNS):
        for who in out:
            port = free_port()
            if who == "conduit":
                adm = free_port()
                argv = [CONDUIT, "proxy", "--log", "info",
                        "--inbound-listen-addr", f"{HOST}:{port}",
                        "--outbound-listen-addr", f"{HOST}:{free_port()}",
                        "--admin-listen-addr", f"{HOST}:{adm}",
                        "--control-listen-addr", f"{HOST}:{free_port()}",
                        "--inbound-forward", f"{target[0]}:{target[1]}"]
                pred = lambda: http_status(HOST, adm, "/ready") == 200  # noqa: E731
            elif who == "haproxy":
                cfg = os.path.join(WORK, "ready-haproxy.cfg")
                with open(cfg, "w") as f:
                    f.write(f"global\n  nbthread 1\ndefaults\n  mode http\n"
                            f"  timeout connect 1s\n  timeout client 1s\n"
                            f"  timeout server 1s\nfrontend fe\n"
                            f"  bind {HOST}:{port} proto h2\n  default_backend be\n"
                            f"backend be\n  server s1 {HOST}:9 proto h2\n")
                argv = ["haproxy", "-db", "-f", cfg]
                pred = lambda: can_connect(HOST, port)  # noqa: E731
            else:
                argv = ["nghttpx", "--conf=/dev/null", "--workers=1",
                        f"--frontend={HOST},{port};no-tls",
                        f"--backend={HOST},9;;proto=h2",
                        f"--errorlog-file={WORK}/ready-nghttpx.err"]
                pred = lambda: can_connect(HOST, port)  # noqa: E731
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            started.append(p)
            ok = False
            while time.perf_counter() - t0 < 5:
                if pred():
                    ok = True
                    break
                time.sleep(0.0001)
            if ok:
                out[who].append((time.perf_counter() - t0) * 1e3)
            stop([p])
    return out


# --- report -----------------------------------------------------------------

WL_TITLE = {
    "h2c": "h2c",
    "grpc": "gRPC unary",
    "h1": "HTTP/1.1",
    "tcp": "TCP bulk",
}


def fmt(v, f="{:.0f}", spread=True):
    if not v:
        return "-"
    s = f.format(statistics.median(v))
    if spread and len(v) > 1:
        s += " [" + f.format(min(v)) + "-" + f.format(max(v)) + "]"
    return s


def version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def report(orders, ready, out, env):
    med = lambda v: statistics.median(v) if v else None  # noqa: E731
    L = []
    L.append("| workload | config | throughput | vs direct | proxy CPU per req | "
             "p50 us | p99 us | max us | added p50/p99 us | "
             "proxy RSS KiB: ready / after 1 req / peak |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for wl, order in orders:
        unit = "MiB/s" if wl == "tcp" else "req/s"
        cpu_unit = "us/MiB" if wl == "tcp" else "us"
        d = med(R.get(wl, "direct", "rate"))
        d50, d99 = med(R.get(wl, "direct", "p50")), med(R.get(wl, "direct", "p99"))
        for cfg in order:
            r = R.get(wl, cfg, "rate")
            ratio = f"{med(r) / d:.2f}x" if r and d else "-"
            cpu = fmt(R.get(wl, cfg, "cpu"), "{:.1f}")
            if cpu != "-":
                cpu += f" {cpu_unit}"
            rc = R.get(wl, cfg, "rate_cpu")
            if rc:
                cpu += f"; at 1000/s {fmt(rc, '{:.1f}', False)} us"
            p50, p99 = R.get(wl, cfg, "p50"), R.get(wl, cfg, "p99")
            added = "-"
            if cfg != "direct" and p50 and d50 is not None:
                added = f"{med(p50) - d50:+.0f} / {med(p99) - d99:+.0f}"
            rss0 = R.get(wl, cfg, "rss0")
            rss, hwm = R.get(wl, cfg, "rss"), R.get(wl, cfg, "hwm")
            mem = (f"{fmt(rss0, spread=False)} / {fmt(rss, spread=False)} / "
                   f"{fmt(hwm, spread=False)}") if rss else "-"
            L.append(f"| {WL_TITLE[wl]} | {cfg} | {fmt(r)} {unit} | {ratio} | {cpu} | "
                     f"{fmt(p50)} | {fmt(p99)} | {fmt(R.get(wl, cfg, 'max'))} | "
                     f"{added} | {mem} |")
    L.append("")
    L.append(f"static binary: {os.path.getsize(CONDUIT)} bytes ({CONDUIT_NAME}). "
             f"Exec to ready, ms, median [min-max] over {READY_RUNS} runs: "
             + "; ".join(f"{k} {fmt(v, '{:.1f}')}" for k, v in ready.items())
             + " (conduit: /ready answers 200; haproxy, nghttpx: the listener accepts).")
    L.append("")
    L.append(f"Everything pinned to CPU {CPU}; {REPS} interleaved repetitions; "
             f"saturation h2load -D {SAT_SECS}s -c16 -m10 -t1, wrk -t1 -c64 -d {H1_SECS}s; "
             f"fixed rate {RATE_TOTAL} req/s ({RATE_CONNS} connections x "
             f"{RATE_TOTAL // RATE_CONNS}, -m1) for {RATE_SECS:g}s, latency from "
             f"h2load --log-file (request start to end of response); TCP {TCP_MIB} MiB "
             f"per transfer. Proxy CPU and RSS are summed over the proxies on the path "
             f"(the mesh path: both sidecars; not the controller). "
             f"CPU per req at saturation; \"at 1000/s\" at the fixed rate. "
             f"Mesh and mTLS rows: {DNS_NOTE}.")
    L.append("")
    L.append(f"loadavg {' '.join(env[0])} at start, {' '.join(env[1])} at end "
             f"(other work on the machine adds noise: read the ratios); "
             f"{env[2]:.0f} s of measuring. Peers: {version(['haproxy', '-v'])}; "
             f"{version(['nghttpx', '--version'])}; {version(['h2load', '--version'])}; "
             f"{version(['wrk', '-v'])}; origins nghttpd, nginx (HTTP/1.1), grpc-peer.")
    for n in R.notes:
        L.append(f"- note: {n}")
    with open(out, "a") as f:
        f.write("\n".join(L) + "\n")


def main():
    global CONDUIT, CONDUIT_NAME, GRPC_PEER, GRPC_REQ, WORK, SELF, ID_PORT
    SELF = os.path.realpath(__file__)
    if len(sys.argv) >= 2 and sys.argv[1] == "_sink":
        tcp_sink(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "_send":
        tcp_send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    if len(sys.argv) != 4:
        sys.exit("usage: mesh.py CONDUIT GRPC_PEER OUT.md")
    CONDUIT = os.path.realpath(sys.argv[1])
    CONDUIT_NAME = sys.argv[1]
    GRPC_PEER = os.path.realpath(sys.argv[2])
    out = sys.argv[3]
    WORK = tempfile.mkdtemp(prefix="conduit-bench.")
    os.chmod(WORK, 0o755)        # nginx's worker (www-data) reads www/
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        www = os.path.join(WORK, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("hello world\n")
        # EchoRequest{message: "hello world"}, gRPC-framed (5-byte prefix)
        msg = b"\x0a\x0bhello world"
        GRPC_REQ = os.path.join(WORK, "echo.req")
        with open(GRPC_REQ, "wb") as f:
            f.write(b"\x00" + len(msg).to_bytes(4, "big") + msg)
        nginx_port = free_port()
        with open(os.path.join(WORK, "nginx.conf"), "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
master_process on;
pid {WORK}/nginx.pid;
error_log {WORK}/nginx.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  server {{ listen {HOST}:{nginx_port}; root {www}; }}
}}
""")
        global DNS_NOTE
        DNS_NOTE = dns_server()
        log(DNS_NOTE)
        pod_ports = {wl: free_port() for wl in POD_IP}
        cluster = os.path.join(WORK, "cluster")
        write_cluster(cluster, pod_ports)
        dst, cadm = free_port(), free_port()
        ID_PORT = free_port()
        make_identity(WORK)
        ctl = start("controller", [CONDUIT, "controller", "--cluster-dir", cluster,
                                   "--components", "destination,identity",
                                   "--destination-addr", f"{HOST}:{dst}",
                                   "--identity-addr", f"{HOST}:{ID_PORT}",
                                   "--identity-issuer-dir", os.path.join(WORK, "issuer"),
                                   "--identity-tokens-dir", os.path.join(WORK, "tokens"),
                                   "--admin-addr", f"{HOST}:{cadm}",
                                   "--log-level", "warn"])
        if not wait_for(lambda: http_status(HOST, cadm, "/ready") == 200):
            raise SystemExit(f"bench: the controller is not ready (see {WORK})")
        t0 = time.time()
        load0 = open("/proc/loadavg").read().split()[:3]
        # workload: (origin argv, origin address, proxy mode)
        hp, gp, tp = free_port(), free_port(), free_port()
        origins = {
            "h2c": (["nghttpd", "--no-tls", "-a", HOST, "-d", www, str(hp)],
                    (HOST, hp), "h2"),
            "grpc": ([GRPC_PEER, "serve", f"{HOST}:{gp}"], (HOST, gp), "h2"),
            "h1": (["nginx", "-p", WORK, "-c", os.path.join(WORK, "nginx.conf")],
                   (HOST, nginx_port), "h1"),
            "tcp": ([sys.executable, SELF, "_sink", HOST, str(tp)], (HOST, tp),
                    "tcp"),
        }
        orders = []
        for wl, (argv, addr, mode) in origins.items():
            if wl in WORKLOADS:
                orders.append((wl, phase(wl, argv, addr, mode, dst,
                                         pod_ports.get(wl))))
        stop([ctl])
        log("exec-to-ready runs")
        ready = ready_times()
        log(f"measured in {time.time() - t0:.0f} s")
        load1 = open("/proc/loadavg").read().split()[:3]
        report(orders, ready, out, (load0, load1, time.time() - t0))
    finally:
        cleanup()


if __name__ == "__main__":
    main()
