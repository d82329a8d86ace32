"""The session record: who is signed in, how, and what the identity pool said, as one value.

The ``user_state`` engine owns one :class:`SessionRecord` and replaces it whole, in the same
step as the state, through a transition; nothing else holds session data. Every change is a
pure function from one record to the next, so a change computed from a record that has been
replaced meanwhile (a late answer) can be re-applied or refused by the machine, never merged by
hand.

::

    SessionRecord
    ├── user: UserPoolSession | FederatedSession | None     who is signed in (kept while the
    │                                                      user must sign in again)
    │   └── identity: AWSIdentity                          the authenticated identity id and
    │                                                      its latest AWS credentials
    ├── guest: GuestIdentity                               the guest identity, kept across
    │                                                      sign-in and sign-out until used up
    ├── devices: {username: DeviceSecret}                  this device as each user pool user
    │                                                      confirmed it (kept across sign-out:
    │                                                      a device is not a session)
    └── epoch                                              bumped by every sign-out (in memory)

The record holds secrets (tokens, credentials): its ``repr`` never shows them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs

from fsm_auth._devices import DeviceSecret
from fsm_auth.values import AWSCredentials, Tokens

__all__ = [
    "AWSIdentity",
    "FederatedSession",
    "GuestIdentity",
    "SessionRecord",
    "User",
    "UserPoolSession",
]

# Session ids tell two sessions of the same user apart (a sign-in replaces a session with an
# equal-looking one); they live in memory only, so a counter is enough.
_session_ids = itertools.count(1)


def _next_session_id() -> int:
    return next(_session_ids)


@attrs.frozen(repr=False)
class AWSIdentity:
    """What the identity pool answered for a session: its identity id and latest credentials."""

    identity_id: str | None = None
    credentials: AWSCredentials | None = None

    def __repr__(self) -> str:
        return f"AWSIdentity(identity_id={self.identity_id!r}, credentials={self.credentials!r})"


@attrs.frozen(repr=False)
class UserPoolSession:
    """A user signed in to the user pool: verified tokens and the keys that verified them.

    ``keys`` is the provider's verification material (a user pool's JWKS), saved with the
    session so that a restore verifies the tokens without the network. ``hosted_ui``: the
    user signed in through the hosted UI (its sign-out also ends the browser's session there).
    """

    kind: ClassVar[Literal["user_pool"]] = "user_pool"

    username: str
    tokens: Tokens
    keys: Mapping[str, Any] | None = attrs.field(default=None, eq=False)
    identity: AWSIdentity = AWSIdentity()
    session_id: int = attrs.field(factory=_next_session_id)
    hosted_ui: bool = False

    def with_tokens(self, tokens: Tokens) -> UserPoolSession:
        """The same session with refreshed tokens."""
        return attrs.evolve(self, tokens=tokens)

    def __repr__(self) -> str:
        return f"UserPoolSession(username={self.username!r}, session_id={self.session_id})"


@attrs.frozen(repr=False)
class FederatedSession:
    """A user federated to the identity pool with a provider's token.

    ``identity_id`` is the id given with the login (a developer-authenticated identity brings
    its own); the id the pool answered is in ``identity``.
    """

    kind: ClassVar[Literal["federated"]] = "federated"

    provider: str
    token: str
    identity_id: str | None = None
    custom_role_arn: str | None = None
    identity: AWSIdentity = AWSIdentity()
    session_id: int = attrs.field(factory=_next_session_id)

    def __repr__(self) -> str:
        return f"FederatedSession(provider={self.provider!r}, session_id={self.session_id})"


User = UserPoolSession | FederatedSession
"""Who is signed in: through the user pool, or federated to the identity pool."""


@attrs.frozen(repr=False)
class GuestIdentity:
    """The unauthenticated identity: its id and credentials, and whether guest access works.

    ``access`` is ``True`` once the pool gave a guest identity or credentials, ``False`` once
    it refused, ``None`` before either.
    """

    identity_id: str | None = None
    credentials: AWSCredentials | None = None
    access: bool | None = None

    def __repr__(self) -> str:
        return (
            f"GuestIdentity(identity_id={self.identity_id!r}, access={self.access!r}, "
            f"credentials={self.credentials!r})"
        )


@attrs.frozen(repr=False)
class SessionRecord:
    """The whole session as one immutable value; see the module docstring."""

    user: User | None = None
    guest: GuestIdentity = GuestIdentity()
    epoch: int = attrs.field(default=0, eq=False)
    devices: Mapping[str, DeviceSecret] = attrs.field(factory=dict)

    @property
    def user_session_id(self) -> int | None:
        """The session id of the signed-in user, or ``None``."""
        user = self.user
        return None if user is None else user.session_id

    @property
    def username(self) -> str | None:
        """The user pool user's name (also while the user must sign in again)."""
        user = self.user
        return user.username if isinstance(user, UserPoolSession) else None

    def info(self) -> dict[str, str]:
        """What a user-state listener is told: ``username`` or ``provider``."""
        user = self.user
        if isinstance(user, UserPoolSession):
            return {"username": user.username}
        if isinstance(user, FederatedSession):
            return {"provider": user.provider}
        return {}

    def signed_in(self, user: User) -> SessionRecord:
        """``user`` is signed in (replacing whoever was); the guest identity is kept."""
        return attrs.evolve(self, user=user)

    def signed_out(self) -> SessionRecord:
        """Nobody is signed in; the guest identity is kept; a sign-in in flight is outdated."""
        return attrs.evolve(self, user=None, epoch=self.epoch + 1)

    def with_user(self, user: User) -> SessionRecord:
        """The same session of the same user, updated (new tokens, identity, credentials)."""
        return attrs.evolve(self, user=user)

    def with_guest(self, guest: GuestIdentity) -> SessionRecord:
        """The guest identity updated."""
        return attrs.evolve(self, guest=guest)

    def device_of(self, name: str) -> DeviceSecret | None:
        """This device as user ``name`` confirmed it (``name``: the user name, or the alias
        the user signed in with when it was confirmed), or ``None``."""
        device = self.devices.get(name)
        if device is not None:
            return device
        for candidate in self.devices.values():
            if candidate.login == name:
                return candidate
        return None

    def with_device(self, username: str, device: DeviceSecret | None) -> SessionRecord:
        """User ``username``'s device replaced (``None``: dropped)."""
        devices = dict(self.devices)
        if device is None:
            devices.pop(username, None)
        else:
            devices[username] = device
        return attrs.evolve(self, devices=devices)

    def __repr__(self) -> str:
        return f"SessionRecord(user={self.user!r}, guest={self.guest!r}, epoch={self.epoch})"
