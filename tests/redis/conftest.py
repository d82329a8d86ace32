"""Fixtures of the Redis store's tests: a real ``redis-server`` (never a fake), one per test
process (xdist worker), on a free loopback port, writing nothing to disk until a test stops it
to restart it, and stopped at the end by its PID."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("redis", reason="the redis extra: pip install -e '.[dev]'")

from redis_helpers import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for this test process, stopped (by PID) at the end."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    directory = Path(tempfile.mkdtemp(prefix="fsm-auth-redis-"))
    server = RedisServer(executable, directory)
    server.start()
    try:
        yield server
    finally:
        server.stop(keep_data=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The server's URL, running and empty for this test (restarted if a test stopped it)."""
    redis_server.start()
    redis_server.client().flushall()
    yield redis_server.url
    redis_server.start()
