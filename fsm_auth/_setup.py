"""What ``from_config`` builds a client from, for ``AuthClient`` and ``AsyncAuthClient``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fsm_auth.errors import InvalidParameterError

if TYPE_CHECKING:
    from fsm_auth.config import AuthConfig
    from fsm_auth.session._store import UnscopedSessionStore

__all__ = ["configure"]


def configure(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    storage_dir: str | os.PathLike[str] | None,
    store: UnscopedSessionStore | None,
    endpoint_url: str | None,
    min_validity: float,
    allow_insecure_endpoint: bool,
) -> tuple[AuthConfig, UnscopedSessionStore]:
    """What ``from_config`` builds a client from (either client's): the loaded configuration
    and the store (the default file store under ``storage_dir`` unless one is given)."""
    if not min_validity >= 0:
        raise InvalidParameterError("min_validity must be a number of seconds >= 0")
    from fsm_auth.config import load_config
    from fsm_auth.session import FileSessionStore

    config = load_config(
        source, endpoint_url=endpoint_url, allow_insecure_endpoint=allow_insecure_endpoint
    )
    return config, FileSessionStore(storage_dir) if store is None else store
