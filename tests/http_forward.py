"""http_forward.py — what the test servers standing in front of s3rver
(s3_fault_proxy.py, s3_versions_double.py) share: passing a request on to
the server behind, giving back its answer, and serving on a free port of
127.0.0.1 named in a file. Imported by them (this directory is their
sys.path[0]); not run by itself.
"""
import http.client
import http.server
import os

# headers of the upstream's answer not passed on: per connection, or set here
DROPPED = ("connection", "transfer-encoding", "content-length", "date", "server")


def command_line(argv):
    """argv: PROG UPSTREAM_PORT PORT_FILE [--OPTION VALUE]...; return
    (upstream port, port file, {"--OPTION": "VALUE"})."""
    args = argv[3:]
    opt = {}
    while args:
        opt[args[0]] = args[1]
        args = args[2:]
    return int(argv[1]), argv[2], opt


def request(upstream, handler, body):
    """Send handler's request (method, path, headers, body) to
    127.0.0.1:upstream; return (status, reason, headers, data), data empty
    for HEAD."""
    c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
    try:
        c.request(handler.command, handler.path, body=body,
                  headers=dict(handler.headers.items()))
        r = c.getresponse()
        data = r.read() if handler.command != "HEAD" else b""
        return r.status, r.reason, r.getheaders(), data
    finally:
        c.close()


def send_head(handler, status, reason, headers, data):
    """Answer with status and the upstream's headers (but DROPPED) and a
    Content-Length: the upstream's for HEAD, else len(data). Return whether
    the body is to follow (not for HEAD); the caller writes it."""
    handler.send_response(status, reason)
    for k, v in headers:
        if k.lower() not in DROPPED:
            handler.send_header(k, v)
    if handler.command == "HEAD":
        handler.send_header("Content-Length",
                            dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
        handler.end_headers()
        return False
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    return True


def serve(handler_class, port_file):
    """Serve handler_class on a free port of 127.0.0.1, one thread a
    connection; write the port to port_file (atomically: a reader polls for
    it) once listening. Never returns."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()
