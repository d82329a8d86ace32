"""The identity-id rules of ``fsm_auth.session._identity_ids`` as tables: record in, what was
asked and answered, record out. Pure functions: no provider, no server."""

from __future__ import annotations

import pytest

from fsm_auth.session._identity_ids import (
    IdentityPlan,
    forget,
    guest_answered,
    guest_refused,
    plan_for_guest,
    plan_for_user,
    user_answered,
)
from fsm_auth.session._record import AWSIdentity, SessionRecord

from ._factories import (
    DEV_ID,
    GUEST_ID,
    MERGED_ID,
    NEW_ID,
    OTHER_GUEST_ID,
    USER_ID,
    creds,
    federated_user,
    guest,
    pool_user,
    record,
)

OLD = creds("old")
ANSWERED = creds("answered")
GUEST_CREDS = creds("guest")

# -- which id is asked for --------------------------------------------------------------------

PLAN_FOR_USER = [
    pytest.param(record(pool_user()), IdentityPlan(None), id="new-user-no-guest:ask-new"),
    pytest.param(
        record(pool_user(), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(GUEST_ID, offered_guest=True),
        id="new-user-with-guest:offer-guest-id",
    ),
    pytest.param(
        record(pool_user(USER_ID, OLD), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(USER_ID),
        id="kept-user-id:ask-it-guest-not-offered",
    ),
    pytest.param(
        record(federated_user(USER_ID, OLD)),
        IdentityPlan(USER_ID),
        id="federated-kept-id",
    ),
    pytest.param(
        record(federated_user(given=DEV_ID), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(DEV_ID, explicit=True),
        id="developer-id:explicit-guest-not-offered",
    ),
    pytest.param(
        record(federated_user(MERGED_ID, OLD, given=DEV_ID)),
        IdentityPlan(DEV_ID, explicit=True),
        id="developer-id-wins-over-answered-id",
    ),
]


@pytest.mark.parametrize(("rec", "expected"), PLAN_FOR_USER)
def test_plan_for_user(rec: SessionRecord, expected: IdentityPlan) -> None:
    assert plan_for_user(rec) == expected


def test_plan_for_user_needs_a_user() -> None:
    with pytest.raises(ValueError, match="signed-in user"):
        plan_for_user(record(None, guest(GUEST_ID)))


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        pytest.param(record(), IdentityPlan(None), id="no-guest-id:ask-new"),
        pytest.param(
            record(None, guest(GUEST_ID, GUEST_CREDS, True)), IdentityPlan(GUEST_ID), id="kept"
        ),
        pytest.param(
            record(pool_user(USER_ID), guest(GUEST_ID)),
            IdentityPlan(GUEST_ID),
            id="user-id-never-used-as-guest",
        ),
    ],
)
def test_plan_for_guest(rec: SessionRecord, expected: IdentityPlan) -> None:
    plan = plan_for_guest(rec)
    assert plan == expected
    assert not plan.offered_guest
    assert not plan.explicit


def test_a_sign_out_before_the_offer_was_answered_keeps_the_guest_id() -> None:
    # Signed in with the guest id to offer, signed out before the pool answered: the guest id
    # was never used up, so the next guest session asks for it again.
    signed_in = record(pool_user(), guest(GUEST_ID, GUEST_CREDS, True))
    assert plan_for_user(signed_in) == IdentityPlan(GUEST_ID, offered_guest=True)
    signed_out = signed_in.signed_out()
    assert signed_out.user is None
    assert signed_out.guest == guest(GUEST_ID, GUEST_CREDS, True)
    assert plan_for_guest(signed_out) == IdentityPlan(GUEST_ID)
    # The offer's late answer is about a session that ended: the guest id stays the guest's.
    late = user_answered(signed_out, 1, IdentityPlan(GUEST_ID, offered_guest=True), GUEST_ID, OLD)
    assert late.guest.identity_id == GUEST_ID


def test_a_new_user_gets_none_of_the_old_users_identity() -> None:
    # Another user signs in over a signed-in user whose sign-in used the guest id up.
    before = record(federated_user(GUEST_ID, OLD), guest(None, None, True))
    switched = before.signed_in(federated_user(session_id=2))
    assert switched.user is not None
    assert switched.user.identity == AWSIdentity()  # the old user's id and credentials are gone
    assert plan_for_user(switched) == IdentityPlan(None)  # a new identity for the new user


# -- what the answer changes ------------------------------------------------------------------

USER_ANSWERED = [
    pytest.param(
        record(pool_user(), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(GUEST_ID, offered_guest=True),
        GUEST_ID,
        record(pool_user(GUEST_ID, ANSWERED), guest(None, None, True)),
        id="guest-linked:same-id-guest-used-up",
    ),
    pytest.param(
        record(pool_user(), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(GUEST_ID, offered_guest=True),
        MERGED_ID,
        record(pool_user(MERGED_ID, ANSWERED), guest(None, None, True)),
        id="guest-merged:answered-id-wins-guest-used-up",
    ),
    pytest.param(
        record(pool_user(), guest(GUEST_ID, GUEST_CREDS, False)),
        IdentityPlan(GUEST_ID, offered_guest=True),
        GUEST_ID,
        record(pool_user(GUEST_ID, ANSWERED), guest(None, None, False)),
        id="guest-used-up-keeps-access-flag",
    ),
    pytest.param(
        record(pool_user(), guest(OTHER_GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(GUEST_ID, offered_guest=True),
        GUEST_ID,
        record(pool_user(GUEST_ID, ANSWERED), guest(OTHER_GUEST_ID, GUEST_CREDS, True)),
        id="guest-replaced-meanwhile:new-guest-kept",
    ),
    pytest.param(
        record(pool_user(USER_ID, OLD), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(USER_ID),
        MERGED_ID,
        record(pool_user(MERGED_ID, ANSWERED), guest(GUEST_ID, GUEST_CREDS, True)),
        id="kept-id:answered-id-wins-guest-untouched",
    ),
    pytest.param(
        record(pool_user()),
        IdentityPlan(None),
        NEW_ID,
        record(pool_user(NEW_ID, ANSWERED)),
        id="new-id",
    ),
    pytest.param(
        record(federated_user(given=DEV_ID), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(DEV_ID, explicit=True),
        DEV_ID,
        record(federated_user(DEV_ID, ANSWERED, given=DEV_ID), guest(GUEST_ID, GUEST_CREDS, True)),
        id="developer-id:guest-never-offered-away",
    ),
    pytest.param(
        record(federated_user(given=DEV_ID)),
        IdentityPlan(DEV_ID, explicit=True),
        MERGED_ID,
        record(federated_user(MERGED_ID, ANSWERED, given=DEV_ID)),
        id="developer-id:given-id-never-replaced",
    ),
]


@pytest.mark.parametrize(("before", "plan", "answered", "after"), USER_ANSWERED)
def test_user_answered(
    before: SessionRecord, plan: IdentityPlan, answered: str, after: SessionRecord
) -> None:
    assert user_answered(before, 1, plan, answered, ANSWERED) == after


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(
            record(pool_user(session_id=2), guest(GUEST_ID, GUEST_CREDS, True)), id="other"
        ),
        pytest.param(record(None, guest(GUEST_ID, GUEST_CREDS, True)), id="signed-out"),
    ],
)
def test_user_answered_for_another_session_changes_nothing(before: SessionRecord) -> None:
    plan = IdentityPlan(GUEST_ID, offered_guest=True)
    after = user_answered(before, 1, plan, MERGED_ID, ANSWERED)
    assert after is before
    assert after.guest.identity_id == GUEST_ID


def test_user_answered_keeps_epoch() -> None:
    before = record(pool_user(), epoch=4)
    assert user_answered(before, 1, IdentityPlan(None), NEW_ID, ANSWERED).epoch == 4


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(record(), record(None, guest(NEW_ID, ANSWERED, True)), id="first"),
        pytest.param(
            record(None, guest(GUEST_ID, GUEST_CREDS, False)),
            record(None, guest(NEW_ID, ANSWERED, True)),
            id="after-refusal",
        ),
        pytest.param(
            record(pool_user(USER_ID, OLD), guest(None, None, None)),
            record(pool_user(USER_ID, OLD), guest(NEW_ID, ANSWERED, True)),
            id="user-untouched",
        ),
    ],
)
def test_guest_answered_sets_access(before: SessionRecord, after: SessionRecord) -> None:
    result = guest_answered(before, NEW_ID, ANSWERED)
    assert result == after
    assert result.guest.access is True


@pytest.mark.parametrize("access", [None, True])
def test_guest_refused_keeps_the_id(access: bool | None) -> None:
    before = record(pool_user(USER_ID, OLD), guest(GUEST_ID, GUEST_CREDS, access))
    after = guest_refused(before)
    assert after == record(pool_user(USER_ID, OLD), guest(GUEST_ID, GUEST_CREDS, False))
    assert after.guest.identity_id == GUEST_ID


# -- forgetting an id the pool no longer knows ------------------------------------------------

FORGET = [
    pytest.param(
        record(pool_user(USER_ID, OLD), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(USER_ID),
        record(pool_user(None, None), guest(GUEST_ID, GUEST_CREDS, True)),
        id="kept-user-id",
    ),
    pytest.param(
        record(federated_user(USER_ID, OLD)),
        IdentityPlan(USER_ID),
        record(federated_user(None, None)),
        id="kept-federated-id",
    ),
    pytest.param(
        record(pool_user(), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(GUEST_ID, offered_guest=True),
        record(pool_user(), guest(None, None, True)),
        id="offered-guest-id",
    ),
    pytest.param(
        record(None, guest(GUEST_ID, GUEST_CREDS, False)),
        IdentityPlan(GUEST_ID),
        record(None, guest(None, None, False)),
        id="guest-plan",
    ),
    pytest.param(
        record(pool_user(GUEST_ID, OLD), guest(GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(GUEST_ID),
        record(pool_user(None, None), guest(None, None, True)),
        id="kept-in-both-places",
    ),
    pytest.param(
        record(pool_user(MERGED_ID, OLD), guest(OTHER_GUEST_ID, GUEST_CREDS, True)),
        IdentityPlan(USER_ID),
        record(pool_user(MERGED_ID, OLD), guest(OTHER_GUEST_ID, GUEST_CREDS, True)),
        id="no-longer-kept:unchanged",
    ),
]


@pytest.mark.parametrize(("before", "plan", "after"), FORGET)
def test_forget_clears_the_kept_id_and_plans_a_new_one(
    before: SessionRecord, plan: IdentityPlan, after: SessionRecord
) -> None:
    result = forget(before, plan)
    assert result is not None
    forgotten, retry = result
    assert forgotten == after
    assert retry == IdentityPlan(None)


@pytest.mark.parametrize(
    ("before", "plan"),
    [
        pytest.param(
            record(federated_user(DEV_ID, OLD, given=DEV_ID), guest(DEV_ID, GUEST_CREDS, True)),
            IdentityPlan(DEV_ID, explicit=True),
            id="developer-id-never-forgotten",
        ),
        pytest.param(
            record(pool_user(), guest(GUEST_ID, GUEST_CREDS, True)),
            IdentityPlan(None),
            id="new-id-nothing-to-retry",
        ),
    ],
)
def test_forget_has_nothing_to_retry(before: SessionRecord, plan: IdentityPlan) -> None:
    assert forget(before, plan) is None


def test_forget_keeps_epoch_and_session() -> None:
    before = record(pool_user(USER_ID, OLD, session_id=9), epoch=3)
    result = forget(before, IdentityPlan(USER_ID))
    assert result is not None
    assert result[0].epoch == 3
    assert result[0].user_session_id == 9
