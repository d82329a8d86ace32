"""The rules about a guest (unauthenticated) identity that both readers of a saved session
apply: the client restoring its record and the read path of ``fsm-auth credentials``
(:mod:`fsm_auth._saved_credentials`), which must answer as the client would. Plain values in,
plain values out; no attrs, so the read path can import them."""

from __future__ import annotations

__all__ = ["guest_access_enabled", "keeps_guest_credentials", "saved_guest_access"]


def saved_guest_access(identity_id: str | None, access: object) -> bool | None:
    """Whether guest access works, as a saved document says: its ``access`` when that is a
    boolean, else ``True`` when it keeps a guest identity (the pool gave one), else unknown."""
    if isinstance(access, bool):
        return access
    return True if identity_id is not None else None


def keeps_guest_credentials(identity_id: str | None, access: bool | None) -> bool:
    """Whether saved guest credentials are the guest's to serve. Credentials are an identity's,
    given while guests were allowed: without the identity, or with guest access since refused,
    they are not (kept, they would answer a signed-out client's try for guest credentials
    without the pool ever being asked, and the state could never move to ``guest``)."""
    return identity_id is not None and access is not False


def guest_access_enabled(
    has_identity_pool: bool, known: bool | None, configured: bool | None
) -> bool:
    """The guard ``guest_access_enabled``: there is an identity pool, and guest access is known
    to work (``known``) or, when that is unknown, the configuration says it is on."""
    if not has_identity_pool:
        return False
    return known if known is not None else bool(configured)
