"""PerProcess: the objects shared by every client of a process, one per key."""

from __future__ import annotations

import gc
import os
import threading

import pytest

from fsm_auth._per_process import PerProcess


class Thing:
    def __init__(self, key: str) -> None:
        self.key = key


def test_one_object_per_key_built_once() -> None:
    built: list[str] = []

    def make(key: str) -> Thing:
        built.append(key)
        return Thing(key)

    registry: PerProcess[str, Thing] = PerProcess(make)
    assert registry.get("a") is registry.get("a")
    assert registry.get("b").key == "b"
    assert built == ["a", "b"]


def test_at_most_the_most_recently_used() -> None:
    registry: PerProcess[str, Thing] = PerProcess(Thing, most=2)
    a = registry.get("a")
    registry.get("b")
    assert registry.get("a") is a  # used again: "b" is now the oldest
    registry.get("c")
    assert registry.get("a") is a
    assert registry.get("b") is not None  # rebuilt after being forgotten


def test_weak_entries_live_while_held() -> None:
    registry: PerProcess[str, Thing] = PerProcess(Thing, weak=True)
    held = registry.get("a")
    assert registry.get("a") is held
    assert len(registry._items) == 1
    del held
    gc.collect()
    assert len(registry._items) == 0  # forgotten with its last holder
    assert registry.get("a").key == "a"


def test_weak_and_counted_are_exclusive() -> None:
    with pytest.raises(ValueError, match="weak or counted"):
        PerProcess(Thing, weak=True, most=3)


def test_threads_share_one_object() -> None:
    registry: PerProcess[str, Thing] = PerProcess(Thing)
    seen: list[Thing] = []
    threads = [threading.Thread(target=lambda: seen.append(registry.get("k"))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(t) for t in seen}) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_forked_child_starts_empty_with_a_free_lock() -> None:
    registry: PerProcess[str, Thing] = PerProcess(Thing)
    parent = registry.get("a")
    registry._lock.acquire()  # as if a parent's thread held it at the fork
    try:
        pid = os.fork()
        if pid == 0:  # the child: a new lock, no inherited object
            ok = registry.get("a") is not parent and registry._lock.acquire(timeout=5)
            os._exit(0 if ok else 1)
    finally:
        registry._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
