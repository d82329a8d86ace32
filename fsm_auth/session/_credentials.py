"""Asking the identity pool for a session's identity and AWS credentials.

The requests follow the pure rules of :mod:`._identity_ids`: which id to ask for, and, when the
pool does not know a kept id, forgetting it and asking for a new one once. An answer comes back
as the credentials plus the record change they make (``update``), which the machine applies to
the record that is current when it commits, so nothing here holds session state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from fsm_auth.errors import GuestAccessNotAllowedError, ResourceNotFoundError
from fsm_auth.provider import IdentityPoolProvider
from fsm_auth.values import AWSCredentials

from . import _identity_ids as rules
from ._record import FederatedSession, SessionRecord, User

__all__ = ["IdentityAnswer", "IdentityRequests"]

RecordUpdate = Callable[[SessionRecord], SessionRecord]


@attrs.frozen(repr=False)
class IdentityAnswer:
    """Credentials from the pool, and the record change their answer makes."""

    credentials: AWSCredentials
    update: RecordUpdate

    def __repr__(self) -> str:
        return f"IdentityAnswer({self.credentials!r})"


class IdentityRequests:
    """GetId and GetCredentialsForIdentity for users and guests, by the identity rules.

    ``federated`` and ``guest`` build the providers of the two kinds of identity (on first use:
    they raise ``IdentityPoolNotConfiguredError`` when there is no identity pool).
    """

    def __init__(
        self,
        *,
        federated: Callable[[], IdentityPoolProvider],
        guest: Callable[[], IdentityPoolProvider],
    ) -> None:
        self._federated = federated
        self._guest = guest

    def for_user(
        self, record: SessionRecord, user: User, logins: Mapping[str, str]
    ) -> IdentityAnswer:
        """The identity and credentials of ``user`` (who is, or is about to be, ``record``'s
        user), proved by ``logins``. Raises the provider's errors (``NotAuthorizedError``:
        the logins were refused; ``NetworkError``: nothing changes)."""
        provider = self._federated()
        given = user.identity_id if isinstance(user, FederatedSession) else None
        # The provider's rules first (a developer-authenticated login needs its own id...):
        # a login it cannot take is refused before any request, whatever id would be offered.
        provider.check_logins(logins, identity_id=given)
        role = user.custom_role_arn if isinstance(user, FederatedSession) else None
        plan = rules.plan_for_user(record.signed_in(user))

        def ask(plan: rules.IdentityPlan) -> tuple[str, AWSCredentials]:
            identity_id = provider.get_identity_id(logins, identity_id=plan.identity_id)
            return provider.get_credentials(identity_id, logins, custom_role_arn=role)

        try:
            answered, credentials = ask(plan)
            forgotten: RecordUpdate = _unchanged
        except ResourceNotFoundError:
            retry = rules.forget(record.signed_in(user), plan)
            if retry is None:
                raise
            answered, credentials = ask(retry[1])
            forgotten = _forgetting(plan)
            plan = retry[1]
        session_id, used = user.session_id, plan

        def update(current: SessionRecord) -> SessionRecord:
            return rules.user_answered(forgotten(current), session_id, used, answered, credentials)

        return IdentityAnswer(credentials, update)

    def for_guest(self, record: SessionRecord) -> IdentityAnswer:
        """The guest identity and credentials (the kept guest id, else a new one). Raises
        ``GuestAccessNotAllowedError`` when the pool refuses unauthenticated identities."""
        provider = self._guest()
        plan = rules.plan_for_guest(record)

        def ask(plan: rules.IdentityPlan) -> tuple[str, AWSCredentials]:
            identity_id = provider.get_identity_id({}, identity_id=plan.identity_id)
            return provider.get_credentials(identity_id, {}, custom_role_arn=None)

        forgotten: RecordUpdate = _unchanged
        try:
            answered, credentials = ask(plan)
        except (GuestAccessNotAllowedError, ResourceNotFoundError):
            # The kept id may have been linked to a user or deleted since: start a new one
            # (if guest access itself is refused, GetId says so).
            retry = rules.forget(record, plan)
            if retry is None:
                raise
            answered, credentials = ask(retry[1])
            forgotten = _forgetting(plan)

        def update(current: SessionRecord) -> SessionRecord:
            return rules.guest_answered(forgotten(current), answered, credentials)

        return IdentityAnswer(credentials, update)


def _unchanged(record: SessionRecord) -> SessionRecord:
    return record


def _forgetting(plan: rules.IdentityPlan) -> RecordUpdate:
    def forget(record: SessionRecord) -> SessionRecord:
        retry = rules.forget(record, plan)
        return record if retry is None else retry[0]

    return forget
