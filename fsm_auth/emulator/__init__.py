"""The local Cognito emulator: moto's server on loopback with a fidelity layer in front.

Install with ``fsm-auth[emulator]``. Nothing outside this package imports moto.
"""

from __future__ import annotations

from ._clock import FakeClock
from ._dev import run_dev
from ._faults import Fault
from ._provision import Provisioned
from ._records import RequestRecord, SentCode
from ._server import Emulator

__all__ = [
    "Emulator",
    "FakeClock",
    "Fault",
    "Provisioned",
    "RequestRecord",
    "SentCode",
    "run_dev",
]
