"""The session layer: the user-state machine that owns the session record, the record and its
saved form, the identity rules, self-refreshing caches, token verification and the stores."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsm_auth._lazy import lazy_attributes

if TYPE_CHECKING:
    from fsm_auth.session._cache import Expiring, RefreshingCache
    from fsm_auth.session._jwt import (
        JWKSCache,
        TokenVerifier,
        clear_jwks_caches,
        jwks_url,
        shared_jwks,
    )
    from fsm_auth.session._machine import SessionMachine
    from fsm_auth.session._record import (
        AWSIdentity,
        FederatedSession,
        GuestIdentity,
        SessionRecord,
        UserPoolSession,
    )
    from fsm_auth.session._redis import RedisSessionStore
    from fsm_auth.session._store import FileSessionStore, MemorySessionStore, SessionStore

# Loaded on first use: name -> module (importing the package loads none of them).
_LAZY = {
    "Expiring": "fsm_auth.session._cache",
    "RefreshingCache": "fsm_auth.session._cache",
    "JWKSCache": "fsm_auth.session._jwt",
    "TokenVerifier": "fsm_auth.session._jwt",
    "clear_jwks_caches": "fsm_auth.session._jwt",
    "jwks_url": "fsm_auth.session._jwt",
    "shared_jwks": "fsm_auth.session._jwt",
    "SessionMachine": "fsm_auth.session._machine",
    "AWSIdentity": "fsm_auth.session._record",
    "FederatedSession": "fsm_auth.session._record",
    "GuestIdentity": "fsm_auth.session._record",
    "SessionRecord": "fsm_auth.session._record",
    "UserPoolSession": "fsm_auth.session._record",
    "RedisSessionStore": "fsm_auth.session._redis",
    "FileSessionStore": "fsm_auth.session._store",
    "MemorySessionStore": "fsm_auth.session._store",
    "SessionStore": "fsm_auth.session._store",
}

__all__ = [
    "AWSIdentity",
    "Expiring",
    "FederatedSession",
    "FileSessionStore",
    "GuestIdentity",
    "JWKSCache",
    "MemorySessionStore",
    "RedisSessionStore",
    "RefreshingCache",
    "SessionMachine",
    "SessionRecord",
    "SessionStore",
    "TokenVerifier",
    "UserPoolSession",
    "clear_jwks_caches",
    "jwks_url",
    "shared_jwks",
]

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __all__)
