"""``fsm_auth._arithmetic.compute``: SRP's arithmetic in the calling thread for the synchronous
client, in a helper process for the asyncio client's work (so that the event loop never waits
for the interpreter lock a 3072-bit ``pow`` holds), with a fall-back to the calling thread
when a helper cannot do it."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from async_kit import PASSWORD, make_async, sign_up_confirmed

from fsm_auth import UserState
from fsm_auth import _arithmetic as arithmetic
from fsm_auth.emulator import Emulator, FakeClock

T = TypeVar("T")


def offloaded(function: Callable[[], T]) -> T:
    """``function()`` as the asyncio client's work runs it (``offloaded`` set)."""
    context = contextvars.copy_context()
    context.run(arithmetic.offloaded.set, True)
    return context.run(function)


def _refuse(secret: str) -> None:
    raise ValueError("refused")


def test_the_synchronous_client_computes_in_its_own_thread() -> None:
    assert arithmetic.compute(os.getpid) == os.getpid()
    assert arithmetic.compute(pow, 3, 200, 1009) == pow(3, 200, 1009)


def test_the_asyncio_clients_work_computes_in_a_helper_process() -> None:
    assert offloaded(lambda: arithmetic.compute(os.getpid)) != os.getpid()
    assert offloaded(lambda: arithmetic.compute(pow, 3, 200, 1009)) == pow(3, 200, 1009)
    # The helper is kept for the next call.
    first = offloaded(lambda: arithmetic.compute(os.getpid))
    assert offloaded(lambda: arithmetic.compute(os.getpid)) == first


def test_an_exception_in_the_helper_is_raised_in_the_caller() -> None:
    with pytest.raises(ValueError, match="refused"):
        offloaded(lambda: arithmetic.compute(_refuse, "hunter2-secret"))
    # The helper survived it.
    assert offloaded(lambda: arithmetic.compute(os.getpid)) != os.getpid()


def test_a_call_that_cannot_reach_a_helper_is_computed_here_without_naming_its_arguments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "hunter2-secret"

    def local(value: str) -> int:  # a local function does not pickle
        return len(value) + os.getpid()

    with caplog.at_level(logging.DEBUG, logger="fsm_auth"):
        assert offloaded(lambda: arithmetic.compute(local, secret)) == len(secret) + os.getpid()
    assert "computing here" in caplog.text
    assert secret not in caplog.text
    # A new helper serves the next call.
    assert offloaded(lambda: arithmetic.compute(os.getpid)) != os.getpid()


def test_a_helper_that_died_is_replaced() -> None:
    pid = offloaded(lambda: arithmetic.compute(os.getpid))
    helpers: list[Any] = list(arithmetic._helpers._idle)
    for helper in helpers:
        helper.process.kill()
        helper.process.wait()
    # The dead helper's call is computed here, then a new helper takes over.
    assert offloaded(lambda: arithmetic.compute(pow, 2, 10)) == 1024
    new = offloaded(lambda: arithmetic.compute(os.getpid))
    assert new not in (pid, os.getpid())


def test_an_asyncio_srp_sign_in_computes_in_a_helper(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    called: list[str] = []
    real = arithmetic._Helper.call

    def spy(helper: Any, function: Any, args: Any, kwargs: Any) -> Any:
        called.append(getattr(function, "__name__", type(function).__name__))
        return real(helper, function, args, kwargs)

    async def main() -> None:
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "arith")
            await client.initialize()
            await client.sign_in("arith", PASSWORD)
            assert client.current_user_state == UserState.SIGNED_IN

    arithmetic._Helper.call = spy  # type: ignore[method-assign]
    try:
        asyncio.run(main())
    finally:
        arithmetic._Helper.call = real  # type: ignore[method-assign]
    assert called == ["AWSSRP", "process_challenge"]
