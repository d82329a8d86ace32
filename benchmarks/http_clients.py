"""Why ``AsyncAuthClient`` sends its requests with aiohttp: a thousand concurrent Cognito posts
from one event loop, aiohttp against httpx, and requests from a 64-thread pool as the
synchronous transport sends them, measured in the same run.

Each contender sends ``n`` (default 1,000) ``GetTokensFromRefreshToken`` posts to the local
Cognito emulator, running in a process of its own, all at once: ``asyncio.gather`` over one
``aiohttp.ClientSession`` or one ``httpx.AsyncClient`` (both with 100 connections), and
``ThreadPoolExecutor(64).map`` over a ``requests.Session`` per thread. The emulator refuses
each post at once (no such app client), so the figure is the client's own cost. Printed: the
wall time and this process's CPU time of the second round (the first warms up), and the
ratios against aiohttp. httpx is measured only where it is installed (it is no longer a
dependency: ``pip install httpx`` to see it).

Run: ``python benchmarks/http_clients.py [n]`` (needs the dev extra).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import requests

N = 1_000
CONNECTIONS = 100
BODY = json.dumps({"ClientId": "no-such-client", "RefreshToken": "not-a-token"}).encode()
HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AWSCognitoIdentityProviderService.GetTokensFromRefreshToken",
}
_SERVER = (
    "import sys\n"
    "from fsm_auth.emulator import Emulator\n"
    "with Emulator() as emulator:\n"
    "    print(emulator.url, flush=True)\n"
    "    sys.stdin.read()\n"
)


def _timed(run: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds of ``run()``, after one warm-up call."""
    run()
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _gathered(one: Callable[[], Awaitable[int]], n: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``n`` concurrent ``one()`` (each refused with 400), after one
    warm-up round."""

    async def round_() -> None:
        statuses = await asyncio.gather(*(one() for _ in range(n)))
        assert set(statuses) == {400}, set(statuses)

    await round_()
    cpu, wall = time.process_time(), time.perf_counter()
    await round_()
    return time.perf_counter() - wall, time.process_time() - cpu


def _aiohttp(url: str, n: int) -> tuple[float, float]:
    async def main() -> tuple[float, float]:
        timeout = aiohttp.ClientTimeout(total=120)
        connector = aiohttp.TCPConnector(limit=CONNECTIONS)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one() -> int:
                async with session.post(url, data=BODY, headers=HEADERS) as response:
                    await response.read()
                    return response.status

            return await _gathered(one, n)

    return asyncio.run(main())


def _httpx(url: str, n: int) -> tuple[float, float] | None:
    try:
        import httpx
    except ImportError:
        return None

    async def main() -> tuple[float, float]:
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:

            async def one() -> int:
                response = await client.post(url, content=BODY, headers=HEADERS)
                return response.status_code

            return await _gathered(one, n)

    return asyncio.run(main())


def _requests(url: str, n: int) -> tuple[float, float]:
    local = threading.local()

    def one(_: int) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return session.post(url, data=BODY, headers=HEADERS).status_code

    with concurrent.futures.ThreadPoolExecutor(64) as pool:

        def round_() -> None:
            statuses = set(pool.map(one, range(n)))
            assert statuses == {400}, statuses

        return _timed(round_)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else N
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        figures = {
            "aiohttp, asyncio.gather": _aiohttp(url, n),
            "httpx, asyncio.gather": _httpx(url, n),
            "requests, 64-thread pool": _requests(url, n),
        }
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=60)
    ours = figures["aiohttp, asyncio.gather"]
    assert ours is not None
    print(f"{n} concurrent posts to the emulator (its own process); second of two rounds")
    print(f"  {'':26} {'wall':>9} {'CPU':>9} {'CPU x':>7}")
    for name, figure in figures.items():
        if figure is None:
            print(f"  {name:26} not installed")
            continue
        wall, cpu = figure
        print(f"  {name:26} {wall * 1e3:6.0f} ms {cpu * 1e3:6.0f} ms {cpu / ours[1]:6.2f}x")
    print("  CPU: this process's CPU time; x: the row's CPU over aiohttp's")


if __name__ == "__main__":
    main()
