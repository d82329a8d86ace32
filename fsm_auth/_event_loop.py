"""The event loop a worker thread's I/O goes out on, for the asyncio client.

``AsyncAuthClient`` runs the machine's work in worker threads and sets :data:`event_loop` in
their context; I/O that has an asyncio form (the Redis store's commands) is then run on that
loop with :func:`run_on`, and waited for in the worker. Unset (the synchronous client, its
background threads), the I/O is done in the calling thread as always.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["call_cancelled", "cancelled", "event_loop", "run_on"]

T = TypeVar("T")

event_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "fsm_auth_event_loop", default=None
)
"""The asyncio client's loop, in the context of its worker threads' work."""


def run_on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on ``loop`` from another thread and return its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


call_cancelled: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "fsm_auth_call_cancelled", default=None
)
"""Set when the asyncio call this work runs for was cancelled (its worker goes on)."""


def cancelled() -> bool:
    """Whether the asyncio call this work runs for was cancelled: a commit that would change
    the state is then not made (cancelling a call changes nothing)."""
    event = call_cancelled.get()
    return event is not None and event.is_set()
