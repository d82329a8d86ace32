"""The thread-safe engine: runs a :class:`Spec` on a ``transitions.Machine``."""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal, cast, overload

import attrs
from transitions import Machine

from fsm_auth.errors import IllegalTransitionError, SpecError

from ._spec import Spec

__all__ = ["Engine", "EventDataListener", "HistoryEntry", "Listener"]

_log = logging.getLogger("fsm_auth.engine")

Listener = Callable[[str, str, str], object]
"""``callback(old_state, trigger, new_state)``."""

EventDataListener = Callable[[str, str, str, Mapping[str, Any]], object]
"""``callback(old_state, trigger, new_state, event_data)``."""

_NO_DATA: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen
class HistoryEntry:
    """One fired transition. Only the event data's keys are kept: values may be secrets."""

    timestamp: float
    old_state: str
    trigger: str
    new_state: str
    event_data_keys: tuple[str, ...] = ()


class _Model:
    """The object whose ``state`` the ``transitions.Machine`` drives."""

    state: str


class _Subscription:
    """One registered listener; its identity is what an unsubscribe removes."""

    __slots__ = ("callback", "with_data")

    def __init__(self, callback: Callable[..., object], with_data: bool) -> None:
        self.callback = callback
        self.with_data = with_data


def _provides(context: object, name: str) -> bool:
    # Look without evaluating first: a property guard may be costly or fail before its
    # inputs exist. `hasattr` then covers contexts that answer through `__getattr__`.
    try:
        inspect.getattr_static(context, name)
    except AttributeError:
        return hasattr(context, name)
    return True


