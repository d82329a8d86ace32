"""Helpers of the Redis store's tests: a real ``redis-server`` process (Debian's package;
``.ci/run`` installs it where it is missing), the tests' key, the children's import path.

Not named ``conftest`` so that test modules import it by this unique name (this directory has
no ``__init__.py``: a package named ``redis`` would hide redis-py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

KEY = bytes(range(32))  # the tests' AES key (never a real one)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` on ``127.0.0.1:<port>``; :meth:`stop` and :meth:`start` take it down
    and back on the same port (for fault tests)."""

    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis-py URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's PID while it runs."""
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        """Start it (loading the snapshot a :meth:`stop` with ``keep_data`` left)."""
        if self.process is not None:
            return
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",  # no periodic snapshots
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--dbfilename",
                "dump.rdb",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop(keep_data=False)  # no server left behind
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)

    def stop(self, *, keep_data: bool = True) -> None:
        """Stop it. ``keep_data``: snapshot on the way down, as a Redis with persistence
        keeps its data across a restart; else killed (SIGKILL), its data gone."""
        process, self.process = self.process, None
        if process is None:
            return
        if keep_data:
            # It closes the connection as it goes down.
            with contextlib.suppress(redis.ConnectionError):
                self.client().shutdown(save=True)
        else:
            process.send_signal(signal.SIGKILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if not keep_data:
            (self.directory / "dump.rdb").unlink(missing_ok=True)

    def round_trips(self, action: Callable[[], object]) -> list[str]:
        """The commands clients sent while ``action()`` ran (one per round trip; commands a
        Lua script ran inside the server are not round trips and are left out), read from
        ``MONITOR`` between two marker commands."""
        seen: list[str] = []
        ready = threading.Event()

        def watch() -> None:
            with self.client().monitor() as monitor:
                ready.set()
                for entry in monitor.listen():
                    command = str(entry["command"])
                    if command == "ECHO fsm-auth-end":
                        return
                    if entry["client_type"] != "lua":
                        seen.append(command)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        ready.wait(5)
        marker = self.client()
        # MONITOR is in place once it echoes a command sent after it started.
        while True:
            marker.echo("fsm-auth-start")
            time.sleep(0.01)
            if "ECHO fsm-auth-start" in seen:
                break
        seen.clear()
        action()
        marker.echo("fsm-auth-end")
        watcher.join(10)
        return [command for command in seen if not command.startswith("ECHO fsm-auth")]

    def client(self) -> redis.Redis:
        """A plain redis-py client of the server (for inspection)."""
        # No retries: SHUTDOWN closes the connection, and retrying it would wait seconds.
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )


def import_path() -> str:
    """PYTHONPATH for child processes: the fsm_auth (and providers) this process imported."""
    import fsm_auth
    import fsm_auth_providers

    entries = []
    for package in (fsm_auth, fsm_auth_providers):
        location = Path(str(package.__file__)).parent
        if location.name == package.__name__:
            entries.append(str(location.parent))
    previous = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*dict.fromkeys(entries), *([previous] if previous else [])])
