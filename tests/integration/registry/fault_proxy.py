#!/usr/bin/env python3
"""Test helpers that sit in front of a registry (stdlib only).

  fault_proxy.py proxy --port P --upstream HOST:PORT --log F [--fault SPEC]... [--redirect-blobs URL]
      Forwards every request to the registry, logging "METHOD PATH STATUS" lines to F.
      --fault 'METHOD REGEX ACTION COUNT': the first COUNT requests whose method and path match
      get ACTION instead of the registry's answer: 500 / 503 (an error status), 429 (with
      Retry-After: 1), or drop (forward, send the headers and half the body, then close the
      connection), corrupt (forward, with one byte of the body changed), or schema1 (answer a
      Docker schema 1 manifest). --redirect-blobs URL: a blob GET is answered 307 to URL/<digest>.
  fault_proxy.py blobstore --port P --root REGISTRY_DATA_DIR --log F
      Serves /<digest> from the registry's filesystem storage, logging the request headers of
      each request (JSON lines) to F: the "second host" that a redirect points to.
"""
import argparse
import http.client
import json
import os
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "trailer"}


def proxy(args):
    faults = []
    for spec in args.fault:
        method, regex, action, count = spec.split(" ")
        faults.append({"method": method, "re": re.compile(regex), "action": action, "left": int(count)})
    lock = threading.Lock()

    def log(line):
        with lock, open(args.log, "a") as f:
            f.write(line + "\n")

    def take_fault(method, path):
        with lock:
            for f in faults:
                if f["left"] > 0 and f["method"] in (method, "*") and f["re"].search(path):
                    f["left"] -= 1
                    return f["action"]
        return None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def simple(self, status, headers=(), body=b""):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            action = take_fault(self.command, self.path)
            if action in ("500", "502", "503", "429"):
                self.rfile_drained = True
                headers = [("Retry-After", "1")] if action == "429" else []
                log(f"{self.command} {self.path} {action} fault")
                return self.simple(int(action), headers, b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}')
            if action == "schema1":
                log(f"{self.command} {self.path} 200 schema1")
                doc = json.dumps({"schemaVersion": 1, "name": "app", "tag": "v1", "architecture": "amd64",
                                  "fsLayers": [], "history": [], "signatures": []}).encode()
                return self.simple(200, [("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")], doc)
            m = re.match(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$", self.path)
            if args.redirect_blobs and m and self.command == "GET":
                log(f"{self.command} {self.path} 307 redirect")
                return self.simple(307, [("Location", args.redirect_blobs.rstrip("/") + "/" + m.group(1))])
            conn = http.client.HTTPConnection(args.upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "content-length"}
            if length or self.command in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST", "PATCH") else None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read() if self.command != "HEAD" else b""
            log(f"{self.command} {self.path} {resp.status}" + (f" {action}" if action else ""))
            if action == "corrupt" and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", resp.getheader("Content-Length") if self.command == "HEAD" and resp.getheader("Content-Length") else str(len(data)))
            self.end_headers()
            if action == "drop" and len(data) > 1:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(data)
            conn.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


def blobstore(args):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            with lock, open(args.log, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items())}) + "\n")
            m = re.match(r"^/sha256:([0-9a-f]{64})$", self.path)
            path = m and os.path.join(args.root, "docker/registry/v2/blobs/sha256", m.group(1)[:2], m.group(1), "data")
            if not path or not os.path.exists(path):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = open(path, "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fault", action="append", default=[])
    p.add_argument("--redirect-blobs", default="")
    b = sub.add_parser("blobstore")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--root", required=True)
    b.add_argument("--log", required=True)
    args = ap.parse_args()
    proxy(args) if args.mode == "proxy" else blobstore(args)


if __name__ == "__main__":
    sys.exit(main())
