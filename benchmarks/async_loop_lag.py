"""How long the event loop is kept from running while an ``AsyncAuthClient`` signs in (SRP)
and while 1,000 tasks share one refresh, against the 50 ms bound of the asyncio issue.

A heartbeat task sleeps 5 ms in a loop and records how late each wake-up is; the figure is
the worst lateness during each phase (median and worst of the rounds). The work between the
requests runs in worker threads, and SRP's arithmetic (one ``pow`` over 3072-bit numbers
takes 25-35 ms here with the interpreter lock held, in any thread) in a helper process.

The emulator runs first in this process, as the tests run it (its own SRP arithmetic then
holds the same lock), then in a process of its own, as a real service is (the users are made
as ``async_fanout.py`` makes them).

Run: ``python benchmarks/async_loop_lag.py [rounds]`` (needs the dev extra; default 9
rounds).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time

from async_fanout import PASSWORD, LocalSite, RemoteSite, Site

from fsm_auth import AsyncAuthClient, MemorySessionStore
from fsm_auth.emulator import Emulator, FakeClock

BOUND_MS = 50.0


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


async def _round(site: Site, index: int) -> tuple[float, float]:
    clock = site.clock
    config = site.config
    name = site.users[index]
    async with AsyncAuthClient.from_config(config, store=MemorySessionStore(), clock=clock) as c:
        await c.initialize()
        gc.collect()
        sign_in = await _watched(c.sign_in(name, PASSWORD))
        site.advance(3700)
        gc.collect()
        refresh = await _watched(asyncio.gather(*(c.get_tokens() for _ in range(1000))))
    return sign_in, refresh


def _report(rounds: int, figures: list[tuple[float, float]]) -> None:
    for label, values in (
        ("SRP sign-in", [f[0] for f in figures]),
        ("1,000-task refresh", [f[1] for f in figures]),
    ):
        median, worst = statistics.median(values), max(values)
        verdict = "within" if worst < BOUND_MS else "over"
        print(
            f"  {label:20} loop lag: median {median:6.1f} ms, worst {worst:6.1f} ms "
            f"over {rounds} rounds ({verdict} the {BOUND_MS:.0f} ms bound)"
        )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    print("emulator in this process (its own SRP arithmetic holds this interpreter's lock)")
    clock = FakeClock()
    with Emulator(clock=clock) as emulator:
        local = LocalSite(emulator, clock, rounds + 1)
        _report(rounds, [asyncio.run(_round(local, i)) for i in range(rounds + 1)][1:])
    print("emulator in its own process (as a real service is)")
    remote = RemoteSite(rounds + 1)
    try:
        _report(rounds, [asyncio.run(_round(remote, i)) for i in range(rounds + 1)][1:])
    finally:
        remote.close()


if __name__ == "__main__":
    main()
