"""JWKSCache against hostile or broken JWKS servers (issue 9, item 3): refetches are
rate-limited whatever their outcome, the answer's size is capped without buffering it, and one
deadline bounds each fetch. Every server here is a real HTTP server on loopback."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from jwt_testkit import POOL_ID, FakeClock, jwks_doc

from fsm_auth.errors import NetworkError, NotAuthorizedError
from fsm_auth.session._jwt import JWKSCache

MIB = 1024 * 1024
MAX_JWKS_BYTES = 256 * 1024  # the cap (fsm_auth.session._jwt.MAX_JWKS_BYTES), kept literal here
Behaviour = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a hostile answer is what these tests cause


class HostileServer:
    """A real HTTP server on 127.0.0.1 whose answer is whatever ``behaviour`` writes."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests += 1
                # The client stopping to read is what these tests want.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server.behaviour(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = (
            f"http://127.0.0.1:{self.httpd.server_address[1]}/{POOL_ID}/.well-known/jwks.json"
        )
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile() -> Iterator[Callable[[Behaviour], HostileServer]]:
    started: list[HostileServer] = []

    def start(behaviour: Behaviour) -> HostileServer:
        server = HostileServer(behaviour)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def failing(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(503)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def test_300_unknown_kids_while_the_endpoint_fails_make_one_fetch(
    hostile: Callable[[Behaviour], HostileServer],
) -> None:
    server = hostile(failing)
    mono = FakeClock(100.0)
    cache = JWKSCache(server.url, monotonic=mono, min_fetch_interval=5)
    for i in range(300):
        # A failing endpoint is not a refusal of the token: NetworkError, never NotAuthorized.
        with pytest.raises(NetworkError, match="HTTP 503"):
            cache.get_key(f"unknown-{i}")
    assert server.requests == 1
    assert cache.fetch_count == 1


def test_failed_fetches_back_off_up_to_the_refetch_interval(
    hostile: Callable[[Behaviour], HostileServer],
) -> None:
    server = hostile(failing)
    mono = FakeClock(100.0)
    cache = JWKSCache(server.url, monotonic=mono, min_fetch_interval=5, refetch_interval=60)
    # One unknown kid a second for ten minutes against an endpoint that keeps failing.
    for i in range(600):
        with pytest.raises(NetworkError):
            cache.get_key(f"unknown-{i}")
        mono.now += 1
    # Intervals 5, 10, 20, 40, then 60 s: 5 fetches in the first 75 s, then one a minute.
    assert 12 <= server.requests <= 15


def test_recovery_after_failures(
    hostile: Callable[[Behaviour], HostileServer], keys: dict[str, Any]
) -> None:
    body = json.dumps(jwks_doc(keys, "kid-1")).encode()
    answers = {"status": 503}

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        if answers["status"] != 200:
            failing(handler)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server = hostile(flaky)
    mono = FakeClock(100.0)
    cache = JWKSCache(server.url, monotonic=mono)
    with pytest.raises(NetworkError):
        cache.get_key("kid-1")
    answers["status"] = 200
    with pytest.raises(NetworkError, match="rate-limited"):
        cache.get_key("kid-1")
    mono.now += 5
    assert cache.get_key("kid-1") is not None
    # Success resets the back-off: an unknown kid is judged on the fresh document.
    mono.now += 5
    with pytest.raises(NotAuthorizedError, match="key id"):
        cache.get_key("kid-9")
    assert server.requests == 3


def huge(*, declare_length: bool, keys: dict[str, Any]) -> Behaviour:
    """A valid JWKS followed by 256 MiB of padding in a member of its own."""
    head = json.dumps(jwks_doc(keys, "kid-1"))[:-1].encode() + b', "pad": "'
    chunk = b"x" * MIB
    total = len(head) + 256 * MIB + 2

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(total))
        else:
            handler.send_header("Connection", "close")  # the body ends when the socket does
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(head)
        for _ in range(256):
            handler.wfile.write(chunk)
        handler.wfile.write(b'"}')

    return behaviour


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "until-close"])
def test_a_256_mib_answer_is_refused_at_the_cap_without_buffering_it(
    hostile: Callable[[Behaviour], HostileServer], keys: dict[str, Any], declare_length: bool
) -> None:
    server = hostile(huge(declare_length=declare_length, keys=keys))
    cache = JWKSCache(server.url, timeout=30)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(NetworkError, match=f"larger than {MAX_JWKS_BYTES} bytes"):
            cache.get_key("kid-1")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"peak traced memory for a 256 MiB JWKS answer ({server.requests} request): "
          f"{peak / MIB:.2f} MiB")  # fmt: skip
    assert peak < 4 * MIB
    assert cache.kids == frozenset()


