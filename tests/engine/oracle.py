"""A hypothesis state machine that checks an engine against its spec, used as the oracle.

The oracle reads only the spec (declared order, guards) and never the engine's internals, so
it is an independent second implementation of the semantics: the first transition, in
declaration order, from the current state for the trigger whose conditions all hold and whose
``unless`` guards all fail, is taken; none declared is illegal; none passing is a refusal.
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
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fsm_auth.engine import Engine, Spec
from fsm_auth.errors import IllegalTransitionError

ILLEGAL = "<illegal>"
REFUSED = "<refused>"
UNKNOWN_TRIGGER = "no_such_trigger"

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
    max_examples=100,
    phases=(Phase.explicit, Phase.generate),
    derandomize=True,
    database=None,
    print_blob=False,
    report_multiple_bugs=False,
)


def oracle_settings() -> settings:
    """The profile for oracle runs on real engines."""
    return settings.get_profile(os.environ.get("FSM_ENGINE_PROFILE", "engine-ci"))


def expected_outcome(spec: Spec, state: str, trigger: str, guards: Mapping[str, bool]) -> str:
    """What the spec says ``trigger`` does from ``state``: a dest, ILLEGAL or REFUSED."""
    candidates = [t for t in spec.transitions if t.trigger == trigger and state in t.sources]
    if not candidates:
        return ILLEGAL
    for t in candidates:
        if all(guards[g] for g in t.conditions) and not any(guards[g] for g in t.unless):
            return t.dest
    return REFUSED


class GuardContext:
    """An engine context whose guard values the test sets; all start False."""

    def __init__(self, guards: tuple[str, ...]) -> None:
        for guard in guards:
            setattr(self, guard, False)

    def values(self) -> dict[str, bool]:
        """The current guard values."""
        return dict(vars(self))


EngineFactory = Callable[[Spec, GuardContext], Engine]


def make_oracle(
    spec: Spec, engine_factory: EngineFactory = Engine, *, concurrent: bool = True
) -> type[RuleBasedStateMachine]:
    """A state machine class that drives ``engine_factory(spec, context)`` and checks it.

    With ``concurrent`` it also fires batches from several threads; a thread interleaving is
    not replayable, so runs that must reproduce a failure exactly (mutants) turn it off.
    """
    triggers = st.sampled_from((*spec.triggers, UNKNOWN_TRIGGER))

    class SpecOracle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.context = GuardContext(spec.guards)
            self.engine = engine_factory(spec, self.context)
            self.state = spec.initial
            self.expected_events: list[tuple[str, str, str]] = []
            self.events: list[tuple[str, str, str]] = []
            self.events_lock = threading.Lock()
            self.engine.add_listener(self.record)

        def record(self, old: str, trigger: str, new: str) -> None:
            with self.events_lock:
                self.events.append((old, trigger, new))

        def outcome_of(self, trigger: str) -> Any:
            try:
                return self.engine.fire(trigger, detail="x")
            except IllegalTransitionError as exc:
                return ILLEGAL if (exc.state in spec.states and exc.trigger == trigger) else exc

        if spec.guards:

            @rule(guard=st.sampled_from(spec.guards), value=st.booleans())
            def set_guard(self, guard: str, value: bool) -> None:
                setattr(self.context, guard, value)

        @rule(trigger=triggers)
        def fire(self, trigger: str) -> None:
            expected = expected_outcome(spec, self.state, trigger, self.context.values())
            result = self.outcome_of(trigger)
            if expected == ILLEGAL:
                assert result == ILLEGAL, f"{trigger} from {self.state}: expected illegal"
            elif expected == REFUSED:
                assert result is False, f"{trigger} from {self.state}: expected refusal"
            else:
                assert result is True, f"{trigger} from {self.state}: expected a transition"
                self.expected_events.append((self.state, trigger, expected))
                self.state = expected

        @rule(trigger=triggers)
        def can_fire(self, trigger: str) -> None:
            expected = expected_outcome(spec, self.state, trigger, self.context.values())
            assert self.engine.can_fire(trigger) == (expected not in (ILLEGAL, REFUSED))

        @precondition(lambda _self: concurrent)
        @rule(
            batch=st.lists(triggers, min_size=1, max_size=12),
            threads=st.integers(min_value=2, max_value=4),
        )
        def fire_concurrently(self, batch: list[str], threads: int) -> None:
            guards = self.context.values()
            start = len(self.events)
            results: list[tuple[str, Any]] = []
            results_lock = threading.Lock()
            barrier = threading.Barrier(threads)

            def worker(part: list[str]) -> None:
                barrier.wait()
                for trigger in part:
                    outcome = self.outcome_of(trigger)
                    with results_lock:
                        results.append((trigger, outcome))

            workers = [
                threading.Thread(target=worker, args=(batch[i::threads],)) for i in range(threads)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            # Every fire has returned, so every notification has been delivered.
            observed = self.events[start:]
            visited = [self.state]
            for old, trigger, new in observed:
                assert old == visited[-1], f"listener chain broken at {old} -({trigger})->"
                assert expected_outcome(spec, old, trigger, guards) == new, (
                    f"undeclared transition {old} -({trigger})-> {new}"
                )
                visited.append(new)
            assert visited[-1] == self.engine.state
            fired = Counter(t for t, outcome in results if outcome is True)
            assert fired == Counter(t for _, t, _ in observed)
            for trigger, outcome in results:
                if outcome is not True:
                    wanted = ILLEGAL if outcome == ILLEGAL else REFUSED
                    assert any(
                        expected_outcome(spec, s, trigger, guards) == wanted for s in visited
                    ), f"{trigger} gave {outcome} in no state the engine went through"
            self.expected_events.extend(observed)
            self.state = visited[-1]

        @precondition(lambda self: bool(self.events))
        @rule()
        def history_matches(self) -> None:
            history = self.engine.history
            tail = self.events[-len(history) :]
            assert [(h.old_state, h.trigger, h.new_state) for h in history] == tail
            assert all(h.event_data_keys == ("detail",) for h in history)

        @invariant()
        def agrees_with_spec(self) -> None:
            assert self.engine.state == self.state
            assert self.events == self.expected_events

    SpecOracle.__name__ = SpecOracle.__qualname__ = f"SpecOracle_{spec.name}"
    return SpecOracle


def check_engine(
    spec: Spec,
    engine_factory: EngineFactory = Engine,
    profile: settings | None = None,
    *,
    concurrent: bool = True,
) -> None:
    """Run the oracle on ``engine_factory``; raises (AssertionError) on the first disagreement."""
    run_state_machine_as_test(
        make_oracle(spec, engine_factory, concurrent=concurrent),
        settings=profile or oracle_settings(),
    )
