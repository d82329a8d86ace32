"""Fixtures for token verification: RSA keys, signed tokens and a real local JWKS server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt_testkit import (
    CLIENT_ID,
    ISSUER,
    POOL_ID,
    REGION,
    FakeClock,
    JWKSServer,
    MakeToken,
    jwks_doc,
    new_key,
)

from fsm_auth.config import UserPoolConfig


@pytest.fixture(scope="session")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """Private keys by kid: two the pool publishes and one it does not."""
    return {"kid-1": new_key(), "kid-2": new_key(), "rogue": new_key()}


@pytest.fixture(scope="session")
def _server_process() -> Iterator[JWKSServer]:
    srv = JWKSServer()
    yield srv
    srv.close()


@pytest.fixture
def server(_server_process: JWKSServer, keys: dict[str, rsa.RSAPrivateKey]) -> JWKSServer:
    """The shared server, reset: serves kid-1 with status 200 and has counted no request."""
    srv = _server_process
    srv.document = jwks_doc(keys, "kid-1")
    srv.status = 200
    srv.raw_body = None
    srv.requests.clear()
    return srv


@pytest.fixture
def user_pool(server: JWKSServer) -> UserPoolConfig:
    return UserPoolConfig(
        pool_id=POOL_ID, app_client_id=CLIENT_ID, region=REGION, endpoint=server.endpoint
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


@pytest.fixture
def make_token(keys: dict[str, rsa.RSAPrivateKey], clock: FakeClock) -> MakeToken:
    """Sign a Cognito-shaped token; keyword arguments override claims (None removes one)."""

    def make(
        token_use: str = "id",
        *,
        kid: str | None = "kid-1",
        signing_kid: str | None = None,
        lifetime: float = 3600,
        headers: dict[str, Any] | None = None,
        algorithm: str = "RS256",
        key: Any = None,
        **overrides: Any,
    ) -> str:
        now = int(clock.now)
        claims: dict[str, Any] = {
            "sub": "5f0c1d2e-user-sub",
            "iss": ISSUER,
            "token_use": token_use,
            "iat": now,
            "auth_time": now,
            "exp": now + lifetime,
            "jti": f"jti-{time.monotonic_ns()}",
        }
        if token_use == "id":
            claims.update({"aud": CLIENT_ID, "cognito:username": "alice"})
        else:
            claims.update({"client_id": CLIENT_ID, "username": "alice", "scope": "openid"})
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        hdr = dict(headers or {})
        if kid is not None:
            hdr["kid"] = kid
        signer = key if key is not None else keys[signing_kid or kid or "kid-1"]
        return jwt.encode(claims, signer, algorithm=algorithm, headers=hdr)

    return make
