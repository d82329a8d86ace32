"""The session layer: the user-state machine that owns the session record, the record and its
saved form, the identity rules, self-refreshing caches, token verification and the stores."""

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
