#!/usr/bin/env python3
"""A small Docker token server (the protocol of docs.docker.com/registry/spec/auth/token/) for
the registry tests: GET /token?service=S&scope=repository:NAME:ACTIONS... with optional Basic
credentials answers {"token", "access_token", "expires_in", "issued_at"}. Tokens are JWTs
signed RS256 with KEY (openssl does the signing: python's stdlib has no RSA), carrying the
signing certificate in x5c; the registry trusts it through its rootcertbundle.

Known users get every action they ask for; anonymous callers get pull only (a public
registry); wrong credentials get 401. Every request is logged (path and whether it carried
credentials) to --log, one JSON object a line.

Usage: token_server.py --port P --key KEY --cert CERT --issuer I --user NAME:PASSWORD... --log F
"""
import argparse
import base64
import json
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64(cert_path: str) -> str:
    pem = open(cert_path).read()
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    return body  # x5c holds standard base64 DER


def sign(key_path: str, data: bytes) -> bytes:
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=data,
                          capture_output=True, check=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--issuer", default="imgbuild-test-token-server")
    ap.add_argument("--user", action="append", default=[])
    ap.add_argument("--log", required=True)
    ap.add_argument("--expires", type=int, default=300)
    args = ap.parse_args()
    users = dict(u.split(":", 1) for u in args.user)
    x5c = [cert_der_b64(args.cert)]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def reply(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            q = parse_qs(url.query)
            auth = self.headers.get("Authorization", "")
            user = None
            if auth.startswith("Basic "):
                try:
                    name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                except Exception:
                    name, pw = "", ""
                if users.get(name) != pw:
                    self.record(url.path, q, "refused")
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "wrong credentials"}]},
                                      [("WWW-Authenticate", 'Basic realm="token"')])
                user = name
            self.record(url.path, q, user or "anonymous")
            access = []
            for scope in q.get("scope", []):
                for part in scope.split(" "):
                    typ, _, rest = part.partition(":")
                    name, _, actions = rest.rpartition(":")
                    wanted = [a for a in actions.split(",") if a]
                    granted = wanted if user else [a for a in wanted if a == "pull"]
                    access.append({"type": typ, "name": name, "actions": granted})
            now = int(time.time())
            header = {"typ": "JWT", "alg": "RS256", "x5c": x5c}
            claims = {"iss": args.issuer, "sub": user or "", "aud": q.get("service", [""])[0], "exp": now + args.expires,
                      "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
            signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
            token = signing_input.decode() + "." + b64url(sign(args.key, signing_input))
            self.reply(200, {"token": token, "access_token": token, "expires_in": args.expires,
                             "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})

        def record(self, path, q, who):
            with lock, open(args.log, "a") as f:
                f.write(json.dumps({"path": path, "scope": q.get("scope", []), "service": q.get("service", [""])[0],
                                    "who": who}) + "\n")

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
