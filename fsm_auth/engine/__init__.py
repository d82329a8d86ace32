"""The generic FSM engine: specs as data, a thread-safe engine on ``transitions``, diagrams.

It knows nothing about authentication: it runs any spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsm_auth._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._diagram import to_dot, to_mermaid
    from ._engine import (
        Change,
        ChangeListener,
        Engine,
        Event,
        EventDataListener,
        HistoryEntry,
        Listener,
        Snapshot,
    )
    from ._spec import Policy, Spec, Transition, shipped_spec_names
    from ._twin import shipped_specs_dir

# Loaded on first use: name -> module (importing the package loads none of them).
_LAZY = {
    "to_dot": "fsm_auth.engine._diagram",
    "to_mermaid": "fsm_auth.engine._diagram",
    "Change": "fsm_auth.engine._engine",
    "ChangeListener": "fsm_auth.engine._engine",
    "Engine": "fsm_auth.engine._engine",
    "Event": "fsm_auth.engine._engine",
    "EventDataListener": "fsm_auth.engine._engine",
    "HistoryEntry": "fsm_auth.engine._engine",
    "Listener": "fsm_auth.engine._engine",
    "Snapshot": "fsm_auth.engine._engine",
    "Policy": "fsm_auth.engine._spec",
    "Spec": "fsm_auth.engine._spec",
    "Transition": "fsm_auth.engine._spec",
    "shipped_spec_names": "fsm_auth.engine._spec",
    "shipped_specs_dir": "fsm_auth.engine._twin",
}

__all__ = [
    "Change",
    "ChangeListener",
    "Engine",
    "Event",
    "EventDataListener",
    "HistoryEntry",
    "Listener",
    "Policy",
    "Snapshot",
    "Spec",
    "Transition",
    "shipped_spec_names",
    "shipped_specs_dir",
    "to_dot",
    "to_mermaid",
]

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __all__)
