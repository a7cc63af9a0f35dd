# stat_peer.py - the peers of 47-stat.sh
#   backend HOST PORT DELAY_MS   HTTP/1.1: /ok -> 200, /fail -> 500, each
#                                after DELAY_MS
#   load ADDR HOST OK FAIL       OK GETs of /ok and FAIL of /fail, one
#                                connection each, Host: HOST; prints the
#                                status counts
import collections, http.client, http.server, socketserver, sys, time


def backend(host, port, delay_ms):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            time.sleep(delay_ms / 1000.0)
            code = 200 if self.path.startswith("/ok") else 500
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    S((host, port), H).serve_forever()


def load(addr, host, ok, fail):
    h, p = addr.rsplit(":", 1)
    counts = collections.Counter()
    for path in ["/ok"] * ok + ["/fail"] * fail:
        c = http.client.HTTPConnection(h, int(p), timeout=10)
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        r.read()
        counts[r.status] += 1
        c.close()
    for k, v in sorted(counts.items()):
        print(k, v)


if sys.argv[1] == "backend":
    backend(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
else:
    load(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
