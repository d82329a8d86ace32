"""The session layer: self-refreshing caches, token verification, the persistent store and
the identity-pool session."""

from fsm_auth.session._cache import Expiring, RefreshingCache
from fsm_auth.session._identity import IdentitySession
from fsm_auth.session._jwt import JWKSCache, TokenVerifier, jwks_url
from fsm_auth.session._store import FileSessionStore, MemorySessionStore, SessionStore
from fsm_auth.session._user_pool import UserPoolTokens, clear_jwks_caches

__all__ = [
    "Expiring",
    "FileSessionStore",
    "IdentitySession",
    "JWKSCache",
    "MemorySessionStore",
    "RefreshingCache",
    "SessionStore",
    "TokenVerifier",
    "UserPoolTokens",
    "clear_jwks_caches",
    "jwks_url",
]
