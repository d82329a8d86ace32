"""The generic FSM engine: specs as data, a thread-safe engine on ``transitions``, diagrams.

It knows nothing about authentication: it runs any spec.
"""

from ._diagram import to_dot, to_mermaid
from ._engine import Engine, EventDataListener, HistoryEntry, Listener
from ._spec import Spec, Transition, shipped_spec_names, shipped_specs_dir

__all__ = [
    "Engine",
    "EventDataListener",
    "HistoryEntry",
    "Listener",
    "Spec",
    "Transition",
    "shipped_spec_names",
    "shipped_specs_dir",
    "to_dot",
    "to_mermaid",
]
