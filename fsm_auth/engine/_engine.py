"""The thread-safe engine: runs a :class:`Spec` on a ``transitions.Machine``."""

from __future__ import annotations

import functools
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

from ._spec import Spec, Transition

__all__ = [
    "Change",
    "ChangeListener",
    "Engine",
    "Event",
    "EventDataListener",
    "HistoryEntry",
    "Listener",
    "Snapshot",
]

_log = logging.getLogger("fsm_auth.engine")

Listener = Callable[[str, str, str], object]
"""``callback(old_state, trigger, new_state)``."""

EventDataListener = Callable[[str, str, str, Mapping[str, Any]], object]
"""``callback(old_state, trigger, new_state, event_data)``."""

_NO_DATA: Mapping[str, Any] = MappingProxyType({})


class _Keep:
    """The default of ``fire(data=...)``: keep the current data."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<keep>"


_KEEP: Any = _Keep()


@attrs.frozen(repr=False)
class Snapshot:
    """The engine's state and data, committed together: a reader never sees a torn pair."""

    state: str
    data: Any

    def __repr__(self) -> str:
        # The data may hold secrets (tokens): only its type is shown.
        return f"Snapshot(state={self.state!r}, data=<{type(self.data).__name__}>)"


@attrs.frozen(repr=False)
class Event:
    """What a guard taking one argument is given: the fire being decided.

    ``data`` is the current data, ``proposed`` the value the transition would commit (the
    ``data=`` or ``update=`` result given to ``fire``, else the current data), ``event_data``
    a read-only mapping of ``fire``'s other keyword arguments.
    """

    state: str
    trigger: str
    data: Any
    proposed: Any
    event_data: Mapping[str, Any]

    def __repr__(self) -> str:
        return (
            f"Event(state={self.state!r}, trigger={self.trigger!r}, "
            f"event_data_keys={tuple(self.event_data)!r})"
        )


@attrs.frozen(repr=False)
class Change:
    """One committed transition, as effects and ``change=True`` listeners get it.

    ``internal`` is True for an internal transition (the state was kept, no exit or entry).
    Its repr shows the states, the trigger and the event data's keys, never data values.
    """

    old_state: str
    trigger: str
    new_state: str
    event_data: Mapping[str, Any]
    old_data: Any
    new_data: Any
    internal: bool

    def __repr__(self) -> str:
        return (
            f"Change(old_state={self.old_state!r}, trigger={self.trigger!r}, "
            f"new_state={self.new_state!r}, event_data_keys={tuple(self.event_data)!r}, "
            f"internal={self.internal!r})"
        )


ChangeListener = Callable[[Change], object]
"""``callback(change)``."""

# `fire` builds a Snapshot at every commit; filling its slots directly skips the frozen
# class's generic __init__ (about half the cost) and gives an equal, equally frozen object.
_new_object = object.__new__
_set_state = cast(Any, Snapshot.__dict__["state"]).__set__
_set_data = cast(Any, Snapshot.__dict__["data"]).__set__


def _snapshot(state: str, data: Any) -> Snapshot:
    snapshot: Snapshot = _new_object(Snapshot)
    _set_state(snapshot, state)
    _set_data(snapshot, data)
    return snapshot


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


# What a subscription is called with.
_PLAIN, _WITH_DATA, _WITH_CHANGE = 0, 1, 2


class _Subscription:
    """One registered listener; its identity is what an unsubscribe removes."""

    __slots__ = ("callback", "kind")

    def __init__(self, callback: Callable[..., object], kind: int) -> None:
        self.callback = callback
        self.kind = kind


_Effects = tuple[tuple[str, Callable[[Change], object]], ...]


