"""Package attributes loaded on first use (PEP 562), for the packages whose names a cold
``fsm-auth credentials`` must not pay for: importing a package imports none of its modules
until one of their names is looked up."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    namespace: dict[str, Any], modules: Mapping[str, str], exported: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose globals are ``namespace``:
    ``modules`` maps each lazily loaded name to the module defining it; ``exported`` is the
    package's ``__all__``. A name, once loaded, is stored in ``namespace`` (later lookups do not
    come here)."""
    package = namespace["__name__"]
    names = frozenset(exported)

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | names)

    return __getattr__, __dir__
