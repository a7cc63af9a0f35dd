# tap_client.py ADDR N SECS - grpcio (not our code) as a client of a
# proxy's Tap.Observe, from stubs generated with protoc from proto/tap.proto:
# prints "observing" once the call is open, then one JSON line per
# request-init event (its direction and the tls labels of both ends), N at
# most, for SECS seconds at most.
import json, sys
import grpc
import tap_pb2, tap_pb2_grpc


def main():
    addr, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    ch = grpc.insecure_channel(addr)
    grpc.channel_ready_future(ch).result(timeout=secs)
    stub = tap_pb2_grpc.TapStub(ch)
    call = stub.Observe(tap_pb2.ObserveRequest(limit=n), timeout=secs)
    print("observing", flush=True)
    seen = 0
    try:
        for ev in call:
            if ev.http.WhichOneof("event") != "request_init":
                continue
            print(json.dumps({
                "dir": "in" if ev.proxy_direction == tap_pb2.TapEvent.INBOUND else "out",
                "path": ev.http.request_init.path,
                "source_meta": dict(ev.source_meta.labels),
                "destination_meta": dict(ev.destination_meta.labels),
            }, sort_keys=True), flush=True)
            seen += 1
            if seen >= n:
                break
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            print("error", e.code(), e.details(), flush=True)
    call.cancel()


main()
