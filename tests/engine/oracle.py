"""A hypothesis state machine that checks an engine against its spec, used as the oracle.

The oracle reads only the spec (declared order, guards, effects, ignore lists, policies) and
never the engine's internals, so it is an independent second implementation of the
semantics: an ignored trigger changes nothing; otherwise the first transition, in declaration
order, from the current state for the trigger whose conditions all hold and whose ``unless``
guards all fail, is taken (none declared is illegal; none passing is a refusal). A taken
transition commits the proposed data and runs the old state's ``on_exit``, the new state's
``on_enter`` and its ``after`` effects, in that order (an internal one only its ``after``).

Every fire carries a random data change (keep, ``data=``, ``update=``, or an ``update`` that
raises), so data is checked along with the state. Specs come from files or are generated
(:func:`spec_mappings`).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fsm_auth.engine import Change, Engine, Event, Spec, Transition
from fsm_auth.errors import IllegalTransitionError

ILLEGAL = "<illegal>"
REFUSED = "<refused>"
IGNORED = "<ignored>"
UNKNOWN_TRIGGER = "no_such_trigger"
DETAIL = {"detail": "x"}

# Moderate by default (a few seconds per spec); FSM_ENGINE_PROFILE=engine-thorough for more.
settings.register_profile(
    "engine-ci",
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "engine-thorough",
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Mutants must be caught on every run, not by luck: fixed seed, no example database; only
# detection matters, so no shrinking.
settings.register_profile(
    "engine-mutants",
    parent=settings.get_profile("engine-ci"),
    max_examples=200,
    stateful_step_count=40,
    phases=(Phase.explicit, Phase.generate),
    derandomize=True,
    database=None,
    print_blob=False,
    report_multiple_bugs=False,
)


def oracle_settings() -> settings:
    """The profile for oracle runs on real engines."""
    return settings.get_profile(os.environ.get("FSM_ENGINE_PROFILE", "engine-ci"))


def expected_transition(
    spec: Spec, state: str, trigger: str, guards: Mapping[str, bool]
) -> Transition | str:
    """The transition ``trigger`` takes from ``state``, or ILLEGAL, IGNORED or REFUSED."""
    candidates = [t for t in spec.transitions if t.trigger == trigger and state in t.sources]
    if not candidates:
        return IGNORED if trigger in spec.ignored(state) else ILLEGAL
    for t in candidates:
        if all(guards[g] for g in t.conditions) and not any(guards[g] for g in t.unless):
            return t
    return REFUSED


def expected_outcome(spec: Spec, state: str, trigger: str, guards: Mapping[str, bool]) -> str:
    """What the spec says ``trigger`` does from ``state``: a dest, ILLEGAL, IGNORED or REFUSED."""
    taken = expected_transition(spec, state, trigger, guards)
    if isinstance(taken, str):
        return taken
    return state if taken.dest is None else taken.dest


def expected_effects(spec: Spec, state: str, taken: Transition) -> list[str]:
    """The effects a taken transition runs, in order."""
    if taken.dest is None:
        return list(taken.after)
    return [*spec.on_exit(state), *spec.on_enter(taken.dest), *taken.after]


def expected_policies(mapping: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """State → policy → value, read from a spec mapping (declared value, else the default)."""
    policies = mapping.get("policies", {})
    table: dict[str, dict[str, str]] = {}
    for entry in mapping["states"]:
        name, given = (entry, {}) if isinstance(entry, str) else (entry["name"], entry)
        declared = given.get("policy", {})
        table[name] = {p: declared.get(p, decl.get("default")) for p, decl in policies.items()}
    return table


class GuardContext:
    """An engine context whose guard values the test sets; all start False.

    The guards named in ``event_guards`` are methods taking the :class:`Event` (the others
    plain attributes); the events they saw are kept in ``seen``.
    """

    def __init__(self, guards: tuple[str, ...], event_guards: frozenset[str] = frozenset()):
        self._values = dict.fromkeys(guards, False)
        self.seen: list[tuple[str, Event]] = []
        for guard in guards:
            setattr(self, guard, self._event_guard(guard) if guard in event_guards else False)

    def _event_guard(self, guard: str) -> Callable[[Event], bool]:
        def check(event: Event) -> bool:
            self.seen.append((guard, event))
            return self._values[guard]

        return check

    def set(self, guard: str, value: bool) -> None:
        """Set a guard's value."""
        self._values[guard] = value
        if not callable(getattr(self, guard)):
            setattr(self, guard, value)

    def values(self) -> dict[str, bool]:
        """The current guard values."""
        return dict(self._values)