class Engine:
    """Runs a spec: fires triggers, checks guards, notifies listeners, keeps a history.

    Thread-safe. Every ``fire`` decides and applies its transition atomically under one lock.
    Listeners run outside that lock, exactly once per fired transition, in the global order of
    the transitions, and may call back into the engine. A notification is handed to whichever
    thread is already delivering, so a ``fire`` made from inside a listener returns before its
    own listeners run: they run right after the current listener returns.

    Guards are looked up by name on ``context``: a bool attribute (or property), or a method
    taking no arguments and returning a bool; a guard the context lacks takes the default the
    spec declares under ``guards`` (none declared: :class:`SpecError`). Guards run under the
    engine's lock, so they must not call back into this engine.
    """

    def __init__(
        self,
        spec: Spec | str | os.PathLike[str] | Mapping[str, Any],
        context: object | None = None,
        *,
        history_size: int = 64,
    ) -> None:
        self._spec = Spec.load(spec)
        self._context = context
        missing = [
            g
            for g in self._spec.guards
            if g not in self._spec.guard_defaults and not _provides(context, g)
        ]
        if missing:
            raise SpecError(
                f"{self._spec.source or f'spec {self._spec.name!r}'}: guard(s) "
                f"{', '.join(map(repr, missing))} not provided by the engine's context "
                f"({type(context).__name__})"
            )
        self._model = _Model()
        # `transitions` remains the executor of record: every state change is one of its
        # events. Guards become its conditions/unless as callables bound to `context`.
        self._machine = Machine(
            model=self._model,
            states=list(self._spec.states),
            initial=self._spec.initial,
            transitions=[
                {
                    "trigger": t.trigger,
                    "source": list(t.sources),
                    "dest": t.dest,
                    "conditions": [self._guard(g) for g in t.conditions],
                    "unless": [self._guard(g) for g in t.unless],
                }
                for t in self._spec.transitions
            ],
            auto_transitions=False,
            send_event=False,
        )
        self._events = self._machine.events
        # (state, trigger) pairs that have a transition: lets `fire` refuse an illegal
        # trigger without going through transitions' exception path.
        self._legal = frozenset((s, t.trigger) for t in self._spec.transitions for s in t.sources)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiters = 0
        self._history: deque[tuple[float, str, str, str, tuple[str, ...]]] = deque(
            maxlen=history_size
        )
        self._subscriptions: tuple[_Subscription, ...] = ()
        self._pending: deque[tuple[str, str, str, Mapping[str, Any]]] = deque()
        self._delivering = False

    def _guard(self, name: str) -> Callable[..., bool]:
        context = self._context
        if not _provides(context, name):
            # Not in the context: the spec's declared default (checked in __init__).
            default = self._spec.guard_defaults[name]

            def constant(*_args: object, **_kwargs: object) -> bool:
                return default

            constant.__name__ = constant.__qualname__ = name
            return constant

        def check(*_args: object, **_kwargs: object) -> bool:
            value = getattr(context, name)
            return bool(value() if callable(value) else value)

        check.__name__ = check.__qualname__ = name
        return check

    @property
    def spec(self) -> Spec:
        """The spec this engine runs."""
        return self._spec

    @property
    def state(self) -> str:
        """The current state."""
        return self._model.state

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        """The most recent fired transitions, oldest first."""
        with self._lock:
            entries = tuple(self._history)
        return tuple(HistoryEntry(*entry) for entry in entries)

    def fire(self, trigger: str, **event_data: Any) -> bool:
        """Fire ``trigger``; True if a transition happened (possibly back to the same state).

        False when every transition for ``trigger`` from the current state was refused by
        its guards. Raises :class:`IllegalTransitionError` when there is no transition for
        ``trigger`` from the current state (or no such trigger). The state is unchanged
        unless True is returned. ``event_data`` is passed to listeners that asked for it.
        """
        with self._lock:
            old = self._model.state
            if (old, trigger) not in self._legal:
                raise IllegalTransitionError(
                    f"{self._spec.name}: no transition for trigger {trigger!r} from state {old!r}",
                    state=old,
                    trigger=trigger,
                )
            if not self._events[trigger].trigger(self._model):
                return False
            new = self._model.state
            self._history.append(
                (time.time(), old, trigger, new, tuple(event_data) if event_data else ())
            )
            if self._waiters and new != old:
                self._changed.notify_all()
            if not self._subscriptions:
                return True
            self._pending.append((old, trigger, new, event_data))
            if self._delivering:
                return True
            self._delivering = True
        self._deliver()
        return True

    def can_fire(self, trigger: str) -> bool:
        """True when ``trigger`` has a transition from the current state whose guards pass now."""
        with self._lock:
            state = self._model.state
            if (state, trigger) not in self._legal:
                return False
            # Conditions hold the guard callables built by `_guard`; `target` is False for
            # an `unless` guard.
            return any(
                all(cast(Callable[[], bool], c.func)() == c.target for c in t.conditions)
                for t in self._events[trigger].transitions[state]
            )

    @overload
    def add_listener(
        self, callback: Listener, *, event_data: Literal[False] = False
    ) -> Callable[[], None]: ...

    @overload
    def add_listener(
        self, callback: EventDataListener, *, event_data: Literal[True]
    ) -> Callable[[], None]: ...

    def add_listener(
        self, callback: Callable[..., object], *, event_data: bool = False
    ) -> Callable[[], None]:
        """Call ``callback`` for every transition that fires; returns an unsubscribe function.

        ``callback(old_state, trigger, new_state)``, or with ``event_data=True``
        ``callback(old_state, trigger, new_state, event_data)`` where ``event_data`` is a
        read-only mapping of the keyword arguments given to :meth:`fire`. The listeners
        registered when a notification is delivered are the ones called, so none is called
        after its unsubscribe returns (unless that notification is being delivered already).
        """
        subscription = _Subscription(callback, event_data)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)

        def unsubscribe() -> None:
            with self._lock:
                self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

        return unsubscribe

    def remove_listener(self, callback: Callable[..., object]) -> None:
        """Stop calling ``callback`` (every registration of it); unknown callbacks are ignored."""
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s.callback != callback)

    def wait_for(self, states: str | Iterable[str], timeout: float | None = None) -> str:
        """Block until the state is one of ``states`` and return it (at once if it already is).

        Raises :class:`TimeoutError` when ``timeout`` seconds pass first, and ``ValueError``
        for a state the spec does not declare.
        """
        targets = frozenset((states,) if isinstance(states, str) else states)
        unknown = targets.difference(self._spec.states)
        if unknown:
            raise ValueError(f"{self._spec.name}: undeclared state(s) {sorted(unknown)}")
        with self._changed:
            self._waiters += 1
            try:
                if not self._changed.wait_for(lambda: self._model.state in targets, timeout):
                    raise TimeoutError(
                        f"{self._spec.name}: still in {self._model.state!r} after {timeout}s, "
                        f"waiting for {sorted(targets)}"
                    )
                return self._model.state
            finally:
                self._waiters -= 1

    def _deliver(self) -> None:
        # Only one thread delivers at a time (the one that set `_delivering`), so listeners
        # see transitions in the order they happened; it drains until the queue is empty.
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._delivering = False
                        return
                    old, trigger, new, data = self._pending.popleft()
                    subscriptions = self._subscriptions
                self._notify(subscriptions, old, trigger, new, data)
        except BaseException:
            # Only a BaseException (KeyboardInterrupt, SystemExit) gets here; let the next
            # fire deliver what is left.
            with self._lock:
                self._delivering = False
            raise

    def _notify(
        self,
        subscriptions: tuple[_Subscription, ...],
        old: str,
        trigger: str,
        new: str,
        data: Mapping[str, Any],
    ) -> None:
        for subscription in subscriptions:
            try:
                if subscription.with_data:
                    subscription.callback(
                        old, trigger, new, MappingProxyType(data) if data else _NO_DATA
                    )
                else:
                    subscription.callback(old, trigger, new)
            except Exception:
                _log.exception(
                    "%s: listener %r failed on %s -(%s)-> %s",
                    self._spec.name,
                    subscription.callback,
                    old,
                    trigger,
                    new,
                )

    def __repr__(self) -> str:
        return f"<Engine {self._spec.name!r} state={self._model.state!r}>"
