"""JWKSCache against a real local HTTP server: fetch, cache, refetch, rate limit, failures."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from jwt_testkit import POOL_ID, REGION, FakeClock, JWKSServer, jwks_doc

from fsm_auth.config import UserPoolConfig
from fsm_auth.errors import NetworkError, NotAuthorizedError
from fsm_auth.session._jwt import JWKSCache, jwks_url


def cache_for(server: JWKSServer, **kwargs: Any) -> JWKSCache:
    return JWKSCache(f"{server.endpoint}/{POOL_ID}/.well-known/jwks.json", **kwargs)


def test_jwks_url_aws_form_without_endpoint() -> None:
    pool = UserPoolConfig(pool_id=POOL_ID, app_client_id="c", region=REGION)
    assert jwks_url(pool) == (
        f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}/.well-known/jwks.json"
    )


def test_jwks_url_under_endpoint_override() -> None:
    pool = UserPoolConfig(
        pool_id=POOL_ID, app_client_id="c", region=REGION, endpoint="http://127.0.0.1:9/"
    )
    assert jwks_url(pool) == f"http://127.0.0.1:9/{POOL_ID}/.well-known/jwks.json"


def test_fetched_lazily_once_then_cached(server: JWKSServer) -> None:
    cache = cache_for(server)
    assert server.requests == []  # nothing on construction
    key = cache.get_key("kid-1")
    assert cache.get_key("kid-1") is key
    assert server.requests == [f"/{POOL_ID}/.well-known/jwks.json"]
    assert cache.kids == {"kid-1"}


def test_unknown_kid_refetches_and_finds_rotated_key(server: JWKSServer, keys: Any) -> None:
    mono = FakeClock(100.0)
    cache = cache_for(server, monotonic=mono)
    cache.get_key("kid-1")
    server.document = jwks_doc(keys, "kid-1", "kid-2")  # the pool rotates in a new key
    mono.now += 10  # past min_fetch_interval
    cache.get_key("kid-2")
    assert len(server.requests) == 2
    assert cache.kids == {"kid-1", "kid-2"}


def test_unknown_kid_is_rate_limited_per_kid(server: JWKSServer) -> None:
    mono = FakeClock(100.0)
    cache = cache_for(server, monotonic=mono, refetch_interval=60, min_fetch_interval=5)
    cache.get_key("kid-1")
    mono.now += 10
    with pytest.raises(NotAuthorizedError, match="key id"):
        cache.get_key("random")  # fetches once: the kid is really absent
    assert len(server.requests) == 2
    for _ in range(20):
        mono.now += 1  # well past min_fetch_interval, still inside refetch_interval
        with pytest.raises(NotAuthorizedError):
            cache.get_key("random")
    assert len(server.requests) == 2
    mono.now += 60  # refetch_interval has passed: one more try is allowed
    with pytest.raises(NotAuthorizedError):
        cache.get_key("random")
    assert len(server.requests) == 3


def test_many_random_kids_fetch_at_most_once_per_min_interval(server: JWKSServer) -> None:
    mono = FakeClock(100.0)
    cache = cache_for(server, monotonic=mono, min_fetch_interval=5)
    cache.get_key("kid-1")
    for i in range(50):
        mono.now += 0.5
        with pytest.raises(NotAuthorizedError):
            cache.get_key(f"random-{i}")
    # 25 seconds of random kids at one every 0.5 s: one fetch per 5 s at most.
    assert 1 + 4 <= len(server.requests) <= 1 + 5


def test_concurrent_callers_share_one_fetch(server: JWKSServer) -> None:
    cache = cache_for(server)
    barrier = threading.Barrier(16)
    results: list[Any] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.get_key("kid-1"))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    assert len(server.requests) == 1


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{POOL_ID}/.well-known/jwks.json"


def test_connection_refused_is_network_error_and_rate_limited() -> None:
    mono = FakeClock(100.0)
    cache = JWKSCache(closed_port_url(), monotonic=mono, timeout=2)
    with pytest.raises(NetworkError, match="cannot fetch the JWKS"):
        cache.get_key("kid-1")
    # A failed fetch is rate-limited too (issue 9): the next call says why without a request...
    with pytest.raises(NetworkError, match="rate-limited"):
        cache.get_key("kid-1")
    assert cache.fetch_count == 1
    # ...and once the interval has passed, the failure proved nothing about the kid: try again.
    mono.now += 5
    with pytest.raises(NetworkError, match="cannot fetch the JWKS"):
        cache.get_key("kid-1")
    assert cache.fetch_count == 2


def test_http_error_status_is_network_error(server: JWKSServer) -> None:
    server.status = 503
    with pytest.raises(NetworkError, match="HTTP 503"):
        cache_for(server).get_key("kid-1")


@pytest.mark.parametrize(
    "body", [b"<html>captive portal</html>", b'{"nokeys": []}', b'{"keys": [{"kty": "EC"}]}']
)
def test_unusable_body_is_network_error(server: JWKSServer, body: bytes) -> None:
    server.raw_body = body
    with pytest.raises(NetworkError, match="unusable"):
        cache_for(server).get_key("kid-1")


def test_failure_then_recovery(server: JWKSServer) -> None:
    mono = FakeClock(100.0)
    cache = cache_for(server, monotonic=mono)
    server.status = 500
    with pytest.raises(NetworkError):
        cache.get_key("kid-1")
    server.status = 200
    mono.now += 5  # past the rate limit, which applies after a failure too
    assert cache.get_key("kid-1") is not None
    assert len(server.requests) == 2


def test_export_load_round_trip_needs_no_network(server: JWKSServer, keys: Any) -> None:
    server.document = jwks_doc(keys, "kid-1", "kid-2")
    first = cache_for(server)
    first.get_key("kid-1")
    exported = first.export()
    assert {k["kid"] for k in exported["keys"]} == {"kid-1", "kid-2"}
    assert all("d" not in k for k in exported["keys"])  # public parts only

    offline = JWKSCache(closed_port_url())
    offline.load(exported)
    assert offline.kids == {"kid-1", "kid-2"}
    assert offline.get_key("kid-2").public_numbers() == keys["kid-2"].public_key().public_numbers()
    assert offline.fetch_count == 0
    assert offline.export() == exported


def test_unknown_kid_after_load_still_refetches(server: JWKSServer, keys: Any) -> None:
    cache = cache_for(server)
    cache.load(jwks_doc(keys, "kid-1"))
    server.document = jwks_doc(keys, "kid-2")
    assert cache.get_key("kid-2") is not None
    assert len(server.requests) == 1
    assert cache.kids == {"kid-2"}


@pytest.mark.parametrize("doc", [{}, {"keys": "x"}, {"keys": []}, [], {"keys": [{"kid": 1}]}])
def test_load_rejects_a_document_without_usable_keys(doc: Any) -> None:
    with pytest.raises(ValueError, match="JWKS"):
        JWKSCache("http://127.0.0.1:9/x").load(doc)
