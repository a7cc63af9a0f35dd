#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 25-pods-mesh: two pods in network namespaces, each after `conduit
# proxy-init` and with `conduit proxy` running as UID 2102, talk through
# both proxies with unmodified clients and servers; the proxies' metrics
# show each connection with its original destination (SO_ORIGINAL_DST
# behind nf_tables redirect); ignored ports, loopback and the proxy's own
# traffic bypass the proxies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pods.sh"

if ! pods_init; then
	skip "two meshed pods" "$POD_SKIP"
	finish
fi
bin=$(conduit_any_user)
pod_create client "$POD_NET.2"
pod_create server "$POD_NET.3"
A=$(pod_ip client)
B=$(pod_ip server)

# the apps: they know nothing of the mesh
mkdir -p "$TMP/www"
echo "hello through the mesh" >"$TMP/www/index.txt"
head -c 3000000 /dev/urandom >"$TMP/www/big.bin"
pod_spawn server web /usr/bin/python3 -m http.server --bind 0.0.0.0 --directory "$TMP/www" 8080
pod_spawn server bypass /usr/bin/python3 -m http.server --bind 0.0.0.0 --directory "$TMP/www" 9000
pod_spawn server out-bypass /usr/bin/python3 -m http.server --bind 0.0.0.0 --directory "$TMP/www" 9100
if command -v nghttpd >/dev/null; then
	pod_spawn server h2 nghttpd --no-tls -d "$TMP/www" 8443
fi
pod_spawn client local /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" 7000
for p in 8080 9000 9100; do pod_wait_port server 127.0.0.1 $p; done
pod_wait_port client 127.0.0.1 7000

check "proxy-init in the server pod (inbound 9000 ignored)" \
	pod_exec server "$bin" proxy-init --inbound-ports-to-ignore 9000
check "proxy-init in the client pod (outbound 9100 ignored)" \
	pod_exec client "$bin" proxy-init --outbound-ports-to-ignore 9100

for p in client server; do
	pod_spawn "$p" "proxy-$p" setpriv --reuid 2102 --regid 2102 --clear-groups \
		"$bin" proxy --pod-namespace mesh-test --pod-name "$p-0" \
		--workload-kind Deployment --workload-name "$p"
done
for p in client server; do
	if wait_until 10 pod_exec "$p" curl -sf "http://127.0.0.1:4191/ready"; then
		ok "the $p pod's proxy is ready"
	else
		not_ok "the $p pod's proxy is ready"
		diag "$TMP/proxy-$p.log"
	fi
done

metrics() { pod_exec "$1" curl -s "http://127.0.0.1:4191/metrics"; }
# series NAME PROXY LABEL-REGEX: the value of the first matching series
series() {
	metrics "$2" | grep -E "^$1\{[^}]*$3" | head -n 1 | awk '{print $NF}'
}

# HTTP/1.1 with curl, by the server pod's IP, as an app would
run pod_exec client curl -s --max-time 10 "http://$B:8080/index.txt"
expect_eq "curl from pod A reaches pod B's server by its IP" "$OUT" "hello through the mesh"
run pod_exec client curl -s --max-time 20 -o "$TMP/big.out" "http://$B:8080/big.bin"
check "a 3 MB body arrives intact" cmp "$TMP/big.out" "$TMP/www/big.bin"

out=$(series tcp_open_total client 'direction="outbound"[^}]*target_addr="'"$B"':8080"')
expect_match "pod A's proxy counts the outbound connections to $B:8080" "${out:-none}" '^[2-9]'
out=$(series tcp_open_total server 'direction="inbound"[^}]*target_addr="[^"]*:8080"')
expect_match "pod B's proxy counts the inbound connections for port 8080" "${out:-none}" '^[2-9]'
out=$(series tcp_read_bytes_total server 'direction="inbound"[^}]*target_addr="[^"]*:8080"')
expect_match "pod B's proxy carried the 3 MB body" "${out:-0}" '^[0-9]{7,}'
expect_match "the inbound series carry the pod's workload labels" \
	"$(metrics server | grep -m1 '^tcp_open_total{[^}]*direction="inbound"')" 'deployment="server"'

