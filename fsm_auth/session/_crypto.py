"""The session file's envelope: a small clear header, then AES-GCM ciphertext.

Layout (schema version 1)::

    "FSMAUTHS" (8) | version (1) | SHA-256 of the config key (32) | nonce (12) | ciphertext+tag

The whole header (magic, version, config digest) is the associated data, so neither the schema
version nor the configuration a session belongs to can be changed without the tag failing.
"""

from __future__ import annotations

import hashlib
import os
from typing import NamedTuple

__all__ = [
    "KEY_BYTES",
    "SCHEMA_VERSION",
    "Envelope",
    "EnvelopeError",
    "config_digest",
    "new_key",
    "open_envelope",
    "parse_envelope",
    "seal",
    "sealed_size",
]

MAGIC = b"FSMAUTHS"
SCHEMA_VERSION = 1
KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_DIGEST_BYTES = 32
_HEADER_BYTES = len(MAGIC) + 1 + _DIGEST_BYTES


class EnvelopeError(Exception):
    """The bytes are not a session this store can open; the message names why, never content."""


class Envelope(NamedTuple):
    """A parsed, not yet authenticated, session file (a named tuple, not an attrs class: the
    store's read path imports no attrs, see ``fsm_auth._saved_credentials``)."""

    version: int
    config_digest: bytes
    nonce: bytes
    ciphertext: bytes
    associated_data: bytes


def new_key() -> bytes:
    """Return a fresh random 256-bit AES key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def config_digest(config_key: str) -> bytes:
    """Return the digest that stands for ``config_key`` in the clear header."""
    return hashlib.sha256(b"fsm-auth config key\x00" + config_key.encode("utf-8")).digest()


def seal(key: bytes, plaintext: bytes, digest: bytes) -> bytes:
    """Encrypt ``plaintext`` for the configuration ``digest`` with a fresh random nonce."""
    header = MAGIC + bytes([SCHEMA_VERSION]) + digest
    nonce = os.urandom(_NONCE_BYTES)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header)


def sealed_size(plaintext_size: int) -> int:
    """The size of the file :func:`seal` makes of ``plaintext_size`` bytes (GCM adds no
    padding: header, nonce and tag are all it adds)."""
    return _HEADER_BYTES + _NONCE_BYTES + plaintext_size + _TAG_BYTES


def parse_envelope(blob: bytes) -> Envelope:
    """Split a session file into its parts; raise :class:`EnvelopeError` if it cannot be one."""
    if len(blob) <= len(MAGIC) and MAGIC.startswith(blob):
        raise EnvelopeError("truncated" if blob else "empty (truncated)")
    if blob[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("not a session file (bad header)")
    version = blob[len(MAGIC)]
    if version != SCHEMA_VERSION:
        raise EnvelopeError(
            f"unknown schema version {version} (this library reads {SCHEMA_VERSION})"
        )
    if len(blob) < _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES:
        raise EnvelopeError("truncated")
    header = blob[:_HEADER_BYTES]
    body = blob[_HEADER_BYTES:]
    return Envelope(
        version=version,
        config_digest=header[len(MAGIC) + 1 :],
        nonce=body[:_NONCE_BYTES],
        ciphertext=body[_NONCE_BYTES:],
        associated_data=header,
    )


def open_envelope(key: bytes, envelope: Envelope) -> bytes:
    """Authenticate and decrypt; raise :class:`EnvelopeError` if the tag does not verify."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(envelope.nonce, envelope.ciphertext, envelope.associated_data)
    except InvalidTag:
        raise EnvelopeError(
            "authentication failed (tampered, truncated, or encrypted with another key)"
        ) from None
