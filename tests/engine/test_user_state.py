"""specs/user_state.yaml: the six states of AWSMobileClient, and what the spec decides.

The guards are set by hand here (plain attributes on a context), so these tests pin the
spec's own decisions, whatever computes the guards in the client.
"""

from __future__ import annotations

from typing import Any

import pytest

from fsm_auth.engine import Engine, Spec
from fsm_auth.errors import IllegalTransitionError
from fsm_auth.values import UserState

SIGNED_IN_FROM = [
    "signedOut",
    "guest",
    "signedIn",
    "signedOutUserPoolsTokenInvalid",
    "signedOutFederatedTokensInvalid",
]
INVALID = ("signedOutUserPoolsTokenInvalid", "signedOutFederatedTokensInvalid")
# Answers about a signed-in user's session (each guarded by same_user).
USER_ANSWERS = ("tokens_refreshed", "user_credentials_obtained", "user_pool_token_refused")


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec.load("user_state")


class Guards:
    """Every guard of the spec, as a settable attribute."""

    def __init__(self, **values: bool) -> None:
        self.has_user = False
        self.guest_access_enabled = False
        self.no_sign_out_since_start = True
        self.same_user = True
        self.user_is_federated = False
        for name, value in values.items():
            setattr(self, name, value)


def _engine(spec: Spec, state: str, **guards: bool) -> Engine:
    mapping: dict[str, Any] = spec.to_mapping() | {"initial": state}
    mapping["allow_unreachable"] = [s for s in spec.states if s != state]
    return Engine(mapping, Guards(**guards))


def test_user_state_members_are_the_spec_states(spec: Spec) -> None:
    assert {s.value for s in UserState} == set(spec.states)
    assert spec.initial == UserState.UNKNOWN.value


def test_every_state_and_transition_is_described(spec: Spec) -> None:
    for state in spec.states:
        assert spec.state_info(state).get("description"), state
    for transition in spec.transitions:
        assert transition.description, transition.trigger


@pytest.mark.parametrize(
    ("has_user", "guest", "expected"),
    [
        (True, True, "signedIn"),
        (True, False, "signedIn"),
        (False, True, "guest"),
        (False, False, "signedOut"),
    ],
)
def test_restore_is_decided_by_the_restored_record(
    spec: Spec, has_user: bool, guest: bool, expected: str
) -> None:
    engine = Engine(spec, Guards(has_user=has_user, guest_access_enabled=guest))
    assert engine.fire("restore") is True
    assert engine.state == expected
    with pytest.raises(IllegalTransitionError):
        engine.fire("restore")


def test_unknown_is_left_only_by_restore(spec: Spec) -> None:
    assert {t.trigger for t in spec.transitions_from("unknown")} == {"restore"}
    assert all(t.dest != "unknown" for t in spec.transitions)


def test_only_signed_in_reaches_token_invalid_states(spec: Spec) -> None:
    for invalid in INVALID:
        sources = {s for t in spec.transitions if t.dest == invalid for s in t.sources}
        assert sources == {"signedIn"}


@pytest.mark.parametrize("state", SIGNED_IN_FROM)
@pytest.mark.parametrize(
    "trigger", ["user_pool_signed_in", "federated_signed_in", "hosted_ui_signed_in"]
)
def test_a_sign_in_lands_unless_a_sign_out_came_first(spec: Spec, state: str, trigger: str) -> None:
    assert _engine(spec, state).fire(trigger) is True
    late = _engine(spec, state, no_sign_out_since_start=False)
    assert late.fire(trigger) is False  # the sign-out won: nothing changes
    assert late.state == state


@pytest.mark.parametrize("state", SIGNED_IN_FROM)
@pytest.mark.parametrize("guest_enabled", [True, False])
def test_sign_out_from_every_known_state(spec: Spec, state: str, guest_enabled: bool) -> None:
    engine = _engine(spec, state, guest_access_enabled=guest_enabled)
    assert engine.fire("signed_out") is True
    assert engine.state == ("guest" if guest_enabled else "signedOut")