if command -v nghttp >/dev/null && command -v nghttpd >/dev/null; then
	pod_wait_port server 127.0.0.1 8443
	run pod_exec client nghttp -n --stat "http://$B:8443/index.txt"
	expect_eq "HTTP/2 (nghttp to nghttpd) through both proxies" "$RC" 0
	out=$(series tcp_open_total server 'direction="inbound"[^}]*target_addr="[^"]*:8443"')
	expect_match "pod B's proxy saw the HTTP/2 connection" "${out:-none}" '^[1-9]'
	out=$(series request_total client "direction=\"outbound\",authority=\"$B:8443\"")
	expect_eq "pod A's outbound proxy served it as HTTP/2 requests (the h2 handler)" "${out:-0}" 1
else
	skip "HTTP/2 through the mesh" "nghttp/nghttpd not installed (nghttp2-client, nghttp2-server)"
fi

if /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
	cat >"$TMP/grpc_pair.py" <<'PY'
import sys, grpc
from concurrent import futures
ident = lambda b: b
if sys.argv[1] == "server":
    def unary(req, ctx):
        if req == b"fail":
            ctx.abort(grpc.StatusCode.PERMISSION_DENIED, "no doughnuts")
        return b"pong:" + req
    h = grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, ident, ident)})
    s = grpc.server(futures.ThreadPoolExecutor(4), handlers=[h])
    s.add_insecure_port("0.0.0.0:50051")
    s.start()
    s.wait_for_termination()
else:
    ch = grpc.insecure_channel(sys.argv[2] + ":50051")
    call = ch.unary_unary("/test.Echo/Unary", ident, ident)
    print(call(b"ping", timeout=10).decode())
    try:
        call(b"fail", timeout=10)
    except grpc.RpcError as e:
        print(e.code().name, e.details())
PY
	pod_spawn server grpc /usr/bin/python3 "$TMP/grpc_pair.py" server
	pod_wait_port server 127.0.0.1 50051
	run pod_exec client /usr/bin/python3 "$TMP/grpc_pair.py" client "$B"
	expect_eq "a grpcio client and server talk through both proxies" \
		"$OUT" "pong:ping
PERMISSION_DENIED no doughnuts"
	out=$(series response_total server 'direction="inbound".*grpc_status_code="7"')
	expect_eq "pod B's proxy counted the gRPC status of the failed call" "${out:-0}" 1
else
	skip "gRPC through the mesh" "python3-grpcio is not installed"
fi

# what must bypass the proxies
run pod_exec client curl -s --max-time 10 "http://$B:9000/index.txt"
expect_eq "an ignored inbound port still answers" "$OUT" "hello through the mesh"
expect_eq "pod B's proxy never saw port 9000" \
	"$(metrics server | grep -c 'target_addr="[^"]*:9000"')" 0
run pod_exec client curl -s --max-time 10 "http://$B:9100/index.txt"
expect_eq "an ignored outbound port still answers" "$OUT" "hello through the mesh"
expect_eq "pod A's proxy never saw port 9100" \
	"$(metrics client | grep -c 'target_addr="[^"]*:9100"')" 0
run pod_exec client curl -s --max-time 10 "http://127.0.0.1:7000/index.txt"
expect_eq "loopback inside the pod still answers" "$OUT" "hello through the mesh"
expect_eq "pod A's proxy never saw loopback traffic" \
	"$(metrics client | grep -c 'target_addr="127.0.0.1:7000"')" 0
# the proxy's own upstream connections (UID 2102) are not redirected back
# into it: a loop would show as a refusal and the requests above would fail
expect_eq "no connection looped back into a proxy" \
	"$(metrics client | grep -E '^tcp_refused_total\{[^}]*reason="loop"' | awk '{s+=$NF} END {print s+0}')" 0

# and the server app saw the client pod's address (the mesh is transparent
# to the app except that inbound arrives from the local proxy)
expect_match "the server's access log shows the requests" "$(cat "$TMP/web.log")" 'GET /index.txt'

finish
