"""Benchmark: thread-safe ``Engine.fire`` against a plain ``transitions.Machine`` trigger.

Both run the same two-state toggle in the same process. Run: ``python benchmarks/engine.py``.
Target: ``Engine.fire`` at most 1.5x the plain trigger.
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


def per_call(func: Callable[[], object], number: int, repeat: int) -> float:
    """Best-of-``repeat`` seconds per call."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number


def main() -> None:
    """Measure and print per-call times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    base = per_call(plain_machine(), args.number, args.repeat)
    print(f"transitions.Machine trigger:     {base * 1e6:7.2f} us/call")
    for listeners in (0, 1):
        cost = per_call(engine_fire(listeners), args.number, args.repeat)
        print(
            f"Engine.fire ({listeners} listener{'s' if listeners != 1 else ''}):"
            f"{' ' if listeners == 1 else ''}  {cost * 1e6:7.2f} us/call  "
            f"ratio {cost / base:.2f}x (target <= 1.5x)"
        )


if __name__ == "__main__":
    main()
