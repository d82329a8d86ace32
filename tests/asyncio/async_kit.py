"""Small tools shared by the ``AsyncAuthClient`` tests: building a client on the test's pool and
clock, a confirmed user, waiting for a held request, and an event-loop lag monitor.

This directory has no ``__init__.py`` on purpose: ``tests/`` is not a package and is on
``sys.path``, so ``tests/asyncio/__init__.py`` would make a package named ``asyncio`` that
shadows the standard library's (pytest then fails to import ``asyncio.test_...``). Its modules
are imported by their own names, as in the other directories without one (tests/cache, ...).
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from fsm_auth import AsyncAuthClient, MemorySessionStore, UserState
from fsm_auth.emulator import Emulator, FakeClock, Fault

PASSWORD = "Correct-Horse-9!"
HELD = 0.6  # seconds the emulator holds a request that a test cancels


def make_async(
    aws_config: dict[str, Any],
    clock: FakeClock,
    *,
    store: Any = None,
    identity_pool: bool = True,
) -> AsyncAuthClient:
    """An asyncio client on the test's pool and clock (in-memory store unless given)."""
    config = copy.deepcopy(aws_config)
    if not identity_pool:
        config.pop("CredentialsProvider", None)
    return AsyncAuthClient.from_config(
        config, store=store if store is not None else MemorySessionStore(), clock=clock
    )


def state_of(client: AsyncAuthClient) -> UserState:
    """``client.current_user_state`` (read through a call: mypy keeps no narrowing across it)."""
    return client.current_user_state


class InThread(threading.Thread):
    """``function()`` in a daemon thread, keeping its result or its exception."""

    def __init__(self, function: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.function = function
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.function()
        except BaseException as exc:
            self.error = exc


async def sign_up_confirmed(
    client: AsyncAuthClient, emulator: Emulator, username: str, password: str = PASSWORD
) -> None:
    """Register and confirm ``username`` through the asyncio client, with the emulator's code."""
    await client.sign_up(username, password, attributes={"email": f"{username}@example.com"})
    await client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


def hold(emulator: Emulator, operation: str, delay: float = HELD) -> Fault:
    """Hold the next ``operation`` request ``delay`` seconds before it goes through."""
    return emulator.faults.inject(Fault(operation=operation, delay=delay, times=1))


async def reached(fault: Fault, timeout: float = 10.0) -> None:
    """Wait (on the loop) until the held request has reached the emulator."""
    deadline = time.monotonic() + timeout
    while fault.hits == 0:
        assert time.monotonic() < deadline, "the held request never reached the emulator"
        await asyncio.sleep(0.002)


async def eventually(condition: Any, timeout: float = 5.0) -> bool:
    """Poll ``condition()`` on the loop until it holds; its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.005)
    return bool(condition())


class LagMonitor:
    """A task that sleeps ``period`` in a loop and records how late each wake-up was: the
    event loop's lag (the longest time something kept the loop from running it)."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.lags: list[float] = []
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop:
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            self.lags.append(max(0.0, now - last - self.period))
            last = now

    async def __aenter__(self) -> LagMonitor:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)  # started before what it watches
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        assert self._task is not None
        await self._task

    @property
    def max_lag(self) -> float:
        return max(self.lags, default=0.0)
