# discovery_peer.py - the peers of 46-discovery.sh
#   backend NAME HOST PORT DELAY_MS   an HTTP/1.1 server answering NAME
#   load ADDR HOST N CONC             N GETs (a new connection each, CONC at
#                                     once) to ADDR with Host: HOST; prints
#                                     "<status> <body>" counts, one a line
import collections, http.client, http.server, socketserver, sys, threading, time


def backend(name, host, port, delay_ms):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if delay_ms:
                time.sleep(delay_ms / 1000.0)
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    S((host, port), H).serve_forever()


def load(addr, host, n, conc):
    h, p = addr.rsplit(":", 1)
    counts = collections.Counter()
    lock = threading.Lock()
    left = [n]

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                c = http.client.HTTPConnection(h, int(p), timeout=10)
                c.request("GET", "/", headers={"Host": host})
                r = c.getresponse()
                body = r.read().decode(errors="replace").strip().replace(" ", "_")
                err = r.getheader("conduit-proxy-error")
                key = "%d %s" % (r.status, err.replace(" ", "_") if err else body)
                c.close()
            except Exception as e:
                key = "error %s" % type(e).__name__
            with lock:
                counts[key] += 1

    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k, v in sorted(counts.items()):
        print("%s %d" % (k, v))


if sys.argv[1] == "backend":
    backend(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
else:
    load(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
