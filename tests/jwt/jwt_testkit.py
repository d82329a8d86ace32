"""Helpers for the token tests: constants, signed-JWKS documents, a real local JWKS server
and a hand-moved clock. (Named uniquely: test directories here are not packages.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

REGION = "us-east-1"
POOL_ID = "us-east-1_TestPool1"
CLIENT_ID = "testclient0123456789abcdef"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"

MakeToken = Callable[..., str]


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return dict(jwk)


def jwks_doc(keys: dict[str, rsa.RSAPrivateKey], *kids: str) -> dict[str, Any]:
    return {"keys": [public_jwk(kid, keys[kid]) for kid in kids]}


class JWKSServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS document; counts requests."""

    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        self.status = 200
        self.raw_body: bytes | None = None
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.raw_body
                if body is None:
                    body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeClock:
    """An injected clock: seconds that a test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