def test_an_answer_just_under_the_cap_is_read(
    hostile: Callable[[Behaviour], HostileServer], keys: dict[str, Any]
) -> None:
    document = jwks_doc(keys, "kid-1")
    document["pad"] = ""
    document["pad"] = "x" * (MAX_JWKS_BYTES - len(json.dumps(document).encode()))
    body = json.dumps(document).encode()
    assert len(body) == MAX_JWKS_BYTES

    def exact(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    assert JWKSCache(hostile(exact).url).get_key("kid-1") is not None


def test_a_chunked_answer_is_read(
    hostile: Callable[[Behaviour], HostileServer], keys: dict[str, Any]
) -> None:
    body = json.dumps(jwks_doc(keys, "kid-1", "kid-2")).encode()

    def chunked(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for i in range(0, len(body), 100):
            part = body[i : i + 100]
            handler.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")

    cache = JWKSCache(hostile(chunked).url)
    assert cache.get_key("kid-2") is not None
    assert cache.kids == {"kid-1", "kid-2"}


def dripping(*, phase: str, keys: dict[str, Any], seconds: float = 6.0) -> Behaviour:
    """Sends a valid answer a byte at a time, each byte within the socket timeout, taking
    ``seconds`` in all: in the body, or already in the headers."""
    body = json.dumps(jwks_doc(keys, "kid-1")).encode()

    def drip(handler: BaseHTTPRequestHandler, data: bytes) -> None:
        pause = seconds / len(data)
        for i in range(len(data)):
            handler.wfile.write(data[i : i + 1])
            handler.wfile.flush()
            time.sleep(pause)

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        if phase == "headers":
            drip(handler, b"HTTP/1.1 200 OK\r\nX-Padding: " + b"p" * 60 + b"\r\n")
            handler.wfile.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        drip(handler, body[:60])
        handler.wfile.write(body[60:])

    return behaviour


@pytest.mark.parametrize("phase", ["body", "headers"])
def test_a_dripping_server_cannot_hold_a_fetch_past_its_deadline(
    hostile: Callable[[Behaviour], HostileServer], keys: dict[str, Any], phase: str
) -> None:
    server = hostile(dripping(phase=phase, keys=keys))
    cache = JWKSCache(server.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(NetworkError, match=r"no complete answer within 1 s"):
        cache.get_key("kid-1")
    elapsed = time.monotonic() - started
    # Generous: the point is 1 s, not the 6 s the server takes (12 s in the issue).
    assert elapsed < 3.0, f"a 1 s fetch took {elapsed:.1f} s"


def test_a_compressed_answer_is_refused(hostile: Callable[[Behaviour], HostileServer]) -> None:
    def gzipped(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", "4")
        handler.end_headers()
        handler.wfile.write(b"\x1f\x8b\x08\x00")

    with pytest.raises(NetworkError, match="gzip-encoded"):
        JWKSCache(hostile(gzipped).url).get_key("kid-1")


def test_a_server_that_hangs_up_is_a_network_error(
    hostile: Callable[[Behaviour], HostileServer],
) -> None:
    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        handler.connection.shutdown(socket.SHUT_RDWR)

    with pytest.raises(NetworkError, match="cannot fetch the JWKS"):
        JWKSCache(hostile(hang_up).url, timeout=2).get_key("kid-1")
