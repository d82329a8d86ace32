"""The one rule for handing out something that expires (tokens, AWS credentials): it must have
more than ``min_validity`` seconds left. The machine, its caches' callers and the saved-session
read path of ``fsm-auth credentials`` all ask :func:`servable`, so a cold start serves exactly
what a running client would."""

from __future__ import annotations

__all__ = ["DEFAULT_MIN_VALIDITY", "servable"]

DEFAULT_MIN_VALIDITY = 30.0
"""Seconds a token or credential must still be valid to be handed out, unless the client is
told otherwise (``AuthClient.from_config(min_validity=...)``)."""


def servable(expires_at: float, now: float, min_validity: float) -> bool:
    """Whether a value expiring at ``expires_at`` may be handed out at ``now`` (epoch seconds,
    in the service's time): more than ``min_validity`` seconds are left."""
    return expires_at - now > min_validity
