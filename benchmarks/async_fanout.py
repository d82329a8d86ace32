"""A thousand signed-in sessions refreshing at once: ``AsyncAuthClient`` on one event loop
against ``AuthClient`` from a thread pool, measured in the same run.

Ours: ``n`` ``AsyncAuthClient`` (default 1,000), each with its own ``MemorySessionStore`` and
its own user, signed in, all on one event loop; the clock moves past the tokens' expiry and
``asyncio.gather(*(c.get_tokens() for c in clients))`` refreshes every session at once (the
machine's work in the asyncio client's worker threads, every request on the loop through
aiohttp).

Peer: ``n`` ``AuthClient`` built and signed in the same way, refreshed at once with
``ThreadPoolExecutor.map(lambda c: c.get_tokens(), clients)``, with 64 workers and with one
worker per session (``n``). The pools are built and their threads started before measuring,
as a server's would be; what starting ``n`` threads costs is printed on its own.

For each: the wall time of the refresh (median of the rounds, interleaved round by round
after a warm-up round), the peak memory of the refresh (tracemalloc's peak of what the refresh
allocated, in one extra round each with tracemalloc on, since tracing slows everything; and
the peak RSS over the RSS before it, from ``VmHWM`` reset through ``/proc/self/clear_refs``
on Linux, else ``ru_maxrss``, which only ever grows), the requests the emulator saw per round
(``GetTokensFromRefreshToken``: exactly ``n``, one per session, checked), the refreshes that
raised (counted and printed, not retried: that session refreshes in the next round) and the
ratios.

Everything runs against the local Cognito emulator (``fsm_auth.emulator.Emulator``) with a
``FakeClock`` that the clients share (users made with the emulator's admin calls, signed in
with ``USER_PASSWORD_AUTH`` to keep the set-up short): first the emulator in this process
(as the tests run it: its threads share the GIL and the traced memory with the clients),
then the same emulator in a process of its own, whose clock moves in step with the clients'.

Run: ``python benchmarks/async_fanout.py [n] [rounds]`` (needs the dev extra, or the
``emulator`` and ``asyncio`` extras; Linux gives the RSS figures their reset).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fsm_auth import AsyncAuthClient, AuthClient, MemorySessionStore
from fsm_auth.emulator import Emulator, FakeClock

PASSWORD = "Bench-Passw0rd!"
SESSIONS = 1_000
ROUNDS = 5
STEP = 2 * 3600.0  # past the tokens' hour, so that every session must refresh
REFRESH = "GetTokensFromRefreshToken"
FLOW = "USER_PASSWORD_AUTH"


def provision(emulator: Emulator, n: int) -> dict[str, Any]:
    """A pool without an identity pool and ``n`` confirmed users, made as an admin would (as
    ``tests/auth_testkit.confirmed_user`` does): the site as a JSON-able document."""
    pool = emulator.provision(with_identity_pool=False, bucket=None)
    admin = emulator.admin_client()
    users = [f"user{i:05d}" for i in range(n)]

    def make(name: str) -> None:
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
            UserPoolId=pool.user_pool_id, Username=name, Password=PASSWORD, Permanent=True
        )

    with concurrent.futures.ThreadPoolExecutor(8) as pool_of_admins:
        list(pool_of_admins.map(make, users))
    return {"config": pool.aws_configuration(), "users": users}


# The emulator in a process of its own: provisions, prints the site and its clock, then
# answers "advance <seconds>" and "count <operation>" line by line until stdin ends.
_SERVER = """
import json, sys
sys.path.insert(0, {here!r})
from async_fanout import provision
from fsm_auth.emulator import Emulator, FakeClock
clock = FakeClock()
with Emulator(clock=clock) as emulator:
    site = provision(emulator, {n})
    print(json.dumps({{**site, "now": clock.now}}), flush=True)
    for line in sys.stdin:
        verb, arg = line.split()
        if verb == "advance":
            clock.advance(float(arg))
            print("ok", flush=True)
        else:
            print(emulator.count(arg), flush=True)
