"""Small tools shared by the client-level tests: a listener that records, a call run in a
thread, polling with a deadline, and a confirmed user made with the pool's admin calls."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from fsm_auth import UserState

T = TypeVar("T")
Event = tuple[UserState, dict[str, str]]


class Recorder:
    """A user-state listener that records every call, thread-safely."""

    def __init__(self) -> None:
        self.calls: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, state: UserState, info: Mapping[str, str]) -> None:
        with self._lock:
            self.calls.append((state, dict(info)))


class InThread(threading.Thread, Generic[T]):
    """``function(**kwargs)`` in a daemon thread, keeping its result or its exception."""

    def __init__(self, function: Callable[..., T], **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.function, self.kwargs = function, kwargs
        self.result: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.function(**self.kwargs)
        except BaseException as exc:
            self.error = exc


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` (real time) until it holds; its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def confirmed_user(emulator: Any, pool: Any, name: str, password: str) -> str:
    """``name``, a confirmed user of ``pool`` (an emulator's ``Provisioned``) with ``password``
    and a verified e-mail ``<name>@example.com``, made as an admin would (no codes sent)."""
    admin = emulator.admin_client()
    admin.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username=name,
        UserAttributes=[
            {"Name": "email", "Value": f"{name}@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    admin.admin_set_user_password(
        UserPoolId=pool.user_pool_id, Username=name, Password=password, Permanent=True
    )
    return name


# Every way through sign_in the shipped specs declare, as (auth_flow, factor): the factor is
# USER_AUTH's preferred challenge, or "SELECT:<choice>" for the choice at SELECT_CHALLENGE.
SIGN_IN_WAYS: tuple[tuple[str, str | None], ...] = (
    ("USER_SRP_AUTH", None),
    ("USER_PASSWORD_AUTH", None),
    ("CUSTOM_AUTH", None),
    ("CUSTOM_WITH_SRP", None),
    ("USER_AUTH", "PASSWORD_SRP"),
    ("USER_AUTH", "PASSWORD"),
    ("USER_AUTH", "EMAIL_OTP"),
    ("USER_AUTH", "SMS_OTP"),
    ("USER_AUTH", "SELECT:PASSWORD_SRP"),
    ("USER_AUTH", "SELECT:PASSWORD"),
    ("USER_AUTH", "SELECT:EMAIL_OTP"),
    ("USER_AUTH", "SELECT:SMS_OTP"),
)

# The code kind the emulator records for each challenge answered with a code it sent.
_CODE_KINDS = {
    "EMAIL_OTP": "email_otp",
    "SMS_OTP": "sms_otp",
    "CUSTOM_CHALLENGE": "custom_challenge",
}
_PASSWORD_FLOWS = frozenset({"USER_SRP_AUTH", "USER_PASSWORD_AUTH", "CUSTOM_WITH_SRP"})


def sign_in_arguments(
    password: str, flow: str, factor: str | None
) -> tuple[str | None, str | None]:
    """``(password, preferred_challenge)`` that ``sign_in`` is called with for a way of
    :data:`SIGN_IN_WAYS`: the password only where the flow or factor uses one."""
    preferred = factor if factor is not None and not factor.startswith("SELECT:") else None
    uses_password = flow in _PASSWORD_FLOWS or preferred in ("PASSWORD", "PASSWORD_SRP")
    return (password if uses_password else None), preferred


def answer_for(
    result: Any, emulator: Any, username: str, password: str, flow: str, factor: str | None
) -> str:
    """What the user answers the challenge ``result`` poses, signing in by a way of
    :data:`SIGN_IN_WAYS` (codes from the emulator)."""
    name = result.state.value
    if name == "SELECT_CHALLENGE" and factor is not None and factor.startswith("SELECT:"):
        listed = json.loads(result.parameters["AVAILABLE_CHALLENGES"])
        choice = factor.removeprefix("SELECT:")
        # Asked again for the chosen password factor (listed alone): the password.
        return password if listed == [choice] and "PASSWORD" in choice else choice
    if name in _CODE_KINDS:
        return str(emulator.last_code(username, _CODE_KINDS[name]))
    raise AssertionError(f"unexpected challenge {name} signing in by {flow}/{factor}")


def sign_in_by(
    client: Any, emulator: Any, username: str, password: str, flow: str, factor: str | None
) -> list[str]:
    """Sign ``username`` in through ``client`` by ``flow`` and ``factor`` (a way of
    :data:`SIGN_IN_WAYS`), answering every challenge as the user would (codes from the
    emulator); the states the sign-in went through, ending with ``DONE``."""
    given, preferred = sign_in_arguments(password, flow, factor)
    result = client.sign_in(username, given, auth_flow=flow, preferred_challenge=preferred)
    states = [result.state.value]
    while result.state.value != "DONE":
        answer = answer_for(result, emulator, username, password, flow, factor)
        result = client.confirm_sign_in(answer)
        states.append(result.state.value)
    return states
