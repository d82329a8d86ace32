"""The local Cognito emulator: moto's server on loopback with a fidelity layer in front.

Install with ``fsm-auth[emulator]``. Importing this package does not import moto: the names
that need it (:class:`Emulator`, :class:`Provisioned`, :func:`run_dev`) load it on first use,
so a command line may import the package at module level without the extra installed.
:class:`HostedUIBrowser` (a headless ``open_browser`` for the hosted UI) loads on first use
too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._clock import FakeClock
from ._faults import Fault
from ._records import RequestRecord, SentCode

if TYPE_CHECKING:
    from ._browser import BrowserPage, HostedUIBrowser
    from ._dev import run_dev
    from ._provision import Provisioned
    from ._server import Emulator

__all__ = [
    "BrowserPage",
    "Emulator",
    "FakeClock",
    "Fault",
    "HostedUIBrowser",
    "Provisioned",
    "RequestRecord",
    "SentCode",
    "run_dev",
]

_LAZY = {
    "BrowserPage": "._browser",
    "Emulator": "._server",
    "HostedUIBrowser": "._browser",
    "Provisioned": "._provision",
    "run_dev": "._dev",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
