#!/usr/bin/env python3
"""s3_fault_proxy.py — an HTTP proxy between arca and s3rver that injects
faults on a schedule, for tests/integration/s3_faults.sh and s3_errors.sh.

  s3_fault_proxy.py UPSTREAM_PORT PORT_FILE [--schedule A,B,...] [--seed N --rate P]
                    [--max-keys N] [--no-batch-delete 1] [--if-none-match 1]
                    [--sse kms|dsse|c|etag] [--vanish PATH] [--cut PATH] [--log FILE]
                    [--loop-listing 1] [--slow-match REGEX] [--slow-seconds S]

Listens on a free port of 127.0.0.1 (written to PORT_FILE once listening).
Each request gets the next action of --schedule (cyclically), or, with
--seed, a random fault with probability --rate (else ok). Actions:
  ok          forward to 127.0.0.1:UPSTREAM_PORT and answer what it answers
  500, 503    answer InternalError / SlowDown without forwarding
  500after    forward (the server does it), then answer 500: a lost reply
  429         answer 429 SlowDown with Retry-After: 1
  reset       close the connection without an answer
  resetafter  forward, then close without an answer
  truncate    forward, then send the headers and half the body, and close
  slow        wait --slow-seconds (1.5 s), then forward
  sig         403 SignatureDoesNotMatch     region  400 AuthorizationHeaderMalformed
  skew        403 RequestTimeTooSkewed      (eu-west-1 named as the region)
--max-keys N rewrites every listing's max-keys to N (so a small repository's
listings come in pages, with continuation tokens); --no-batch-delete answers
DeleteObjects (POST ?delete) with 501 NotImplemented, as servers without it do.
--vanish PATH deletes the object PATH (/bucket/key, as requested) at the
server just before its first GET is forwarded, as if it were deleted while a
snapshot ran; --cut PATH sends half the body of its first GET and closes.
--if-none-match 1 honours If-None-Match: * on PUT and on completing a multipart
upload (412 when the object exists, asked with a HEAD first), as AWS S3 and
MinIO do and s3rver does not. --sse makes a bucket encrypting with SSE-KMS
(kms: x-amz-server-side-encryption: aws:kms; dsse: aws:kms:dsse) or SSE-C (c:
x-amz-server-side-encryption-customer-algorithm: AES256) out of s3rver: every
PUT's ETag becomes one that is not the MD5 of the body, with that header (and
completing an upload maps the parts' ETags back); etag: the ETag rewritten
WITHOUT any such header (a server storing something else than was sent).
s3rver does not check signatures, so the rewritten requests still pass.
--loop-listing 1 answers every listing page asked with a continuation-token
as truncated, with that same token as its NextContinuationToken: a server
paging forever. --slow-match REGEX makes every request whose "METHOD PATH"
matches it slow, whatever the schedule says; --slow-seconds S is how long a
slow request waits (default 1.5).
The log has one line per request: number, action, method, path, and the
request's x-amz-server-side-encryption(-aws-kms-key-id) and if-none-match
headers as NAME=VALUE.
"""
import hashlib
import http.client
import http.server
import os
import random
import re
import socket
import sys
import threading
import time
import urllib.parse

import http_forward

FAULTS = ["500", "503", "500after", "429", "reset", "resetafter", "truncate"]
ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "429": (429, "SlowDown", "Please reduce your request rate."),
    "sig": (403, "SignatureDoesNotMatch", "The request signature we calculated does not match."),
    "region": (400, "AuthorizationHeaderMalformed",
               "The authorization header is malformed; the region 'us-east-1' is wrong; "
               "expecting 'eu-west-1'"),
    "skew": (403, "RequestTimeTooSkewed",
             "The difference between the request time and the current time is too large."),
}