"""


class Site:
    """The emulator the clients talk to, its clock (shared with the clients) and its count."""

    def __init__(self, config: dict[str, Any], users: list[str], clock: FakeClock) -> None:
        self.config, self.users, self.clock = config, users, clock

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def count(self, operation: str) -> int:
        raise NotImplementedError


class LocalSite(Site):
    """The emulator in this process, on the very clock the clients read."""

    def __init__(self, emulator: Emulator, clock: FakeClock, n: int) -> None:
        site = provision(emulator, n)
        super().__init__(site["config"], site["users"], clock)
        self.emulator = emulator

    def count(self, operation: str) -> int:
        return self.emulator.count(operation)


class RemoteSite(Site):
    """The emulator in a process of its own; its clock moves in step with the clients'."""

    def __init__(self, n: int) -> None:
        here = str(Path(__file__).resolve().parent)
        self.server = subprocess.Popen(
            [sys.executable, "-c", _SERVER.format(here=here, n=n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = json.loads(self._read())
        super().__init__(hello["config"], hello["users"], FakeClock(hello["now"]))

    def _read(self) -> str:
        assert self.server.stdout is not None
        line = self.server.stdout.readline()
        if not line:
            raise RuntimeError("the emulator's process ended")
        return line

    def _ask(self, line: str) -> str:
        assert self.server.stdin is not None
        self.server.stdin.write(line + "\n")
        self.server.stdin.flush()
        return self._read().strip()

    def advance(self, seconds: float) -> None:
        self._ask(f"advance {seconds}")
        super().advance(seconds)

    def count(self, operation: str) -> int:
        return int(self._ask(f"count {operation}"))

    def close(self) -> None:
        assert self.server.stdin is not None
        self.server.stdin.close()
        self.server.wait(timeout=60)


# ---- memory ------------------------------------------------------------------------------

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _resettable_rss() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") > 0


RESETTABLE = _resettable_rss()


def _rss_kib() -> int:
    """Resident memory now (Linux), else the peak so far."""
    if RESETTABLE:
        return _status_kib("VmRSS")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def _start_peak() -> int:
    """Start a peak-RSS window: the RSS now, in KiB."""
    if RESETTABLE:
        _CLEAR_REFS.write_text("5")  # VmHWM := VmRSS
    return _rss_kib()


def _peak_kib() -> int:
    if RESETTABLE:
        return _status_kib("VmHWM")
    return _rss_kib()


# ---- the phases --------------------------------------------------------------------------


class Fanout:
    """The two sets of signed-in clients at one site, and one refresh of every session."""

    def __init__(self, site: Site, loop: asyncio.AbstractEventLoop) -> None:
        self.site, self.loop = site, loop
        self.n = len(site.users)
        self.sync: list[AuthClient] = []
        self.aio: list[AsyncAuthClient] = []
        self.pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
        self.thread_start_kib = 0

    def sign_in(self) -> None:
        """Sign every user in twice: once in an ``AuthClient``, once in an
        ``AsyncAuthClient`` (each session its own store)."""
        site = self.site

        def one_sync(user: str) -> AuthClient:
            client = AuthClient.from_config(
                site.config, store=MemorySessionStore(), clock=site.clock
            )
            client.initialize()
            client.sign_in(user, PASSWORD, auth_flow=FLOW)
            return client

        with concurrent.futures.ThreadPoolExecutor(16) as signers:
            self.sync = list(signers.map(one_sync, site.users))

        async def one_async(user: str) -> AsyncAuthClient:
            client = AsyncAuthClient.from_config(
                site.config, store=MemorySessionStore(), clock=site.clock
            )
            await client.initialize()
            await client.sign_in(user, PASSWORD, auth_flow=FLOW)
            return client

        async def all_async() -> list[AsyncAuthClient]:
            return list(await asyncio.gather(*(one_async(user) for user in site.users)))

        self.aio = self.loop.run_until_complete(all_async())
        for client in (*self.sync, *self.aio):
            if not client.is_signed_in:
                raise AssertionError(f"{client!r} did not sign in")

    def start_pools(self) -> None:
        """The peers' thread pools, every worker thread started (a barrier holds them all)."""
        for workers in sorted({64, self.n}):
            before = _rss_kib()
            pool = concurrent.futures.ThreadPoolExecutor(workers)
            barrier = threading.Barrier(workers)
            concurrent.futures.wait([pool.submit(barrier.wait) for _ in range(workers)])
            self.pools[f"threads:{workers}"] = pool
            if workers == self.n:
                self.thread_start_kib = _rss_kib() - before

    def close(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(client.close() for client in self.aio))

        self.loop.run_until_complete(close_all())
        for client in self.sync:
            client.close()
        for pool in self.pools.values():
            pool.shutdown()

    def runs(self) -> dict[str, Callable[[], Sequence[Any]]]:
        """Each contender's refresh of all ``n`` sessions at once."""

        async def gather() -> list[Any]:
            tasks = (c.get_tokens() for c in self.aio)
            return list(await asyncio.gather(*tasks, return_exceptions=True))

        def one(client: AuthClient) -> Any:
            try:
                return client.get_tokens()
            except Exception as exc:  # counted and reported, as gather's
                return exc

        def threaded(pool: concurrent.futures.ThreadPoolExecutor) -> Callable[[], list[Any]]:
            return lambda: list(pool.map(one, self.sync))

        runs: dict[str, Callable[[], Sequence[Any]]] = {
            "asyncio": lambda: self.loop.run_until_complete(gather())
        }
        for name, pool in self.pools.items():
            runs[name] = threaded(pool)
        return runs

    def refresh(self, run: Callable[[], Sequence[Any]], trace: bool = False) -> dict[str, float]:
        """Expire every session, refresh them all with ``run``: wall time, the peak memory
        it took, and the refreshes the emulator answered (checked: one per session)."""
        self.site.advance(STEP)
        before = self.site.count(REFRESH)
        if trace:
            tracemalloc.start()
        rss = _start_peak()
        start = time.perf_counter()
        tokens = run()
        wall = time.perf_counter() - start
        peak_rss = _peak_kib() - rss
        traced = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
        requests = self.site.count(REFRESH) - before
        failed = [t for t in tokens if isinstance(t, BaseException)]
        served = [t for t in tokens if not isinstance(t, BaseException)]
        if failed:  # the session is kept: it refreshes in the next round
            kinds = sorted({f"{type(e).__name__}: {e}"[:100] for e in failed})
            print(f"    {len(failed)} of {self.n} refreshes failed: {'; '.join(kinds)}")
        elif requests != self.n or len({t.access_token for t in served}) != self.n:
            raise AssertionError(f"{requests} refreshes for {self.n} sessions")
        stale = [t for t in served if t.expiration.timestamp() <= self.site.clock.now]
        if stale:
            raise AssertionError(f"{len(stale)} sessions were served expired tokens")
        return {
            "wall": wall,
            "rss": peak_rss * 1024,
            "traced": traced,
            "requests": requests,
            "failed": len(failed),
        }


def measure(site: Site, rounds: int) -> dict[str, dict[str, float]]:
    """Sign in, warm up, then ``rounds`` interleaved rounds and one traced round each."""
    loop = asyncio.new_event_loop()
    fanout = Fanout(site, loop)
    try:
        started = time.perf_counter()
        fanout.sign_in()
        fanout.start_pools()
        print(
            f"  set-up: {2 * fanout.n} sessions signed in, {len(fanout.pools)} thread pools "
            f"started in {time.perf_counter() - started:.1f} s; starting {fanout.n} threads "
            f"took {fanout.thread_start_kib / 1024:.1f} MiB RSS",
            flush=True,
        )
        runs = fanout.runs()
        for run in runs.values():  # warm-up: connections, worker threads, allocator arenas
            fanout.refresh(run)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                samples[name].append(fanout.refresh(run))
        figures: dict[str, dict[str, float]] = {}
        for name, run in runs.items():
            traced = fanout.refresh(run, trace=True)
            figures[name] = {
                "wall": statistics.median(s["wall"] for s in samples[name]),
                "rss": statistics.median(s["rss"] for s in samples[name]),
                "traced": traced["traced"],
                "requests": statistics.median(s["requests"] for s in samples[name]),
                "failed": sum(s["failed"] for s in samples[name]) + traced["failed"],
            }
        return figures
    finally:
        fanout.close()
        loop.close()


def report(rounds: int, figures: dict[str, dict[str, float]]) -> None:
    """Print one placement's figures and the ratios against asyncio."""
    mib = 1024 * 1024
    ours = figures["asyncio"]
    print(f"  medians of {rounds} interleaved rounds (traced peak: one traced round each)")
    print(
        f"  {'':34} {'wall':>9} {'peak RSS':>10} {'traced peak':>12} "
        f"{'refreshes':>10} {'failed':>7} {'wall x':>7} {'traced x':>9}"
    )
    for name, f in figures.items():
        label = (
            "AsyncAuthClient, asyncio.gather"
            if name == "asyncio"
            else f"AuthClient, {name.split(':')[1]}-thread pool"
        )
        print(
            f"  {label:34} {f['wall'] * 1e3:7.0f} ms {f['rss'] / mib:6.1f} MiB "
            f"{f['traced'] / mib:8.1f} MiB {f['requests']:>10.0f} {f['failed']:>7.0f} "
            f"{f['wall'] / ours['wall']:6.2f}x {f['traced'] / ours['traced']:8.2f}x"
        )
    print("  refreshes: GetTokensFromRefreshToken the emulator answered per round (median);")
    print("  failed: refreshes that raised, in all rounds; x: the row's figure over")
    print("  AsyncAuthClient's (above 1: asyncio took less)")


def main() -> None:
    """Measure with the emulator in this process, then in a process of its own."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else SESSIONS
    rounds = max(3, int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS)
    rss = "VmHWM reset per refresh" if RESETTABLE else "ru_maxrss (never reset: a lower bound)"
    print(f"{n} signed-in sessions refreshing at once; peak RSS from {rss}")

    clock = FakeClock()
    print("emulator in this process", flush=True)
    with Emulator(clock=clock) as emulator:
        site = LocalSite(emulator, clock, n)
        report(rounds, measure(site, rounds))

    print("emulator in its own process", flush=True)
    remote = RemoteSite(n)
    try:
        report(rounds, measure(remote, rounds))
    finally:
        remote.close()


if __name__ == "__main__":
    main()
