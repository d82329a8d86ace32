"""Objects shared by every client of this process, one per key (a session's file locks, a
Redis session's thread lock, a pool's JWKS cache).

A forked child starts with none of them and a new guard lock: a lock that a parent's thread
held at the fork, or a cache that a parent's fetch was filling, must not be inherited.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from typing import Generic, TypeVar

__all__ = ["PerProcess"]

K = TypeVar("K")
V = TypeVar("V")

# Every registry, so that one fork hook resets them all.
_registries: weakref.WeakSet[PerProcess[object, object]] = weakref.WeakSet()


class PerProcess(Generic[K, V]):
    """``get(key)`` returns this process's object for ``key``, built by ``factory(key)`` on
    first use. ``weak``: an entry lives only while something else holds its object (keys
    without bound, such as one per user session). ``most``: keep at most that many entries,
    forgetting the least recently used. Thread-safe."""

    def __init__(
        self, factory: Callable[[K], V], *, weak: bool = False, most: int | None = None
    ) -> None:
        if weak and most is not None:
            raise ValueError("an entry is either weak or counted, not both")
        self._factory = factory
        self._weak = weak
        self._most = most
        self._lock = threading.Lock()
        self._items: MutableMapping[K, V] = self._empty()
        _registries.add(self)  # type: ignore[arg-type]

    def _empty(self) -> MutableMapping[K, V]:
        return weakref.WeakValueDictionary() if self._weak else OrderedDict()

    def get(self, key: K) -> V:
        """The object for ``key``, built on first use."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = self._factory(key)
                if self._most is not None:
                    assert isinstance(self._items, OrderedDict)
                    while len(self._items) > self._most:
                        self._items.popitem(last=False)
            elif isinstance(self._items, OrderedDict):
                self._items.move_to_end(key)
            return item

    def clear(self) -> None:
        """Forget every object (the next ``get`` builds anew)."""
        with self._lock:
            self._items.clear()

    def _reset_in_child(self) -> None:
        self._lock = threading.Lock()
        self._items = self._empty()


def _reset_all_in_child() -> None:
    for registry in list(_registries):
        registry._reset_in_child()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_all_in_child)