def main():
    upstream, port_file, opt = http_forward.command_line(sys.argv)
    schedule = opt.get("--schedule", "ok").split(",")
    rng = random.Random(int(opt["--seed"])) if "--seed" in opt else None
    rate = float(opt.get("--rate", "0.2"))
    log = open(opt.get("--log", os.devnull), "a", buffering=1)
    max_keys = opt.get("--max-keys")
    no_batch = "--no-batch-delete" in opt
    loop_listing = "--loop-listing" in opt
    slow_match = re.compile(opt["--slow-match"]) if "--slow-match" in opt else None
    slow_seconds = float(opt.get("--slow-seconds", "1.5"))
    once = {"vanish": opt.get("--vanish"), "cut": opt.get("--cut")}
    honour = "--if-none-match" in opt
    sse = opt.get("--sse")
    sse_header = {"kms": ("x-amz-server-side-encryption", "aws:kms"),
                  "dsse": ("x-amz-server-side-encryption", "aws:kms:dsse"),
                  "c": ("x-amz-server-side-encryption-customer-algorithm", "AES256")}.get(sse)
    fake_etags = {}  # the ETag answered -> s3rver's, for CompleteMultipartUpload
    lock = threading.Lock()
    counter = [0]

    def next_action():
        with lock:
            n = counter[0]
            counter[0] += 1
            if rng:
                a = rng.choice(FAULTS) if rng.random() < rate else "ok"
            else:
                a = schedule[n % len(schedule)]
        return n, a

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def error(self, key):
            status, code, msg = ERRORS[key]
            region = "<Region>eu-west-1</Region>" if key == "region" else ""
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                    "<Message>%s</Message>%s</Error>" % (code, msg, region)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def reset(self):
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass

        def handle_any(self):
            n, a = next_action()
            if slow_match and slow_match.search("%s %s" % (self.command, self.path)):
                a = "slow"
            asked = "".join(" %s=%s" % (h, self.headers[h]) for h in (
                "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
                "if-none-match") if h in self.headers)
            log.write("%d %s %s %s%s\n" % (n, a, self.command, self.path, asked))
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else None
            if max_keys and "list-type=2" in self.path:
                self.path = re.sub(r"max-keys=[0-9]+", "max-keys=" + max_keys, self.path)
            if no_batch and self.command == "POST" and re.search(r"[?&]delete(=|&|$)", self.path):
                body = b"<Error><Code>NotImplemented</Code><Message>no</Message></Error>"
                self.send_response(501)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            with lock:
                first = {k: v for k, v in once.items() if v and self.command == "GET" and v == self.path}
                for k in first:
                    once[k] = None
            if "vanish" in first:
                c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
                c.request("DELETE", self.path)
                c.getresponse().read()
                c.close()
            if "cut" in first:
                a = "truncate"
            if a in ("500", "503", "429", "sig", "region", "skew"):
                return self.error(a)
            if (honour and self.headers.get("If-None-Match") == "*" and
                    (self.command == "PUT" or "uploadId=" in self.path)):
                c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
                c.request("HEAD", self.path.split("?")[0], headers={
                    k: v for k, v in self.headers.items()
                    if k.lower() not in ("content-length", "content-md5", "if-none-match")})
                exists = c.getresponse().status == 200
                c.close()
                if exists:
                    body = (b"<Error><Code>PreconditionFailed</Code>"
                            b"<Message>At least one of the pre-conditions you specified did "
                            b"not hold</Message></Error>")
                    self.send_response(412)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
            if sse and self.command == "POST" and "uploadId=" in self.path and body:
                with lock:
                    for fake, real in fake_etags.items():
                        body = body.replace(fake.encode(), real.encode())
            if a == "reset":
                return self.reset()
            if a == "slow":
                time.sleep(slow_seconds)
            status, reason, hdrs, data = http_forward.request(upstream, self, body)
            if a == "500after":
                return self.error("500")
            if a == "resetafter":
                return self.reset()
            asked_token = re.search(r"[?&]continuation-token=([^&]*)", self.path)
            if loop_listing and status == 200 and asked_token:
                token = urllib.parse.unquote(asked_token.group(1))
                token = token.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                data = re.sub(rb"<NextContinuationToken>[^<]*</NextContinuationToken>", b"", data)
                data = re.sub(rb"<IsTruncated>[^<]*</IsTruncated>",
                              b"<IsTruncated>true</IsTruncated><NextContinuationToken>" +
                              token.encode() + b"</NextContinuationToken>", data)
            if sse and self.command == "PUT" and status == 200:
                real = dict((k.lower(), v) for k, v in hdrs).get("etag", "")
                fake = '"%s"' % hashlib.md5(b"sse" + (body or b"")).hexdigest()
                with lock:
                    fake_etags[fake.strip('"')] = real.strip('"')
                hdrs = [(k, fake if k.lower() == "etag" else v) for k, v in hdrs]
                if sse_header:
                    hdrs.append(sse_header)
            if not http_forward.send_head(self, status, reason, hdrs, data):
                return
            if a == "truncate" and len(data) > 1:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                return self.reset()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    http_forward.serve(H, port_file)


if __name__ == "__main__":
    main()
