"""Small tools shared by the client-level tests: a listener that records, a call run in a
thread, polling with a deadline, and a confirmed user made with the pool's admin calls."""

from __future__ import annotations

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
