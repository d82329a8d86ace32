"""How long the event loop is kept from running while an ``AsyncAuthClient`` signs in (SRP)
and while 1,000 tasks share one refresh, against the 50 ms bound of the asyncio issue.

A heartbeat task sleeps 5 ms in a loop and records how late each wake-up is; the figure is
the worst lateness during each phase (median and worst of the rounds). The work between the
requests runs in worker threads, but CPython's SRP arithmetic (one ``pow`` over 3072-bit
numbers, ~20 ms) holds the interpreter lock, so the sign-in's figure is bounded below by it.

Run: ``python benchmarks/async_loop_lag.py [rounds]`` (needs the dev extra; default 9
rounds). The emulator runs in this process, as the tests run it.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time

from fsm_auth import AsyncAuthClient, MemorySessionStore
from fsm_auth.emulator import Emulator, FakeClock

BOUND_MS = 50.0
PASSWORD = "Correct-Horse-9!"


async def _heartbeat(lags: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        lags.append(max(0.0, now - last - 0.005))
        last = now


async def _watched(work: object) -> float:
    lags: list[float] = []
    stop = asyncio.Event()
    beat = asyncio.create_task(_heartbeat(lags, stop))
    await asyncio.sleep(0)
    await work  # type: ignore[misc]
    stop.set()
    await beat
    return max(lags, default=0.0) * 1000


async def _round(emulator: Emulator, clock: FakeClock, index: int) -> tuple[float, float]:
    pool = emulator.provision(with_identity_pool=False, bucket=None)
    admin = emulator.admin_client()
    name = f"lag{index}"
    admin.admin_create_user(
        UserPoolId=pool.user_pool_id, Username=name, MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
    )  # fmt: skip
    admin.admin_set_user_password(
        UserPoolId=pool.user_pool_id, Username=name, Password=PASSWORD, Permanent=True
    )
    config = pool.aws_configuration()
    async with AsyncAuthClient.from_config(config, store=MemorySessionStore(), clock=clock) as c:
        await c.initialize()
        gc.collect()
        sign_in = await _watched(c.sign_in(name, PASSWORD))
        clock.advance(3700)
        gc.collect()
        refresh = await _watched(asyncio.gather(*(c.get_tokens() for _ in range(1000))))
    return sign_in, refresh


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    clock = FakeClock()
    with Emulator(clock=clock) as emulator:
        figures = [asyncio.run(_round(emulator, clock, i)) for i in range(rounds + 1)][1:]
    for label, values in (
        ("SRP sign-in", [f[0] for f in figures]),
        ("1,000-task refresh", [f[1] for f in figures]),
    ):
        median, worst = statistics.median(values), max(values)
        verdict = "within" if median < BOUND_MS else "over"
        print(
            f"{label:20} loop lag: median {median:6.1f} ms, worst {worst:6.1f} ms "
            f"over {rounds} rounds ({verdict} the {BOUND_MS:.0f} ms bound by the median)"
        )


if __name__ == "__main__":
    main()
