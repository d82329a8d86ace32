"""The generic FSM engine: specs as data, a thread-safe engine on ``transitions``, diagrams.

It knows nothing about authentication: it runs any spec.
"""

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
from ._spec import Policy, Spec, Transition, shipped_spec_names, shipped_specs_dir

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
