"""specs/user_state.yaml: the six states of the seed and its rules."""

from __future__ import annotations

import pytest

from fsm_auth.engine import Engine, Spec
from fsm_auth.errors import IllegalTransitionError
from fsm_auth.values import UserState


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec.load("user_state")


class Guest:
    def __init__(self, enabled: bool) -> None:
        self.guest_access_enabled = enabled


def _dests(spec: Spec, state: str, trigger: str) -> set[str]:
    return {t.dest for t in spec.transitions_from(state, trigger)}


def test_user_state_members_are_the_spec_states(spec: Spec) -> None:
    assert {s.value for s in UserState} == set(spec.states)
    assert spec.initial == UserState.UNKNOWN.value


def test_every_state_is_described(spec: Spec) -> None:
    for state in spec.states:
        assert spec.state_info(state).get("description"), state


def test_unknown_is_left_only_by_initialization(spec: Spec) -> None:
    leaving = {t.trigger: t.dest for t in spec.transitions_from("unknown")}
    assert leaving == {
        "restored_signed_in": "signedIn",
        "restored_guest": "guest",
        "restored_signed_out": "signedOut",
    }
    assert all(t.dest != "unknown" for t in spec.transitions)


def test_only_signed_in_reaches_token_invalid_states(spec: Spec) -> None:
    for invalid in ("signedOutUserPoolsTokenInvalid", "signedOutFederatedTokensInvalid"):
        sources = {s for t in spec.transitions if t.dest == invalid for s in t.sources}
        assert sources == {"signedIn"}


@pytest.mark.parametrize(
    "state",
    [
        "signedOut",
        "guest",
        "signedIn",
        "signedOutUserPoolsTokenInvalid",
        "signedOutFederatedTokensInvalid",
    ],
)
@pytest.mark.parametrize("guest_enabled", [True, False])
def test_sign_in_and_sign_out_from_every_known_state(
    spec: Spec, state: str, guest_enabled: bool
) -> None:
    for trigger in ("user_pool_signed_in", "federated_signed_in", "hosted_ui_signed_in"):
        assert _dests(spec, state, trigger) == {"signedIn"}
    engine = Engine(
        spec.to_mapping() | {"initial": state, "allow_unreachable": ["unknown"]},
        Guest(guest_enabled),
    )
    assert engine.fire("signed_out") is True
    assert engine.state == ("guest" if guest_enabled else "signedOut")


def test_a_life(spec: Spec) -> None:
    context = Guest(False)
    engine = Engine(spec, context)
    changes: list[tuple[str, str]] = []
    engine.add_listener(lambda old, trigger, new: changes.append((trigger, new)))
    engine.fire("restored_signed_out")
    with pytest.raises(IllegalTransitionError):
        engine.fire("user_pool_token_refused")
    engine.fire("user_pool_signed_in", username="alice")
    engine.fire("user_pool_token_refused")
    with pytest.raises(IllegalTransitionError):
        engine.fire("federated_token_refused")
    engine.fire("user_pool_signed_in")
    context.guest_access_enabled = True
    engine.fire("signed_out")
    engine.fire("guest_credentials_obtained")
    assert changes == [
        ("restored_signed_out", "signedOut"),
        ("user_pool_signed_in", "signedIn"),
        ("user_pool_token_refused", "signedOutUserPoolsTokenInvalid"),
        ("user_pool_signed_in", "signedIn"),
        ("signed_out", "guest"),
        ("guest_credentials_obtained", "guest"),
    ]
    with pytest.raises(IllegalTransitionError):
        engine.fire("restored_signed_in")
