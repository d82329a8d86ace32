"""Time inside the emulator: a controllable clock and the patch that makes moto follow it."""

from __future__ import annotations

import threading
import time as _real_time
from collections.abc import Callable
from typing import Any


class FakeClock:
    """A settable clock, starting at real time: ``clock()`` returns epoch seconds."""

    def __init__(self, now: float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = _real_time.time() if now is None else now

    @property
    def now(self) -> float:
        """The current fake time in epoch seconds."""
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        with self._lock:
            self._now = value

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds``; returns the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def reset(self) -> None:
        """Go back to real time."""
        self.now = _real_time.time()

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"


class _MotoTime:
    """Stands in for the ``time`` module inside moto's Cognito models.

    moto stamps ``iat``/``exp``/``auth_time`` with ``time.time()``; tests move the emulator's
    clock to expire tokens without sleeping, so the models must read that clock instead. Only
    ``time()`` changes; everything else is the real module.
    """

    def __init__(self) -> None:
        self.source: Callable[[], float] = _real_time.time

    def time(self) -> float:
        return self.source()

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


_MOTO_TIME = _MotoTime()


def bind_moto_clock(source: Callable[[], float]) -> None:
    """Make moto's Cognito models read ``source`` for the current time."""
    import moto.cognitoidp.models as models

    setattr(models, "time", _MOTO_TIME)  # noqa: B010
    _MOTO_TIME.source = source
