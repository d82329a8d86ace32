"""The JWKS endpoint: each pool's own public keys at ``/<pool id>/.well-known/jwks.json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _moto
from ._keys import keys_of


class JwksLayer:
    """Answers ``GetJwks`` with the pool's own keys (moto serves one key for every pool)."""

    def __init__(self, patch_pools: Callable[[], None]) -> None:
        self.patch_pools = patch_pools

    def document(self, operation: str, path: str) -> tuple[int, dict[str, Any]] | None:
        """(status, JSON document) for a JWKS request; ``None`` lets moto answer the rest
        (the OpenID configuration, which moto already makes per pool)."""
        if operation != "GetJwks":
            return None
        parts = [p for p in path.split("/") if p]
        pool_id = parts[-3] if len(parts) >= 3 else ""
        # Pools made through the admin API are patched on first sight, as for requests.
        self.patch_pools()
        pool = _moto.idp().user_pools.get(pool_id)
        if pool is None:
            # An unknown pool has no keys: not moto's shared key for any id.
            return 404, {"message": f"User pool {pool_id} does not exist."}
        return 200, keys_of(pool).jwks()
