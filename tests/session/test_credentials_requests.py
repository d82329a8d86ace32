"""``IdentityRequests`` (``fsm_auth.session._credentials``) against fake identity-pool
providers: which requests it makes, in which order, and the record update of each answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from fsm_auth.errors import (
    GuestAccessNotAllowedError,
    IdentityPoolNotConfiguredError,
    InvalidParameterError,
    NetworkError,
    NotAuthorizedError,
    ResourceNotFoundError,
)
from fsm_auth.session._credentials import IdentityRequests
from fsm_auth.session._record import GuestIdentity, SessionRecord, UserPoolSession
from fsm_auth.values import AWSCredentials

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
    tokens,
)

LOGINS = {"cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1": "id-token-ann-1"}
GOOGLE = {"accounts.google.com": "google-token-of-ann"}
ROLE = "arn:aws:iam::123456789012:role/dev"


def creds_for(identity_id: str) -> AWSCredentials:
    return creds(identity_id.rsplit("-", 1)[-1])


class FakeIdentityPool:
    """An ``IdentityPoolProvider`` that records its calls.

    ``get_identity_id`` answers a given id as is (as the real provider does, without GetId) and
    makes a ``GetId`` for ``None``, answering ``new_ids`` in turn. ``unknown`` ids fail with
    ``ResourceNotFoundError`` (``refused`` ones with ``GuestAccessNotAllowedError``) at
    GetCredentialsForIdentity; ``answer_as`` maps an id asked for to the id the pool answers.
    """

    def __init__(
        self,
        *,
        new_ids: tuple[str, ...] = (NEW_ID,),
        unknown: tuple[str, ...] = (),
        refused: tuple[str, ...] = (),
        answer_as: Mapping[str, str] | None = None,
        bad_logins: bool = False,
        no_guests: bool = False,
    ) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.new_ids = list(new_ids)
        self.unknown = unknown
        self.refused = refused
        self.answer_as = dict(answer_as or {})
        self.bad_logins = bad_logins
        self.no_guests = no_guests

    def check_logins(self, logins: Mapping[str, str], *, identity_id: str | None) -> None:
        self.calls.append(("check_logins", dict(logins), identity_id))
        if self.bad_logins:
            raise InvalidParameterError("A developer-authenticated login needs its identity id")

    def get_identity_id(self, logins: Mapping[str, str], *, identity_id: str | None) -> str:
        self.calls.append(("get_identity_id", dict(logins), identity_id))
        if identity_id is not None:
            return identity_id
        self.calls.append(("GetId",))
        if self.no_guests and not logins:
            raise GuestAccessNotAllowedError("Unauthenticated access is not supported")
        return self.new_ids.pop(0)

    def get_credentials(
        self, identity_id: str, logins: Mapping[str, str], *, custom_role_arn: str | None
    ) -> tuple[str, AWSCredentials]:
        self.calls.append(("get_credentials", identity_id, dict(logins), custom_role_arn))
        if identity_id in self.unknown:
            raise ResourceNotFoundError(f"Identity '{identity_id}' not found.")
        if identity_id in self.refused:
            raise GuestAccessNotAllowedError("Access to Identity is forbidden")
        answered = self.answer_as.get(identity_id, identity_id)
        return answered, creds_for(answered)


def _unused() -> Any:
    raise AssertionError("this provider must not be built")


def user_requests(provider: FakeIdentityPool) -> IdentityRequests:
    return IdentityRequests(federated=lambda: provider, guest=_unused)


def guest_requests(provider: FakeIdentityPool) -> IdentityRequests:
    return IdentityRequests(federated=_unused, guest=lambda: provider)


def get_id(logins: Mapping[str, str], identity_id: str | None) -> tuple[Any, ...]:
    return ("get_identity_id", dict(logins), identity_id)


def get_credentials(
    identity_id: str, logins: Mapping[str, str], role: str | None = None
) -> tuple[Any, ...]:
    return ("get_credentials", identity_id, dict(logins), role)


# -- users ------------------------------------------------------------------------------------


def test_kept_id_is_asked_without_get_id() -> None:
    user = pool_user(USER_ID, creds("old"))
    current = record(user, guest(GUEST_ID, creds("guest"), True))
    provider = FakeIdentityPool()
    answer = user_requests(provider).for_user(current, user, LOGINS)
    assert provider.calls == [
        ("check_logins", LOGINS, None),
        get_id(LOGINS, USER_ID),
        get_credentials(USER_ID, LOGINS),
    ]
    assert answer.credentials == creds_for(USER_ID)
    assert answer.update(current) == record(
        pool_user(USER_ID, creds_for(USER_ID)), guest(GUEST_ID, creds("guest"), True)
    )


@pytest.mark.parametrize(
    ("answer_as", "expected_id"),
    [
        pytest.param({}, GUEST_ID, id="linked"),
        pytest.param({GUEST_ID: MERGED_ID}, MERGED_ID, id="merged"),
    ],
)
def test_guest_id_is_offered_at_sign_in_and_used_up(
    answer_as: dict[str, str], expected_id: str
) -> None:
    before = record(None, guest(GUEST_ID, creds("guest"), True))
    user = pool_user()
    provider = FakeIdentityPool(answer_as=answer_as)
    answer = user_requests(provider).for_user(before, user, LOGINS)
    assert provider.calls == [
        ("check_logins", LOGINS, None),
        get_id(LOGINS, GUEST_ID),
        get_credentials(GUEST_ID, LOGINS),
    ]
    assert ("GetId",) not in provider.calls
    assert answer.credentials == creds_for(expected_id)
    after = answer.update(before.signed_in(user))
    assert after == record(pool_user(expected_id, creds_for(expected_id)), guest(None, None, True))


def test_new_user_without_guest_gets_a_new_id() -> None:
    user = pool_user()
    provider = FakeIdentityPool()
    answer = user_requests(provider).for_user(record(), user, LOGINS)
    assert provider.calls == [
        ("check_logins", LOGINS, None),
        get_id(LOGINS, None),
        ("GetId",),
        get_credentials(NEW_ID, LOGINS),
    ]
    assert answer.update(record(user)) == record(pool_user(NEW_ID, creds_for(NEW_ID)))


def test_unknown_kept_id_is_forgotten_and_asked_anew_once() -> None:
    user = pool_user(USER_ID, creds("old"))
    current = record(user, guest(GUEST_ID, creds("guest"), True))
    provider = FakeIdentityPool(unknown=(USER_ID,))
    answer = user_requests(provider).for_user(current, user, LOGINS)
    assert provider.calls == [
        ("check_logins", LOGINS, None),
        get_id(LOGINS, USER_ID),
        get_credentials(USER_ID, LOGINS),
        get_id(LOGINS, None),
        ("GetId",),
        get_credentials(NEW_ID, LOGINS),
    ]
    assert answer.credentials == creds_for(NEW_ID)
    assert answer.update(current) == record(
        pool_user(NEW_ID, creds_for(NEW_ID)), guest(GUEST_ID, creds("guest"), True)
    )


def test_unknown_offered_guest_id_is_forgotten_and_asked_anew_once() -> None:
    before = record(None, guest(GUEST_ID, creds("guest"), True))
    user = pool_user()
    provider = FakeIdentityPool(unknown=(GUEST_ID,))
    answer = user_requests(provider).for_user(before, user, LOGINS)
    assert provider.calls == [
        ("check_logins", LOGINS, None),
        get_id(LOGINS, GUEST_ID),
        get_credentials(GUEST_ID, LOGINS),
        get_id(LOGINS, None),
        ("GetId",),
        get_credentials(NEW_ID, LOGINS),
    ]
    after = answer.update(before.signed_in(user))
    assert after == record(pool_user(NEW_ID, creds_for(NEW_ID)), guest(None, None, True))


def test_a_second_unknown_id_is_not_retried_again() -> None:
    user = pool_user(USER_ID, creds("old"))
    provider = FakeIdentityPool(unknown=(USER_ID, NEW_ID))
    with pytest.raises(ResourceNotFoundError):
        user_requests(provider).for_user(record(user), user, LOGINS)
    assert [c[0] for c in provider.calls].count("get_credentials") == 2
    assert provider.calls.count(("GetId",)) == 1


def test_explicit_id_not_found_propagates() -> None:
    user = federated_user(given=DEV_ID, role=ROLE)
    current = record(user, guest(GUEST_ID, creds("guest"), True))
    provider = FakeIdentityPool(unknown=(DEV_ID,))
    with pytest.raises(ResourceNotFoundError):
        user_requests(provider).for_user(current, user, GOOGLE)
    assert provider.calls == [
        ("check_logins", GOOGLE, DEV_ID),
        get_id(GOOGLE, DEV_ID),
        get_credentials(DEV_ID, GOOGLE, ROLE),
    ]


def test_explicit_id_is_asked_with_its_role_and_guest_not_offered() -> None:
    user = federated_user(given=DEV_ID, role=ROLE)
    current = record(user, guest(GUEST_ID, creds("guest"), True))
    provider = FakeIdentityPool()
    answer = user_requests(provider).for_user(current, user, GOOGLE)
    assert provider.calls == [
        ("check_logins", GOOGLE, DEV_ID),
        get_id(GOOGLE, DEV_ID),
        get_credentials(DEV_ID, GOOGLE, ROLE),
    ]
    after = answer.update(current)
    assert after == record(
        federated_user(DEV_ID, creds_for(DEV_ID), given=DEV_ID, role=ROLE),
        guest(GUEST_ID, creds("guest"), True),
    )


@pytest.mark.parametrize(
    "current",
    [
        pytest.param(record(None, guest(GUEST_ID, creds("guest"), True)), id="guest-offered"),
        pytest.param(record(pool_user(USER_ID)), id="kept-id"),
    ],
)
def test_refused_logins_make_no_request(current: SessionRecord) -> None:
    provider = FakeIdentityPool(bad_logins=True)
    user = current.user or pool_user()
    with pytest.raises(InvalidParameterError, match="identity id"):
        user_requests(provider).for_user(current, user, LOGINS)
    assert provider.calls == [("check_logins", LOGINS, None)]


def test_not_authorized_propagates_after_one_request() -> None:
    class Refusing(FakeIdentityPool):
        def get_credentials(self, *args: Any, **kwargs: Any) -> tuple[str, AWSCredentials]:
            super().get_credentials(*args, **kwargs)
            raise NotAuthorizedError("Invalid login token")

    provider = Refusing()
    user = pool_user(USER_ID)
    with pytest.raises(NotAuthorizedError):
        user_requests(provider).for_user(record(user), user, LOGINS)
    assert [c[0] for c in provider.calls] == ["check_logins", "get_identity_id", "get_credentials"]


class Unreachable(FakeIdentityPool):
    """The pool cannot be reached at GetCredentialsForIdentity."""

    def get_credentials(self, *args: Any, **kwargs: Any) -> tuple[str, AWSCredentials]:
        super().get_credentials(*args, **kwargs)
        raise NetworkError("Connection refused")


@pytest.mark.parametrize(
    "current",
    [
        pytest.param(record(pool_user(USER_ID, creds("old"))), id="kept-user-id"),
        pytest.param(record(None, guest(GUEST_ID, creds("guest"), True)), id="offered-guest-id"),
    ],
)
def test_a_network_failure_forgets_no_id(current: SessionRecord) -> None:
    # Unlike an id the pool does not know, an unreachable pool is no reason to ask anew.
    provider = Unreachable()
    user = current.user or pool_user()
    kept = USER_ID if current.user is not None else GUEST_ID
    with pytest.raises(NetworkError):
        user_requests(provider).for_user(current, user, LOGINS)
    assert provider.calls == [
        ("check_logins", LOGINS, None),
        get_id(LOGINS, kept),
        get_credentials(kept, LOGINS),
    ]


def test_a_network_failure_forgets_no_guest_id() -> None:
    provider = Unreachable()
    with pytest.raises(NetworkError):
        guest_requests(provider).for_guest(record(None, guest(GUEST_ID, creds("guest"), True)))
    assert provider.calls == [get_id({}, GUEST_ID), get_credentials(GUEST_ID, {})]


def test_update_keeps_what_changed_meanwhile() -> None:
    user = pool_user(USER_ID, creds("old"), session_id=5)
    asked = record(user, guest(GUEST_ID, creds("guest"), True), epoch=2)
    provider = FakeIdentityPool(unknown=(USER_ID,))
    answer = user_requests(provider).for_user(asked, user, LOGINS)

    # Meanwhile the tokens were refreshed and a guest identity changed.
    refreshed = tokens("ann", generation=2)
    current = record(
        user.with_tokens(refreshed), guest(OTHER_GUEST_ID, creds("other"), True), epoch=2
    )
    after = answer.update(current)
    assert isinstance(after.user, UserPoolSession)
    assert after.user.tokens == refreshed
    assert after.user.tokens.id_token == "id-token-ann-2"
    assert after.user.session_id == 5
    assert after.user.identity.identity_id == NEW_ID
    assert after.user.identity.credentials == creds_for(NEW_ID)
    assert after.guest == GuestIdentity(OTHER_GUEST_ID, creds("other"), True)
    assert after.epoch == 2


def test_update_of_a_guest_offer_keeps_a_guest_id_changed_meanwhile() -> None:
    before = record(None, guest(GUEST_ID, creds("guest"), True))
    user = pool_user()
    answer = user_requests(FakeIdentityPool()).for_user(before, user, LOGINS)
    current = record(user, guest(OTHER_GUEST_ID, creds("other"), True))
    after = answer.update(current)
    assert after == record(
        pool_user(GUEST_ID, creds_for(GUEST_ID)), guest(OTHER_GUEST_ID, creds("other"), True)
    )


def test_update_for_another_session_changes_nothing() -> None:
    user = pool_user(USER_ID, session_id=5)
    answer = user_requests(FakeIdentityPool()).for_user(record(user), user, LOGINS)
    other = record(pool_user(MERGED_ID, creds("other"), session_id=6))
    assert answer.update(other) is other
    signed_out = record(None, guest(GUEST_ID), epoch=1)
    assert answer.update(signed_out) is signed_out


def test_answer_repr_shows_no_secret() -> None:
    user = pool_user(USER_ID)
    answer = user_requests(FakeIdentityPool()).for_user(record(user), user, LOGINS)
    shown = repr(answer)
    assert "secret-key-of" not in shown
    assert "session-token-of" not in shown


# -- guests -----------------------------------------------------------------------------------


def test_guest_kept_id_is_asked_without_get_id() -> None:
    current = record(None, guest(GUEST_ID, creds("guest"), True))
    provider = FakeIdentityPool()
    answer = guest_requests(provider).for_guest(current)
    assert provider.calls == [get_id({}, GUEST_ID), get_credentials(GUEST_ID, {})]
    assert answer.update(current) == record(None, guest(GUEST_ID, creds_for(GUEST_ID), True))


def test_guest_without_id_gets_a_new_one_and_access() -> None:
    current = record(None, guest(None, None, None))
    provider = FakeIdentityPool()
    answer = guest_requests(provider).for_guest(current)
    assert provider.calls == [get_id({}, None), ("GetId",), get_credentials(NEW_ID, {})]
    after = answer.update(current)
    assert after.guest == GuestIdentity(NEW_ID, creds_for(NEW_ID), True)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"unknown": (GUEST_ID,)}, id="not-found"),
        pytest.param({"refused": (GUEST_ID,)}, id="linked-to-a-user-since"),
    ],
)
def test_guest_kept_id_gone_is_forgotten_and_asked_anew_once(failure: dict[str, Any]) -> None:
    current = record(None, guest(GUEST_ID, creds("guest"), True))
    provider = FakeIdentityPool(**failure)
    answer = guest_requests(provider).for_guest(current)
    assert provider.calls == [
        get_id({}, GUEST_ID),
        get_credentials(GUEST_ID, {}),
        get_id({}, None),
        ("GetId",),
        get_credentials(NEW_ID, {}),
    ]
    assert answer.update(current) == record(None, guest(NEW_ID, creds_for(NEW_ID), True))


def test_guest_refused_without_kept_id_propagates() -> None:
    provider = FakeIdentityPool(no_guests=True)
    with pytest.raises(GuestAccessNotAllowedError):
        guest_requests(provider).for_guest(record())
    assert provider.calls == [get_id({}, None), ("GetId",)]


def test_guest_refused_after_forgetting_propagates() -> None:
    provider = FakeIdentityPool(refused=(GUEST_ID,), no_guests=True)
    with pytest.raises(GuestAccessNotAllowedError):
        guest_requests(provider).for_guest(record(None, guest(GUEST_ID, creds("guest"), True)))
    assert provider.calls == [
        get_id({}, GUEST_ID),
        get_credentials(GUEST_ID, {}),
        get_id({}, None),
        ("GetId",),
    ]


def test_guest_update_keeps_a_user_signed_in_meanwhile() -> None:
    provider = FakeIdentityPool()
    answer = guest_requests(provider).for_guest(record())
    user = pool_user(USER_ID, creds("user"), session_id=3)
    current = record(user, guest(None, None, None), epoch=7)
    after = answer.update(current)
    assert after.user == user
    assert after.guest == GuestIdentity(NEW_ID, creds_for(NEW_ID), True)
    assert after.epoch == 7


def test_providers_are_built_on_first_use_only() -> None:
    def missing() -> Any:
        raise IdentityPoolNotConfiguredError("The configuration has no Cognito identity pool")

    requests = IdentityRequests(federated=missing, guest=missing)
    with pytest.raises(IdentityPoolNotConfiguredError):
        requests.for_guest(record())
    user = pool_user()
    with pytest.raises(IdentityPoolNotConfiguredError):
        requests.for_user(record(user), user, LOGINS)


def test_guest_provider_is_not_the_federated_one() -> None:
    federated, guests = FakeIdentityPool(), FakeIdentityPool()
    requests = IdentityRequests(federated=lambda: federated, guest=lambda: guests)
    requests.for_guest(record())
    user = pool_user(USER_ID)
    requests.for_user(record(user), user, LOGINS)
    assert [c[0] for c in guests.calls] == ["get_identity_id", "GetId", "get_credentials"]
    assert [c[0] for c in federated.calls] == ["check_logins", "get_identity_id", "get_credentials"]


def test_user_update_is_a_pure_function() -> None:
    user = pool_user()
    before = record(None, guest(GUEST_ID, creds("guest"), True))
    answer = user_requests(FakeIdentityPool()).for_user(before, user, LOGINS)
    current = before.signed_in(user)
    first = answer.update(current)
    assert answer.update(current) == first
    assert current.guest.identity_id == GUEST_ID  # the input is not changed
    assert attrs.asdict(first.guest) == {"identity_id": None, "credentials": None, "access": True}
