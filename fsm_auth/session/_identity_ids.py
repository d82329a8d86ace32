"""Which identity-pool identity to ask for, and what the pool's answer changes: pure rules.

Identity ids, as AWSMobileClient keeps them:

- The guest identity id is kept across guest sessions and offered to the pool when a user signs
  in, so the guest's data follows the user. The pool links the guest identity to the login
  (same id) or merges it into the login's existing identity (another id); either way the id
  the service answers wins, and the guest id is used up: it is no longer an unauthenticated
  identity, so the next guest session gets a new one.
- A kept id the pool no longer knows (``ResourceNotFound``, or a guest id since linked to a
  user) is forgotten and a new one asked for, once.
- An id given with the login (a developer-authenticated identity) is the identity's own: it is
  never offered away, replaced or forgotten.

Every function here maps a record (and what was asked and answered) to the next record, with
no I/O, so the rules are tested as a table and the machine applies them to whatever record is
current when the answer arrives.
"""

from __future__ import annotations

import attrs

from fsm_auth.values import AWSCredentials

from ._record import AWSIdentity, FederatedSession, GuestIdentity, SessionRecord

__all__ = [
    "IdentityPlan",
    "forget",
    "guest_answered",
    "guest_refused",
    "plan_for_guest",
    "plan_for_user",
    "user_answered",
]


@attrs.frozen
class IdentityPlan:
    """The identity id to ask credentials for (``None``: ask the pool for one first).

    ``offered_guest``: it is the kept guest id, offered to be linked to the login.
    ``explicit``: it was given with the login and must never be replaced.
    """

    identity_id: str | None
    offered_guest: bool = False
    explicit: bool = False


def plan_for_user(record: SessionRecord) -> IdentityPlan:
    """The identity to ask for on behalf of the signed-in user."""
    user = record.user
    if user is None:
        raise ValueError("plan_for_user needs a signed-in user")
    given = user.identity_id if isinstance(user, FederatedSession) else None
    if given is not None:
        return IdentityPlan(given, explicit=True)
    if user.identity.identity_id is not None:
        return IdentityPlan(user.identity.identity_id)
    if record.guest.identity_id is not None:
        return IdentityPlan(record.guest.identity_id, offered_guest=True)
    return IdentityPlan(None)


def plan_for_guest(record: SessionRecord) -> IdentityPlan:
    """The identity to ask for as a guest: the kept guest id, else a new one."""
    return IdentityPlan(record.guest.identity_id)


def user_answered(
    record: SessionRecord,
    session_id: int,
    plan: IdentityPlan,
    identity_id: str,
    credentials: AWSCredentials,
) -> SessionRecord:
    """The pool answered ``identity_id`` and ``credentials`` for the user of ``session_id``.

    The answered id wins; an offered guest id is used up. A record whose user is another
    session is returned unchanged (the machine refuses such a late answer anyway).
    """
    user = record.user
    if user is None or user.session_id != session_id:
        return record
    record = record.with_user(attrs.evolve(user, identity=AWSIdentity(identity_id, credentials)))
    if plan.offered_guest and record.guest.identity_id == plan.identity_id:
        record = record.with_guest(GuestIdentity(access=record.guest.access))
    return record


def guest_answered(
    record: SessionRecord, identity_id: str, credentials: AWSCredentials
) -> SessionRecord:
    """The pool gave the guest ``identity_id`` and ``credentials``: guest access works."""
    return record.with_guest(GuestIdentity(identity_id, credentials, access=True))


def guest_refused(record: SessionRecord) -> SessionRecord:
    """The pool refused guest access: known to be off, until it gives a guest identity."""
    return record.with_guest(attrs.evolve(record.guest, access=False))


def forget(record: SessionRecord, plan: IdentityPlan) -> tuple[SessionRecord, IdentityPlan] | None:
    """The pool does not know ``plan``'s id: forget it wherever it is kept and return the plan
    to try once more (ask for a new id), or ``None`` when there is nothing to retry (the id was
    given with the login, or was new already)."""
    gone = plan.identity_id
    if plan.explicit or gone is None:
        return None
    user = record.user
    if user is not None and user.identity.identity_id == gone:
        record = record.with_user(attrs.evolve(user, identity=AWSIdentity()))
    if record.guest.identity_id == gone:
        record = record.with_guest(GuestIdentity(access=record.guest.access))
    return record, IdentityPlan(None)