class _Ready:
    """Set once the effects of a pending notification's transition have run."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False


# A pending notification: old state, trigger, new state, event data, old data, new data,
# internal, the Change if one was built for the effects or a change listener, and for a
# transition with effects its _Ready (None: ready at commit).
_Note = tuple[str, str, str, Mapping[str, Any], Any, Any, bool, Change | None, _Ready | None]


class _Plan:
    """What follows once a transition is taken from one source: the new state and effects."""

    __slots__ = ("effects", "internal", "state")

    def __init__(self, state: str, internal: bool, effects: _Effects) -> None:
        self.state = state
        self.internal = internal
        self.effects = effects


class _Route:
    """Everything ``fire`` needs for one (state, trigger) pair, computed at construction."""

    __slots__ = ("candidates", "event_guards", "plan", "plans", "trigger")

    def __init__(
        self,
        trigger: Callable[..., bool],
        candidates: list[Any],
        event_guards: bool,
        plan: _Plan | None,
        plans: Mapping[int, _Plan],
    ) -> None:
        self.trigger = trigger  # the bound `transitions` Event.trigger
        self.candidates = candidates  # its `transitions` Transitions from this state
        self.event_guards = event_guards  # some guard takes an Event: build one
        self.plan = plan  # the plan, when every candidate has the same one
        self.plans = plans  # else by transition index (the taken one is marked)


def _provides(context: object, name: str) -> bool:
    # Look without evaluating first: a property guard may be costly or fail before its
    # inputs exist. `hasattr` then covers contexts that answer through `__getattr__`.
    try:
        inspect.getattr_static(context, name)
    except AttributeError:
        return hasattr(context, name)
    return True


def _positional_arity(func: Callable[..., object]) -> tuple[int, int, bool] | None:
    """``(required positional, all positional, has *args)``; None without a signature."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    required = total = 0
    varargs = False
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            total += 1
            required += parameter.default is parameter.empty
        elif parameter.kind is parameter.VAR_POSITIONAL:
            varargs = True
        elif parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            return (-1, total, varargs)  # a required keyword: cannot be called either way
    return (required, total, varargs)


