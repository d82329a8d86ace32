"""A JWKS answer that is deeply nested or carries a huge number (issue 9, item 5) ends as
``NetworkError`` (an ``AuthError``) saying the JWKS is unusable, never ``RecursionError`` or
``ValueError``. The server is a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fsm_auth.errors import AuthError, NetworkError
from fsm_auth.session._jwt import JWKSCache


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    body = b""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"keys": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"keys": [{"kid": "k", "kty": "RSA", "e": ' + b"9" * 5000 + b"}]}",
        b'{"keys": [{"kid": "k", "kty": "RSA", "n": ' + b"[" * 40 + b"]" * 40 + b"}]}",
    ],
    ids=["nested-100000", "number-5000-digits", "nested-key-member"],
)
def test_a_hostile_jwks_is_unusable_not_a_python_error(jwks_server: _Server, body: bytes) -> None:
    jwks_server.body = body
    port = jwks_server.server_address[1]
    cache = JWKSCache(f"http://127.0.0.1:{port}/pool/.well-known/jwks.json")
    with pytest.raises(AuthError) as caught:
        cache.get_key("k")
    assert isinstance(caught.value, NetworkError)
    assert "unusable" in str(caught.value)
