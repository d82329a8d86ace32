"""Signing keys: each user pool has its own, as in Cognito, and serves them as its JWKS.

moto signs every pool's tokens with one key shipped in its package (``kid`` "dummy"), so a
token from one pool verifies against any other pool's JWKS. Cognito gives each pool two RSA
keys, one for id tokens and one for access tokens (an id token and an access token of the same
session carry different ``kid`` values), and publishes both at
``/<pool id>/.well-known/jwks.json``. A pool gets its keys on first need (the first token it
signs, or the first JWKS request), so pools that never sign cost nothing.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Mapping
from typing import Any, Literal

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TokenUse = Literal["id", "access"]

_KEY_BITS = 2048  # Cognito's user pool signing keys are 2048-bit RSA (RS256)
_ATTRIBUTE = "_fsm_auth_signing_keys"
_LOCK = threading.Lock()


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@attrs.frozen
class SigningKey:
    """One RSA signing key: its ``kid`` and the private key (never in the ``repr``)."""

    kid: str
    private_key: rsa.RSAPrivateKey = attrs.field(repr=False)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh 2048-bit key; its ``kid`` is derived from the public key, Cognito-shaped
        (a 44-character base64 string)."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
        der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = base64.b64encode(hashlib.sha256(der).digest()).decode()
        return cls(kid, private_key)

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK, with the members Cognito's JWKS has."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "alg": "RS256",
            "e": _b64url_uint(numbers.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": _b64url_uint(numbers.n),
            "use": "sig",
        }


@attrs.frozen
class PoolKeys:
    """A user pool's two signing keys: one for id tokens, one for access tokens."""

    id_key: SigningKey
    access_key: SigningKey

    def for_use(self, token_use: TokenUse) -> SigningKey:
        """The key that signs tokens whose ``token_use`` is ``token_use``."""
        return self.id_key if token_use == "id" else self.access_key

    def by_kid(self) -> Mapping[str, SigningKey]:
        """Both keys by ``kid``."""
        return {self.id_key.kid: self.id_key, self.access_key.kid: self.access_key}

    def jwks(self) -> dict[str, Any]:
        """The pool's JWKS document (public keys only)."""
        return {"keys": [self.id_key.public_jwk(), self.access_key.public_jwk()]}


class KeyStock:
    """Keys made ahead of need by a background thread.

    A 2048-bit RSA key takes ~50 ms to make, and a pool needs two before its first token:
    made in advance (key generation releases the GIL), they are ready when a sign-in asks,
    instead of slowing that first answer. ``take`` never waits for the stock: when it is
    empty, the key is made on the spot.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._keys: list[SigningKey] = []
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start filling the stock (once per process; the thread is a daemon)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._fill, name="fsm-auth-emulator-keys", daemon=True
                )
                self._thread.start()
        self._wanted.set()

    @property
    def ready(self) -> int:
        """How many keys are in stock now."""
        with self._lock:
            return len(self._keys)

    def take(self) -> SigningKey:
        """A key from the stock, or a fresh one when the stock is empty."""
        with self._lock:
            key = self._keys.pop() if self._keys else None
        self._wanted.set()
        return key if key is not None else SigningKey.generate()

    def _short(self) -> bool:
        return self.ready < self.size

    def _fill(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            while self._short():
                key = SigningKey.generate()
                with self._lock:
                    self._keys.append(key)


STOCK = KeyStock()


def keys_of(pool: Any) -> PoolKeys:
    """The signing keys of a moto user pool, made on first use and kept on the pool.

    Kept on the pool object rather than in an emulator: moto's backends are per process, so
    two emulators in one process serve the same pools and must sign with the same keys.
    """
    keys: PoolKeys | None = getattr(pool, _ATTRIBUTE, None)
    if keys is not None:
        return keys
    with _LOCK:
        keys = getattr(pool, _ATTRIBUTE, None)
        if keys is None:
            keys = PoolKeys(STOCK.take(), STOCK.take())
            setattr(pool, _ATTRIBUTE, keys)
    return keys