class Engine:
    """Runs a spec: fires triggers, checks guards, commits data, runs effects, notifies.

    The engine owns a state and a data value (the "record", meant to be immutable;
    initially ``data``) and changes both in one step: ``fire`` decides and commits its
    transition atomically under one lock, and :attr:`snapshot` is replaced whole at each
    commit, so a reader without the lock always sees a consistent pair.

    Guards are looked up by name on ``context``: a bool attribute (or property), a method
    taking no arguments, or a method taking one (it gets the :class:`Event`), returning a
    bool; a guard the context lacks takes the default the spec declares under ``guards``
    (none declared: :class:`SpecError`). Guards and ``update`` functions run under the
    engine's lock, so they must not call back into this engine.

    Effects are looked up by name on ``effects``, each a callable taking the
    :class:`Change`; with ``effects=None`` they are not run (the engine only decides). After
    a commit, in the firing thread, outside the lock and before ``fire`` returns, the old
    state's ``on_exit``, the new state's ``on_enter`` and the transition's ``after`` effects
    run in that order (an internal transition runs only its ``after`` effects). An effect
    that raises is logged and the others still run; the commit stands. Effects may call back
    into the engine.

    Listeners run outside the lock, exactly once per fired transition, in the global order
    of the transitions, never before that transition's effects have run, and may call back
    into the engine. A notification is handed to whichever thread is already delivering, so
    a ``fire`` made from inside a listener or an effect (or while another thread delivers)
    may return before its own listeners run: they run once the earlier ones are done.
    """

    def __init__(
        self,
        spec: Spec | str | os.PathLike[str] | Mapping[str, Any],
        context: object | None = None,
        *,
        effects: object | None = None,
        data: Any = None,
        history_size: int = 64,
    ) -> None:
        self._spec = spec = Spec.load(spec)
        self._context = context
        label = str(spec.source) if spec.source else f"spec {spec.name!r}"
        missing = [
            g for g in spec.guards if g not in spec.guard_defaults and not _provides(context, g)
        ]
        if missing:
            raise SpecError(
                f"{label}: guard(s) {', '.join(map(repr, missing))} not provided by the "
                f"engine's context ({type(context).__name__})"
            )
        guards = {name: self._guard(name, label) for name in spec.guards}
        event_guards = frozenset(name for name, (_, takes_event) in guards.items() if takes_event)
        implementations = self._resolve_effects(effects, label)

        # Plans by (source, transition index); a route needs to know which transition was
        # taken only when its candidates' plans differ.
        plans: dict[tuple[str, int], _Plan] = {}
        for index, t in enumerate(spec.transitions):
            for source in t.sources:
                names = self._effects_of(source, t)
                plans[source, index] = _Plan(
                    source if t.dest is None else t.dest,
                    t.internal,
                    tuple((n, implementations[n]) for n in names) if implementations else (),
                )
        candidates: dict[tuple[str, str], list[int]] = {}
        for index, t in enumerate(spec.transitions):
            for source in t.sources:
                candidates.setdefault((source, t.trigger), []).append(index)
        marked = {
            index
            for (source, _), indexes in candidates.items()
            if len({_plan_key(plans[source, i]) for i in indexes}) > 1
            for index in indexes
        }

        self._model = _Model()
        self._taken = -1
        # `transitions` remains the executor of record: every state change is one of its
        # events (an internal transition is one with no dest). Guards become its
        # conditions/unless as callables bound to `context`; effects are not its callbacks,
        # because those run under the lock.
        self._machine = Machine(
            model=self._model,
            states=list(spec.states),
            initial=spec.initial,
            transitions=[
                {
                    "trigger": t.trigger,
                    "source": list(t.sources),
                    "dest": t.dest,
                    "conditions": [guards[g][0] for g in t.conditions],
                    "unless": [guards[g][0] for g in t.unless],
                    "after": [functools.partial(self._mark, index)] if index in marked else [],
                }
                for index, t in enumerate(spec.transitions)
            ],
            auto_transitions=False,
            send_event=False,
        )
        self._events = self._machine.events
        self._routes: dict[tuple[str, str], _Route] = {}
        for (source, trigger), indexes in candidates.items():
            shared = plans[source, indexes[0]]
            unique = all(_plan_key(plans[source, i]) == _plan_key(shared) for i in indexes)
            self._routes[source, trigger] = _Route(
                self._events[trigger].trigger,
                self._events[trigger].transitions[source],
                any(
                    g in event_guards
                    for i in indexes
                    for g in (*spec.transitions[i].conditions, *spec.transitions[i].unless)
                ),
                shared if unique else None,
                MappingProxyType({i: plans[source, i] for i in indexes}),
            )
        self._ignored = frozenset((s, t) for s in spec.states for t in spec.ignored(s))
        self._policies = {(s, p): spec.policy(s, p) for s in spec.states for p in spec.policies}
        self._snapshot = Snapshot(spec.initial, data)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiters = 0
        self._history: deque[tuple[float, str, str, str, tuple[str, ...]]] = deque(
            maxlen=history_size
        )
        self._subscriptions: tuple[_Subscription, ...] = ()
        self._change_listeners = False
        self._pending: deque[_Note] = deque()
        self._delivering = False

    def _effects_of(self, source: str, transition: Transition) -> tuple[str, ...]:
        """The effect names ``transition`` runs when taken from ``source``, in order."""
        if transition.dest is None:
            return transition.after
        return (
            *self._spec.on_exit(source),
            *self._spec.on_enter(transition.dest),
            *transition.after,
        )

    def _mark(self, index: int, *_args: object) -> None:
        # A `transitions` after-callback: records which transition was taken (under the lock).
        self._taken = index

    def _resolve_effects(
        self, effects: object | None, label: str
    ) -> dict[str, Callable[[Change], object]]:
        if effects is None:
            return {}
        found: dict[str, Callable[[Change], object]] = {}
        missing = []
        for name in self._spec.effects:
            effect = getattr(effects, name, None)
            arity = _positional_arity(effect) if callable(effect) else (-1, 0, False)
            if arity is not None and (arity[0] not in (0, 1) or not (arity[1] or arity[2])):
                missing.append(name)  # absent, not callable, or cannot take the Change
                continue
            found[name] = cast(Callable[[Change], object], effect)
        if missing:
            raise SpecError(
                f"{label}: effect(s) {', '.join(map(repr, missing))} of spec "
                f"{self._spec.name!r} not provided by the effects object "
                f"({type(effects).__name__}) as callables taking the Change"
            )
        return found

    def _guard(self, name: str, label: str) -> tuple[Callable[..., bool], bool]:
        """The condition callable for guard ``name``, and whether it takes the Event."""
        context = self._context
        if not _provides(context, name):
            # Not in the context: the spec's declared default (checked in __init__).
            default = self._spec.guard_defaults[name]

            def constant(*_args: object) -> bool:
                return default

            constant.__name__ = constant.__qualname__ = name
            return constant, False
        takes_event = False
        try:
            static = inspect.getattr_static(context, name)
        except AttributeError:
            static = None  # answered through `__getattr__`
        # A property is read at each check, never at construction; anything else is looked
        # at once to learn whether it is a method and which arguments it takes.
        if not isinstance(static, property):
            value = getattr(context, name)
            if callable(value):
                arity = _positional_arity(value)
                if arity is not None:
                    required, total, _ = arity
                    if required < 0 or required > 1:
                        raise SpecError(
                            f"{label}: guard {name!r} of the engine's context "
                            f"({type(context).__name__}) must take no argument or one (the Event)"
                        )
                    takes_event = required == 1 or total == 1

        if takes_event:

            def check_event(event: Event) -> bool:
                return bool(getattr(context, name)(event))

            check_event.__name__ = check_event.__qualname__ = name
            return check_event, True

        def check(*_args: object) -> bool:
            value = getattr(context, name)
            return bool(value() if callable(value) else value)

        check.__name__ = check.__qualname__ = name
        return check, False

    @property
    def spec(self) -> Spec:
        """The spec this engine runs."""
        return self._spec

    @property
    def state(self) -> str:
        """The current state."""
        return self._snapshot.state

    @property
    def data(self) -> Any:
        """The current data (the record)."""
        return self._snapshot.data

    @property
    def snapshot(self) -> Snapshot:
        """The current state and data, as committed together."""
        return self._snapshot

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        """The most recent fired transitions, oldest first."""
        with self._lock:
            entries = tuple(self._history)
        return tuple(HistoryEntry(*entry) for entry in entries)

    def policy(self, name: str) -> str:
        """The value of policy ``name`` in the current state (ValueError if undeclared)."""
        state = self._snapshot.state
        value = self._policies.get((state, name))
        return value if value is not None else self._spec.policy(state, name)

    def fire(
        self,
        trigger: str,
        /,
        *,
        data: Any = _KEEP,
        update: Callable[[Any], Any] | None = None,
        **event_data: Any,
    ) -> bool:
        """Fire ``trigger``; True if a transition happened (possibly back to the same state).

        False when every transition for ``trigger`` from the current state was refused by
        its guards, or when the current state ignores ``trigger`` (nothing runs then, not
        even ``update``). Raises :class:`IllegalTransitionError` when there is no transition
        for ``trigger`` from the current state (or no such trigger).

        ``data=value`` commits ``value`` with the transition; ``update=f`` commits
        ``f(current data)``, called once under the engine's lock before the guards (if it
        raises, the exception propagates and nothing changes); giving both is a
        :class:`TypeError`. Neither the state nor the data changes unless True is returned.
        ``data`` and ``update`` are therefore reserved: the other keyword arguments are the
        event data, given to guards (``Event.event_data``), effects and listeners that ask
        for it. Effects of the transition have run when ``fire`` returns.
        """
        if update is not None and data is not _KEEP:
            raise TypeError(f"{self._spec.name}: fire() takes data= or update=, not both")
        with self._lock:
            snapshot = self._snapshot
            old = snapshot.state
            route = self._routes.get((old, trigger))
            if route is None:
                if (old, trigger) in self._ignored:
                    return False
                raise IllegalTransitionError(
                    f"{self._spec.name}: no transition for trigger {trigger!r} from state {old!r}",
                    state=old,
                    trigger=trigger,
                )
            old_data = snapshot.data
            if update is not None:
                proposed = update(old_data)
            elif data is _KEEP:
                proposed = old_data
            else:
                proposed = data
            if route.event_guards:
                event = Event(
                    old,
                    trigger,
                    old_data,
                    proposed,
                    MappingProxyType(event_data) if event_data else _NO_DATA,
                )
                if not route.trigger(self._model, event):
                    return False
            elif not route.trigger(self._model):
                return False
            plan = route.plan
            if plan is None:
                plan = route.plans[self._taken]
            new = plan.state
            if new != old or proposed is not old_data:
                self._snapshot = _snapshot(new, proposed)
            self._history.append(
                (time.time(), old, trigger, new, tuple(event_data) if event_data else ())
            )
            if self._waiters and new != old:
                self._changed.notify_all()
            effects = plan.effects
            if not effects and not self._subscriptions:
                return True  # the common path: nothing more to do
            change = None
            if effects or self._change_listeners:
                change = Change(
                    old,
                    trigger,
                    new,
                    MappingProxyType(event_data) if event_data else _NO_DATA,
                    old_data,
                    proposed,
                    plan.internal,
                )
            deliver = False
            ready = None
            if self._subscriptions:
                # A notification waits in the queue until its transition's effects have run,
                # so no listener sees a transition before its effects did.
                ready = _Ready() if effects else None
                self._pending.append(
                    (
                        old,
                        trigger,
                        new,
                        event_data,
                        old_data,
                        proposed,
                        plan.internal,
                        change,
                        ready,
                    )
                )
                if ready is None and not self._delivering:
                    self._delivering = deliver = True
        if effects:
            try:
                self._run_effects(effects, cast(Change, change))
            except BaseException:
                # Only a BaseException (KeyboardInterrupt, SystemExit) gets here; the next
                # fire delivers the notification.
                if ready is not None:
                    with self._lock:
                        ready.done = True
                raise
            if ready is not None:
                with self._lock:
                    ready.done = True
                    if not self._delivering:
                        self._delivering = deliver = True
        if deliver:
            self._deliver()
        return True

    def _run_effects(self, effects: _Effects, change: Change) -> None:
        for name, effect in effects:
            try:
                effect(change)
            except Exception:
                # Never the data or event data values in the log: they may be secrets.
                _log.exception(
                    "%s: effect %r failed on %s -(%s)-> %s",
                    self._spec.name,
                    name,
                    change.old_state,
                    change.trigger,
                    change.new_state,
                )

    def can_fire(self, trigger: str) -> bool:
        """True when ``trigger`` has a transition from the current state whose guards pass now.

        A guard taking the :class:`Event` sees the current data as ``proposed`` and no event
        data. False for a trigger the current state ignores.
        """
        with self._lock:
            snapshot = self._snapshot
            route = self._routes.get((snapshot.state, trigger))
            if route is None:
                return False
            args: tuple[Event, ...] = ()
            if route.event_guards:
                args = (Event(snapshot.state, trigger, snapshot.data, snapshot.data, _NO_DATA),)
            # Conditions hold the guard callables built by `_guard`; `target` is False for
            # an `unless` guard.
            return any(
                all(cast(Callable[..., bool], c.func)(*args) == c.target for c in t.conditions)
                for t in route.candidates
            )

    @overload
    def add_listener(
        self,
        callback: Listener,
        *,
        event_data: Literal[False] = False,
        change: Literal[False] = False,
    ) -> Callable[[], None]: ...

    @overload
    def add_listener(
        self,
        callback: EventDataListener,
        *,
        event_data: Literal[True],
        change: Literal[False] = False,
    ) -> Callable[[], None]: ...

    @overload
    def add_listener(
        self,
        callback: ChangeListener,
        *,
        event_data: Literal[False] = False,
        change: Literal[True],
    ) -> Callable[[], None]: ...

    def add_listener(
        self, callback: Callable[..., object], *, event_data: bool = False, change: bool = False
    ) -> Callable[[], None]:
        """Call ``callback`` for every transition that fires; returns an unsubscribe function.

        ``callback(old_state, trigger, new_state)``; with ``event_data=True``
        ``callback(old_state, trigger, new_state, event_data)`` where ``event_data`` is a
        read-only mapping of the keyword arguments given to :meth:`fire`; with
        ``change=True`` ``callback(change)``, the :class:`Change` (giving both is a
        :class:`TypeError`). The listeners registered when a notification is delivered are
        the ones called, so none is called after its unsubscribe returns (unless that
        notification is being delivered already).
        """
        if event_data and change:
            raise TypeError("add_listener() takes event_data=True or change=True, not both")
        subscription = _Subscription(
            callback, _WITH_CHANGE if change else _WITH_DATA if event_data else _PLAIN
        )
        with self._lock:
            self._set_subscriptions((*self._subscriptions, subscription))

        def unsubscribe() -> None:
            with self._lock:
                self._set_subscriptions(
                    tuple(s for s in self._subscriptions if s is not subscription)
                )

        return unsubscribe

    def remove_listener(self, callback: Callable[..., object]) -> None:
        """Stop calling ``callback`` (every registration of it); unknown callbacks are ignored."""
        with self._lock:
            self._set_subscriptions(tuple(s for s in self._subscriptions if s.callback != callback))

    def _set_subscriptions(self, subscriptions: tuple[_Subscription, ...]) -> None:
        # Called under the lock; `fire` builds a Change only when some listener wants one.
        self._subscriptions = subscriptions
        self._change_listeners = any(s.kind == _WITH_CHANGE for s in subscriptions)

    def wait_for(
        self,
        states: str | Iterable[str],
        timeout: float | None = None,
        *,
        cancelled: Callable[[], bool] | None = None,
    ) -> str:
        """Block until the state is one of ``states`` and return it (at once if it already is).

        ``cancelled``, if given, is called (under the engine's lock: it must not call into
        the engine) before waiting and whenever the waiter is woken, by a state change or by
        :meth:`wake_waiters`; once it returns True, ``wait_for`` returns the current state at
        once, which may not be one of ``states``. Raises :class:`TimeoutError` when
        ``timeout`` seconds pass first, and ``ValueError`` for a state the spec does not
        declare.
        """
        targets = frozenset((states,) if isinstance(states, str) else states)
        unknown = targets.difference(self._spec.states)
        if unknown:
            raise ValueError(f"{self._spec.name}: undeclared state(s) {sorted(unknown)}")

        def done() -> bool:
            return self._snapshot.state in targets or (cancelled is not None and cancelled())

        with self._changed:
            self._waiters += 1
            try:
                if not self._changed.wait_for(done, timeout):
                    raise TimeoutError(
                        f"{self._spec.name}: still in {self._snapshot.state!r} after "
                        f"{timeout}s, waiting for {sorted(targets)}"
                    )
                return self._snapshot.state
            finally:
                self._waiters -= 1

    def wake_waiters(self) -> None:
        """Wake every :meth:`wait_for` so it checks its ``cancelled`` callable again.

        Takes the engine's lock: call it from anywhere but a guard or an ``update``.
        """
        with self._changed:
            self._changed.notify_all()

    def _deliver(self) -> None:
        # Only one thread delivers at a time (the one that set `_delivering`), so listeners
        # see transitions in the order they happened; it drains until the queue is empty.
        try:
            while True:
                with self._lock:
                    pending = self._pending
                    ready = pending[0][8] if pending else None
                    if not pending or (ready is not None and not ready.done):
                        # Empty, or the oldest transition's effects still run: the thread
                        # running them delivers once they are done.
                        self._delivering = False
                        return
                    note = pending.popleft()
                    subscriptions = self._subscriptions
                self._notify(subscriptions, note)
        except BaseException:
            # Only a BaseException (KeyboardInterrupt, SystemExit) gets here; let the next
            # fire deliver what is left.
            with self._lock:
                self._delivering = False
            raise

    def _notify(self, subscriptions: tuple[_Subscription, ...], note: _Note) -> None:
        old, trigger, new, data, old_data, new_data, internal, change, _ = note
        for subscription in subscriptions:
            try:
                kind = subscription.kind
                if kind == 0:  # _PLAIN
                    subscription.callback(old, trigger, new)
                elif kind == 1:  # _WITH_DATA
                    subscription.callback(
                        old, trigger, new, MappingProxyType(data) if data else _NO_DATA
                    )
                else:
                    if change is None:
                        # The listener subscribed after the commit: build the Change now.
                        change = Change(
                            old,
                            trigger,
                            new,
                            MappingProxyType(data) if data else _NO_DATA,
                            old_data,
                            new_data,
                            internal,
                        )
                    subscription.callback(change)
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
        return f"<Engine {self._spec.name!r} state={self._snapshot.state!r}>"


def _plan_key(plan: _Plan) -> tuple[str, bool, tuple[str, ...]]:
    return (plan.state, plan.internal, tuple(name for name, _ in plan.effects))
