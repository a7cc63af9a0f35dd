# dst_client.py - grpcio (not our code) as a client of Destination.Get,
# from stubs generated with protoc from proto/destination.proto.
#   watch ADDR PATH          one stream; one JSON line per update, flushed
#   fanout ADDR PATH N OUT   N streams on one channel; writes "ready N" to
#                            OUT once each has its first update, then
#                            "second N" once each has a second one
#   once ADDR PATH           the first update, or the error status
#   follow ADDR PATH         one stream; after each update the set it
#                            makes: "n=<count> <addr> <addr>...", flushed
import asyncio, json, sys, socket, struct
import grpc
import destination_pb2, destination_pb2_grpc


def ip(a):
    if a.ip.HasField("ipv6"):
        b = struct.pack(">QQ", a.ip.ipv6.first, a.ip.ipv6.last)
        return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, b), a.port)
    return "%s:%d" % (socket.inet_ntoa(struct.pack(">I", a.ip.ipv4)), a.port)


def to_json(u):
    kind = u.WhichOneof("update")
    if kind == "add":
        return {"add": [{"addr": ip(w.addr), "labels": dict(w.metric_labels),
                         "identity": w.tls_identity.dns_like_identity.name,
                         "h2": w.protocol_hint.HasField("h2")}
                        for w in u.add.addrs],
                "set_labels": dict(u.add.metric_labels)}
    if kind == "remove":
        return {"remove": [ip(a) for a in u.remove.addrs]}
    return {"no_endpoints": {"exists": u.no_endpoints.exists}}


def req(path):
    return destination_pb2.GetDestination(scheme="k8s", path=path)


def watch(addr, path):
    ch = grpc.insecure_channel(addr)
    stub = destination_pb2_grpc.DestinationStub(ch)
    try:
        for u in stub.Get(req(path)):
            print(json.dumps(to_json(u), sort_keys=True), flush=True)
    except grpc.RpcError as e:
        print(json.dumps({"status": e.code().name, "message": e.details()}), flush=True)


def once(addr, path):
    ch = grpc.insecure_channel(addr)
    stub = destination_pb2_grpc.DestinationStub(ch)
    try:
        for u in stub.Get(req(path), timeout=5):
            print(json.dumps(to_json(u), sort_keys=True))
            return
    except grpc.RpcError as e:
        print("status: %s %s" % (e.code().name, e.details()))


async def fanout(addr, path, n, out):
    async with grpc.aio.insecure_channel(addr) as ch:
        stub = destination_pb2_grpc.DestinationStub(ch)
        first = asyncio.Event()
        counts = {"first": 0, "second": 0}
        done = asyncio.Event()

        async def one():
            k = 0
            async for u in stub.Get(req(path)):
                k += 1
                if k == 1:
                    counts["first"] += 1
                    if counts["first"] == n:
                        first.set()
                elif k == 2:
                    counts["second"] += 1
                    if counts["second"] == n:
                        done.set()
                    return

        tasks = [asyncio.create_task(one()) for _ in range(n)]
        await first.wait()
        with open(out, "a") as f:
            f.write("ready %d\n" % counts["first"])
        await done.wait()
        with open(out, "a") as f:
            f.write("second %d\n" % counts["second"])
        await asyncio.gather(*tasks)


def follow(addr, path):
    ch = grpc.insecure_channel(addr)
    stub = destination_pb2_grpc.DestinationStub(ch)
    cur = set()
    try:
        for u in stub.Get(req(path)):
            kind = u.WhichOneof("update")
            if kind == "add":
                cur |= {ip(w.addr) for w in u.add.addrs}
            elif kind == "remove":
                cur -= {ip(a) for a in u.remove.addrs}
            else:
                cur = set()
            print("n=%d %s" % (len(cur), " ".join(sorted(cur))), flush=True)
    except grpc.RpcError as e:
        print("status: %s %s" % (e.code().name, e.details()), flush=True)


cmd = sys.argv[1]
if cmd == "watch":
    watch(sys.argv[2], sys.argv[3])
elif cmd == "follow":
    follow(sys.argv[2], sys.argv[3])
elif cmd == "once":
    once(sys.argv[2], sys.argv[3])
elif cmd == "fanout":
    asyncio.run(fanout(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]))