def test_every_sign_in_and_sign_out_saves_the_session(spec: Spec) -> None:
    for t in spec.transitions:
        if t.trigger != "restore":
            assert "save_session" in t.after, t.trigger
    restore = [t for t in spec.transitions if t.trigger == "restore"]
    assert all(not t.after for t in restore)  # restoring writes nothing back


@pytest.mark.parametrize("state", ["unknown", "guest", "signedOut", *INVALID])
@pytest.mark.parametrize("trigger", USER_ANSWERS)
def test_late_answers_about_a_user_are_discarded(spec: Spec, state: str, trigger: str) -> None:
    engine = _engine(spec, state)
    seen: list[str] = []
    engine.add_listener(lambda old, trigger, new: seen.append(new))
    assert engine.fire(trigger, data="anything") is False
    assert engine.state == state
    assert seen == []


def test_answers_about_another_session_are_discarded(spec: Spec) -> None:
    for trigger in (*USER_ANSWERS, "logins_refused"):
        engine = _engine(spec, "signedIn", same_user=False, user_is_federated=True)
        assert engine.fire(trigger) is False, trigger
        assert engine.state == "signedIn"


def test_only_a_federated_user_is_ended_by_refused_logins(spec: Spec) -> None:
    assert _engine(spec, "signedIn", user_is_federated=False).fire("logins_refused") is False
    federated = _engine(spec, "signedIn", user_is_federated=True)
    assert federated.fire("logins_refused") is True
    assert federated.state == "signedOutFederatedTokensInvalid"


@pytest.mark.parametrize(
    ("state", "tokens", "credentials"),
    [
        ("unknown", "initialize", "initialize"),
        ("guest", "refuse", "serve_guest"),
        ("signedOut", "refuse", "try_guest"),
        ("signedIn", "serve", "serve_user"),
        ("signedOutUserPoolsTokenInvalid", "wait", "wait"),
        ("signedOutFederatedTokensInvalid", "wait", "wait"),
    ],
)
def test_what_each_state_serves(spec: Spec, state: str, tokens: str, credentials: str) -> None:
    assert spec.policy(state, "tokens") == tokens
    assert spec.policy(state, "credentials") == credentials


def test_guest_credentials_are_kept_warm_only_in_guest(spec: Spec) -> None:
    assert spec.on_enter("guest") == ("keep_guest_credentials_warm",)
    assert spec.on_exit("guest") == ("stop_keeping_guest_credentials_warm",)
    for state in spec.states:
        if state != "guest":
            assert "keep_guest_credentials_warm" not in spec.on_enter(state)


def test_a_life(spec: Spec) -> None:
    guards = Guards()
    engine = Engine(spec, guards)
    changes: list[tuple[str, str]] = []
    engine.add_listener(lambda old, trigger, new: changes.append((trigger, new)))
    engine.fire("restore")
    assert engine.fire("user_pool_token_refused") is False  # signed out: a late answer
    engine.fire("user_pool_signed_in")
    engine.fire("tokens_refreshed")  # internal: the state stays
    engine.fire("user_pool_token_refused")
    with pytest.raises(IllegalTransitionError):
        engine.fire("restore")
    engine.fire("user_pool_signed_in")
    guards.guest_access_enabled = True
    engine.fire("signed_out")
    engine.fire("guest_credentials_obtained")  # internal in guest
    assert changes == [
        ("restore", "signedOut"),
        ("user_pool_signed_in", "signedIn"),
        ("tokens_refreshed", "signedIn"),
        ("user_pool_token_refused", "signedOutUserPoolsTokenInvalid"),
        ("user_pool_signed_in", "signedIn"),
        ("signed_out", "guest"),
        ("guest_credentials_obtained", "guest"),
    ]
