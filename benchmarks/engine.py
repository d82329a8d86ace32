"""Benchmark: thread-safe ``Engine.fire`` against a plain ``transitions.Machine`` trigger.

Both run the same two-state toggle in the same process. Run: ``python benchmarks/engine.py``.
Target: ``Engine.fire`` (no listener, and one listener) at most 1.5x the plain trigger. The
costs of a data change (``update=``) and of one effect are shown too, without a target.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from transitions import Machine

from fsm_auth.engine import Engine, Spec

TOGGLE = {
    "name": "toggle",
    "initial": "off",
    "states": ["off", "on"],
    "transitions": [
        {"trigger": "toggle", "source": "off", "dest": "on"},
        {"trigger": "toggle", "source": "on", "dest": "off"},
    ],
}


class _Model:
    state: str


def plain_machine() -> Callable[[], object]:
    """A bare ``transitions.Machine`` (no lock) on the toggle; returns its trigger call."""
    model = _Model()
    Machine(
        model=model,
        states=TOGGLE["states"],
        transitions=TOGGLE["transitions"],
        initial="off",
        auto_transitions=False,
    )
    return model.toggle  # type: ignore[attr-defined, no-any-return]


def engine_fire(listeners: int = 0) -> Callable[[], object]:
    """``Engine.fire('toggle')`` with ``listeners`` no-op listeners."""
    engine = Engine(Spec.load(TOGGLE))
    for _ in range(listeners):
        engine.add_listener(lambda old, trigger, new: None)
    return lambda: engine.fire("toggle")


def engine_fire_update() -> Callable[[], object]:
    """``Engine.fire('toggle', update=...)``: the data changes with every transition."""
    engine = Engine(Spec.load(TOGGLE), data=0)

    def increment(count: int) -> int:
        return count + 1

    return lambda: engine.fire("toggle", update=increment)


class _Effects:
    def tick(self, change: object) -> None:
        """A no-op effect."""


def engine_fire_effect() -> Callable[[], object]:
    """``Engine.fire('toggle')`` where each transition runs one (no-op) ``after`` effect."""
    transitions = [{**t, "after": ["tick"]} for t in TOGGLE["transitions"]]  # type: ignore[dict-item]
    engine = Engine(Spec.load({**TOGGLE, "transitions": transitions}), effects=_Effects())
    return lambda: engine.fire("toggle")


def per_call(funcs: dict[str, Callable[[], object]], number: int, repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` seconds per call of each function.

    The rounds interleave the functions, so a burst of load on the machine slows them all
    alike instead of skewing one ratio.
    """
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(repeat):
        for name, func in funcs.items():
            best[name] = min(best[name], timeit.timeit(func, number=number) / number)
    return best


def main() -> None:
    """Measure and print per-call times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    costs = per_call(
        {
            "transitions.Machine trigger:  ": plain_machine(),
            "Engine.fire (0 listeners):    ": engine_fire(0),
            "Engine.fire (1 listener):     ": engine_fire(1),
            "Engine.fire (update=):        ": engine_fire_update(),
            "Engine.fire (1 after effect): ": engine_fire_effect(),
        },
        args.number,
        args.repeat,
    )
    base = costs.pop("transitions.Machine trigger:  ")
    print(f"transitions.Machine trigger:   {base * 1e6:7.2f} us/call")
    for label, cost in costs.items():
        target = " (target <= 1.5x)" if "listener" in label else ""
        print(f"{label}{cost * 1e6:7.2f} us/call  ratio {cost / base:.2f}x{target}")


if __name__ == "__main__":
    main()
