"""Long computations (SRP's modular powers) away from the interpreter that runs an event loop.

CPython's ``pow`` over SRP's 3072-bit numbers takes 25-35 ms and holds the interpreter lock
the whole time, so even in a worker thread it stops the asyncio client's event loop. The
sign-in steps therefore call :func:`compute` for that arithmetic: in the synchronous client's
work it runs in the calling thread, as any function call; in the asyncio client's work
(:data:`offloaded` set by ``AsyncAuthClient``) it runs in a helper process, whose answer the
worker thread waits for without holding the lock.

A helper is a ``python`` child started on first use (``subprocess``, not ``multiprocessing``:
it never re-runs the application's ``__main__``), fed pickled calls on its stdin and
answering on its stdout; at most two, each serving one call at a time, stopped when the
interpreter exits. The pipes carry the call's arguments (a password for SRP) between
two processes of the same user and nothing else; nothing is logged, and a helper that dies
or cannot start is replaced by computing in the calling thread (correct, only slower).
"""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any, TypeVar

__all__ = ["compute", "offloaded"]

T = TypeVar("T")

_log = logging.getLogger("fsm_auth.asyncio")

offloaded: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "fsm_auth_offloaded", default=False
)
"""True in the asyncio client's work: :func:`compute` then runs in a helper process."""

# Each helper is an interpreter with pycognito (and so boto3) imported, some 50 MB: two serve
# about thirty SRP sign-ins a second; a call finding both busy computes in its own thread.
_MAX_HELPERS = min(2, os.cpu_count() or 1)
_FRAME = struct.Struct(">I")
_PATH_VARIABLE = "FSM_AUTH_HELPER_PATH"
_BOOTSTRAP = (
    "import json, os, sys\n"
    f"sys.path[:0] = json.loads(os.environ[{_PATH_VARIABLE!r}])\n"
    "from fsm_auth._arithmetic import serve\n"
    "serve()\n"
)


def compute(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``: here, or in a helper process in the asyncio client's
    work. ``function`` and its arguments must pickle (module-level functions and classes,
    their bound methods, plain values); an exception it raises is raised here."""
    if not offloaded.get():
        return function(*args, **kwargs)
    helper = _helpers.take()
    if helper is None:
        return function(*args, **kwargs)
    try:
        ok, value = helper.call(function, args, kwargs)
    except Exception as exc:  # the helper or the pipe failed (not the function: see below)
        helper.stop()
        _helpers.lost()
        _log.warning("The arithmetic helper failed (%s); computing here", type(exc).__name__)
        return function(*args, **kwargs)
    _helpers.give_back(helper)
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


class _Helper:
    """One helper process and its pipes."""

    def __init__(self) -> None:
        env = dict(os.environ, **{_PATH_VARIABLE: json.dumps(sys.path)})
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def call(self, function: Callable[..., Any], args: Any, kwargs: Any) -> tuple[bool, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        _write(stdin, (function, args, kwargs))
        answer = _read(stdout)
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise EOFError("the helper's answer is malformed")
        return bool(answer[0]), answer[1]

    def stop(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


class _Helpers:
    """The idle helpers, and how many exist (at most one per CPU)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Helper] = []
        self._count = 0
        self._broken = False

    def take(self) -> _Helper | None:
        """An idle helper, a new one, or ``None`` (all busy at the limit, or none can start:
        compute in the caller)."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self._broken or self._count >= _MAX_HELPERS:
                return None
            self._count += 1
        try:
            return _Helper()
        except OSError as exc:
            with self._lock:
                self._count -= 1
                self._broken = True
            _log.warning("Cannot start an arithmetic helper process (%s)", type(exc).__name__)
            return None

    def lost(self) -> None:
        with self._lock:
            self._count = max(0, self._count - 1)

    def give_back(self, helper: _Helper) -> None:
        with self._lock:
            self._idle.append(helper)

    def stop_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._count = 0
        for helper in idle:
            helper.stop()

    def forget(self) -> None:
        """In a forked child: the parent's helpers are not ours to use."""
        self._lock = threading.Lock()
        self._idle = []
        self._count = 0


_helpers = _Helpers()
atexit.register(_helpers.stop_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_helpers.forget)


def _write(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_FRAME.size)
    if len(header) < _FRAME.size:
        raise EOFError("the helper process ended")
    (size,) = _FRAME.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the helper process ended")
    # Our own child's answer, over our own pipe: the same trust as this process's memory.
    return pickle.loads(data)  # noqa: S301


def serve() -> None:
    """The helper's loop: read a call, answer ``(True, result)`` or ``(False, exception)``,
    until stdin ends."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            function, args, kwargs = _read(stdin)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, function(*args, **kwargs))
        except Exception as exc:  # raised again in the caller
            answer = (False, exc)
        try:
            _write(stdout, answer)
        except (pickle.PickleError, TypeError, AttributeError):
            _write(stdout, (False, RuntimeError("the helper's answer does not pickle")))