class EffectRecorder:
    """An effects object with every effect of a spec: each records its call in ``calls``."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.calls: list[tuple[str, Change]] = []
        for name in names:
            setattr(self, name, self._effect(name))

    def _effect(self, name: str) -> Callable[[Change], None]:
        def effect(change: Change) -> None:
            self.calls.append((name, change))  # list.append is atomic: no lock needed

        return effect


class Boom(Exception):
    """Raised by an ``update`` the oracle makes fail."""


def _fields(change: Change) -> tuple[Any, ...]:
    return (
        change.old_state,
        change.trigger,
        change.new_state,
        change.old_data,
        change.new_data,
        change.internal,
    )


# An Engine, or a wrong one, built as `factory(spec, context, effects=..., data=...)`.
EngineFactory = Callable[..., Engine]


@st.composite
def spec_mappings(draw: st.DrawFn) -> dict[str, Any]:
    """Valid spec mappings using the whole vocabulary: guards, internal and reflexive
    transitions, effects (with repeats), ignore lists, policies with and without defaults.
    """
    states = [f"s{i}" for i in range(draw(st.integers(min_value=2, max_value=5)))]
    triggers = ("t0", "t1", "t2", "t3")
    guards = ("g0", "g1", "g2")
    effects = ("e0", "e1", "e2")
    names = st.lists(st.sampled_from(effects), max_size=2)
    transitions: list[dict[str, Any]] = []
    unguarded: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(min_value=1, max_value=10))):
        trigger = draw(st.sampled_from(triggers))
        sources = draw(st.lists(st.sampled_from(states), min_size=1, unique=True))
        conditions = draw(st.lists(st.sampled_from(guards), max_size=2, unique=True))
        unless = draw(st.lists(st.sampled_from(guards), max_size=1))
        # Keep it valid: an unguarded transition hides every later one for its trigger.
        sources = [s for s in sources if (trigger, s) not in unguarded]
        if not sources:
            continue
        if not (conditions or unless):
            unguarded.update((trigger, s) for s in sources)
        entry: dict[str, Any] = {"trigger": trigger, "source": sources}
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            entry["internal"] = True
        else:
            entry["dest"] = draw(st.sampled_from(states))
        for key, value in (("conditions", conditions), ("unless", unless)):
            if value:
                entry[key] = value
        after = draw(names)
        if after:
            entry["after"] = after
        transitions.append(entry)
    declared = {t["trigger"] for t in transitions}
    leaving = {(s, t["trigger"]) for t in transitions for s in t["source"]}
    policies: dict[str, Any] = {}
    if draw(st.booleans()):
        policies["mode"] = {"values": ["a", "b", "c"]}
        if draw(st.booleans()):
            policies["mode"]["default"] = "a"
    state_entries: list[dict[str, Any]] = []
    for state in states:
        entry = {"name": state}
        for key in ("on_enter", "on_exit"):
            chosen = draw(names)
            if chosen:
                entry[key] = chosen
        can_ignore = sorted(t for t in declared if (state, t) not in leaving)
        if can_ignore:
            ignore = draw(st.lists(st.sampled_from(can_ignore), unique=True))
            if ignore:
                entry["ignore"] = ignore
        if policies and ("default" not in policies["mode"] or draw(st.booleans())):
            entry["policy"] = {"mode": draw(st.sampled_from(["a", "b", "c"]))}
        state_entries.append(entry)
    return {
        "name": "generated",
        "initial": states[0],
        "states": state_entries,
        "transitions": transitions,
        "allow_unreachable": states[1:],
        "policies": policies,
    }


def make_oracle(
    spec: Spec | None, engine_factory: EngineFactory = Engine, *, concurrent: bool = True
) -> type[RuleBasedStateMachine]:
    """A state machine class that drives ``engine_factory(spec, context, ...)`` and checks it.

    ``spec=None``: each run draws its own spec from :func:`spec_mappings`. With ``concurrent``
    it also fires batches from several threads; a thread interleaving is not replayable, so
    runs that must reproduce a failure exactly (mutants) turn it off.
    """
    mappings = spec_mappings() if spec is None else st.just(spec.to_mapping())

    class SpecOracle(RuleBasedStateMachine):
        spec: Spec
        triggers: tuple[str, ...]

        @initialize(mapping=mappings, data=st.data())
        def start(self, mapping: dict[str, Any], data: st.DataObject) -> None:
            self.spec = spec if spec is not None else Spec.load(mapping)
            self.policies = expected_policies(mapping)
            self.triggers = (*self.spec.triggers, UNKNOWN_TRIGGER)
            guards = self.spec.guards
            kinds = data.draw(st.lists(st.booleans(), min_size=len(guards), max_size=len(guards)))
            self.context = GuardContext(
                guards, frozenset(g for g, event in zip(guards, kinds, strict=True) if event)
            )
            self.recorder = EffectRecorder(self.spec.effects)
            self.engine = engine_factory(self.spec, self.context, effects=self.recorder, data=())
            self.state = self.spec.initial
            self.data: tuple[int, ...] = ()
            self.fires = 0
            self.expected_events: list[tuple[str, str, str]] = []
            self.events: list[tuple[str, str, str]] = []
            self.changes: list[Change] = []
            self.engine.add_listener(self.record)
            self.engine.add_listener(self.changes.append, change=True)

        def record(self, old: str, trigger: str, new: str) -> None:
            self.events.append((old, trigger, new))  # one delivering thread at a time

        def outcome_of(self, trigger: str, **change: Any) -> Any:
            try:
                return self.engine.fire(trigger, **change, **DETAIL)
            except IllegalTransitionError as exc:
                ok = exc.state in self.spec.states and exc.trigger == trigger
                return ILLEGAL if ok else exc
            except Boom:
                return Boom

        @rule(data=st.data(), value=st.booleans())
        def set_guard(self, data: st.DataObject, value: bool) -> None:
            if self.spec.guards:
                self.context.set(data.draw(st.sampled_from(self.spec.guards)), value)

        @rule(data=st.data(), how=st.sampled_from(["keep", "data", "update", "raise"]))
        def fire(self, data: st.DataObject, how: str) -> None:
            trigger = data.draw(st.sampled_from(self.triggers))
            state, old_data = self.state, self.data
            taken = expected_transition(self.spec, state, trigger, self.context.values())
            self.fires += 1
            fid = self.fires
            proposed = {"data": (fid,), "update": (*old_data, fid)}.get(how, old_data)
            updates: list[tuple[int, ...]] = []

            def update(old: tuple[int, ...]) -> tuple[int, ...]:
                updates.append(old)
                if how == "raise":
                    raise Boom
                return (*old, fid)

            change: dict[str, Any] = {}
            if how == "data":
                change["data"] = (fid,)
            elif how in ("update", "raise"):
                change["update"] = update
            effects_before = len(self.recorder.calls)
            self.context.seen.clear()
            result = self.outcome_of(trigger, **change)
            where = f"{trigger} from {state} ({how})"
            decided = taken not in (ILLEGAL, IGNORED)
            if change.get("update"):
                # Run once, before the guards, for a trigger that is decided; else never.
                assert updates == ([old_data] if decided else []), f"{where}: update {updates}"
            if taken == ILLEGAL:
                assert result == ILLEGAL, f"{where}: expected illegal"
            elif taken == IGNORED:
                assert result is False, f"{where}: expected ignored (False)"
            elif how == "raise":
                assert result is Boom, f"{where}: the update's exception must propagate"
            elif taken == REFUSED:
                assert result is False, f"{where}: expected refusal"
            else:
                assert isinstance(taken, Transition)
                assert result is True, f"{where}: expected a transition"
                new = state if taken.dest is None else taken.dest
                self.state, self.data = new, proposed
                self.expected_events.append((state, trigger, new))
                expected = [
                    (name, (state, trigger, new, old_data, proposed, taken.internal))
                    for name in expected_effects(self.spec, state, taken)
                ]
                ran = [
                    (
                        name,
                        (c.old_state, c.trigger, c.new_state, c.old_data, c.new_data, c.internal),
                    )
                    for name, c in self.recorder.calls[effects_before:]
                ]
                # Effects ran before `fire` returned, in order, each with the Change.
                assert ran == expected, f"{where}: effects {ran}, expected {expected}"
            if result is not True:
                assert len(self.recorder.calls) == effects_before, f"{where}: effects ran"
            if not decided or how == "raise":
                assert self.context.seen == [], f"{where}: guards ran"
            for guard, event in self.context.seen:
                # A guard sees the fire being decided, with the value it would commit.
                seen = (event.state, event.trigger, event.data, event.proposed)
                assert seen == (state, trigger, old_data, proposed), f"{where}: {guard} saw {seen}"
                assert dict(event.event_data) == DETAIL

        @rule(data=st.data())
        def can_fire(self, data: st.DataObject) -> None:
            trigger = data.draw(st.sampled_from(self.triggers))
            expected = expected_outcome(self.spec, self.state, trigger, self.context.values())
            assert self.engine.can_fire(trigger) == (expected not in (ILLEGAL, REFUSED, IGNORED))

        @precondition(lambda _self: concurrent)
        @rule(data=st.data(), threads=st.integers(min_value=2, max_value=4))
        def fire_concurrently(self, data: st.DataObject, threads: int) -> None:
            batch = data.draw(st.lists(st.sampled_from(self.triggers), min_size=1, max_size=12))
            guards = self.context.values()
            start = len(self.events)
            change_start = len(self.changes)
            effects_before = len(self.recorder.calls)
            results: list[tuple[str, int, Any]] = []
            results_lock = threading.Lock()
            barrier = threading.Barrier(threads)
            first_fid = self.fires + 1
            self.fires += len(batch)

            def worker(part: list[tuple[int, str]]) -> None:
                barrier.wait()
                for fid, trigger in part:
                    outcome = self.outcome_of(trigger, update=lambda old, f=fid: (*old, f))
                    with results_lock:
                        results.append((trigger, fid, outcome))

            numbered = list(enumerate(batch, start=first_fid))
            workers = [
                threading.Thread(target=worker, args=(numbered[i::threads],))
                for i in range(threads)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            # Every fire has returned, so every notification has been delivered.
            observed = self.events[start:]
            changes = self.changes[change_start:]
            assert [(c.old_state, c.trigger, c.new_state) for c in changes] == observed
            visited = [self.state]
            data_chain = [self.data]
            expected_effect_names: Counter[str] = Counter()
            fired_ids = {fid for _, fid, outcome in results if outcome is True}
            for (old, trigger, new), change in zip(observed, changes, strict=True):
                assert old == visited[-1], f"listener chain broken at {old} -({trigger})->"
                taken = expected_transition(self.spec, old, trigger, guards)
                assert isinstance(taken, Transition), f"undeclared {old} -({trigger})-> {new}"
                assert (old if taken.dest is None else taken.dest) == new
                # Data moved with the state: each commit appends its own fire's id.
                assert change.old_data == data_chain[-1], "data committed apart from its state"
                assert change.new_data[:-1] == change.old_data
                expected_effect_names.update(expected_effects(self.spec, old, taken))
                visited.append(new)
                data_chain.append(change.new_data)
            assert visited[-1] == self.engine.state
            assert data_chain[-1] == self.engine.data
            assert sorted(c.new_data[-1] for c in changes) == sorted(fired_ids)
            ran = Counter(name for name, _ in self.recorder.calls[effects_before:])
            assert ran == expected_effect_names, f"effects {ran}, expected {expected_effect_names}"
            for trigger, _, outcome in results:
                if outcome is not True:
                    wanted = {ILLEGAL} if outcome == ILLEGAL else {REFUSED, IGNORED}
                    assert any(
                        expected_outcome(self.spec, s, trigger, guards) in wanted for s in visited
                    ), f"{trigger} gave {outcome} in no state the engine went through"
            self.expected_events.extend(observed)
            self.state = visited[-1]
            self.data = data_chain[-1]

        @precondition(lambda self: bool(self.events))
        @rule()
        def history_matches(self) -> None:
            history = self.engine.history
            tail = self.events[-len(history) :]
            assert [(h.old_state, h.trigger, h.new_state) for h in history] == tail
            assert all(h.event_data_keys == ("detail",) for h in history)

        @invariant()
        def agrees_with_spec(self) -> None:
            assert self.engine.state == self.state, f"state {self.engine.state}, not {self.state}"
            snapshot = self.engine.snapshot
            assert (snapshot.state, snapshot.data) == (self.state, self.data), (
                f"snapshot data {snapshot.data}, expected {self.data}"
            )
            assert self.engine.data == self.data, f"data {self.engine.data}, not {self.data}"
            assert self.events == self.expected_events, "listeners saw other transitions"
            for policy, value in self.policies[self.state].items():
                assert self.engine.policy(policy) == value, f"policy {policy} in {self.state}"

    name = "generated" if spec is None else spec.name
    SpecOracle.__name__ = SpecOracle.__qualname__ = f"SpecOracle_{name}"
    return SpecOracle


def check_engine(
    spec: Spec | None,
    engine_factory: EngineFactory = Engine,
    profile: settings | None = None,
    *,
    concurrent: bool = True,
) -> None:
    """Run the oracle on ``engine_factory``; raises (AssertionError) on the first disagreement.

    ``spec=None`` runs it on generated specs.
    """
    run_state_machine_as_test(
        make_oracle(spec, engine_factory, concurrent=concurrent),
        settings=profile or oracle_settings(),
    )
