"""Fault injection: make the emulator refuse, fail, slow down or drop chosen requests."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs


@attrs.define
class Fault:
    """A planned misbehaviour for matching requests.

    ``operation``/``service`` select requests (``None`` matches any); ``times`` is how many
    requests it hits (``None``: until cleared). Exactly one action: ``error=(code, message,
    http_status)``, ``status`` (an InternalErrorException document with that HTTP status),
    ``throttle`` (TooManyRequestsException, 400), ``delay`` (seconds, then the request goes
    through), ``drop`` (the connection is closed without an answer) or ``answer`` (a 200 JSON
    document sent instead of the real answer: what a misbehaving or impostor server would say,
    e.g. a device-tracking challenge or forged tokens).
    """

    operation: str | None = None
    service: str | None = None
    times: int | None = None
    error: tuple[str, str, int] | None = None
    status: int | None = None
    throttle: bool = False
    delay: float | None = None
    drop: bool = False
    answer: Mapping[str, Any] | None = None
    hits: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        actions = [
            self.error is not None,
            self.status is not None,
            self.throttle,
            self.delay is not None,
            self.drop,
            self.answer is not None,
        ]
        if sum(actions) != 1:
            raise ValueError(
                "a Fault needs exactly one of error, status, throttle, delay, drop, answer"
            )

    def matches(self, service: str, operation: str) -> bool:
        """Whether this fault applies to a request of ``service``/``operation``."""
        if self.operation is not None and self.operation != operation:
            return False
        return self.service is None or self.service == service

    def error_document(self) -> tuple[int, str, str] | None:
        """``(http_status, code, message)`` for the refusing actions, else ``None``."""
        if self.error is not None:
            code, message, http_status = self.error
            return http_status, code, message
        if self.status is not None:
            return self.status, "InternalErrorException", "Internal server error (injected)."
        if self.throttle:
            return 400, "TooManyRequestsException", "Rate exceeded"
        return None


class Faults:
    """The emulator's active faults, matched in injection order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(self, fault: Fault) -> Fault:
        """Activate ``fault``; returns it (its ``hits`` counts the requests it took)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        """The faults still armed."""
        with self._lock:
            return list(self._faults)

    def take(self, service: str, operation: str) -> Fault | None:
        """The first armed fault matching the request, counting the hit."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, operation):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None
