"""Provider plugins: discovery through entry points, plus manual registration.

Plugins are found under the entry-point group ``fsm_auth.providers``. A plugin that fails to
load is logged by name and reported by :func:`load_errors`; the others keep working. Asking for
a broken or unknown plugin raises :class:`~fsm_auth.errors.ProviderError` naming it.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points

from fsm_auth.errors import ProviderError
from fsm_auth.provider import ProviderFactory

__all__ = ["GROUP", "available", "get_factory", "load_errors", "refresh", "register", "unregister"]

GROUP = "fsm_auth.providers"

logger = logging.getLogger("fsm_auth.plugins")

_lock = threading.Lock()
_registered: dict[str, ProviderFactory] = {}
_discovered: dict[str, ProviderFactory] | None = None
_errors: dict[str, str] = {}


def register(name: str, factory: ProviderFactory) -> None:
    """Register a provider by hand (tests, or apps that do not use entry points).

    A registered name takes precedence over an entry point of the same name.
    """
    if not name or not callable(factory):
        raise ProviderError(f"Cannot register provider {name!r}: a name and a callable are needed")
    with _lock:
        _registered[name] = factory


def unregister(name: str) -> None:
    """Remove a provider registered with :func:`register` (entry points stay)."""
    with _lock:
        _registered.pop(name, None)


def refresh() -> None:
    """Forget what discovery found, so the next lookup scans the entry points again."""
    global _discovered
    with _lock:
        _discovered = None
        _errors.clear()


def _discover() -> dict[str, ProviderFactory]:
    global _discovered
    with _lock:
        if _discovered is not None:
            return _discovered
        found: dict[str, ProviderFactory] = {}
        for entry in entry_points(group=GROUP):
            if entry.name in found:
                continue
            try:
                factory = entry.load()
            except Exception as exc:  # a broken plugin must not break the others
                _errors[entry.name] = f"{type(exc).__name__}: {exc}"
                logger.warning(
                    "fsm-auth provider plugin %r (%s) failed to load: %s",
                    entry.name,
                    entry.value,
                    _errors[entry.name],
                )
                continue
            if not callable(factory):
                _errors[entry.name] = f"{entry.value} is not callable"
                logger.warning("fsm-auth provider plugin %r is not callable", entry.name)
                continue
            found[entry.name] = factory
        _discovered = found
        return found


def available() -> list[str]:
    """Names of every provider that loaded (registered by hand or through entry points)."""
    names = set(_discover()) | set(_registered)
    return sorted(names)


def load_errors() -> dict[str, str]:
    """Plugins that failed to load, by name, with the reason."""
    _discover()
    return dict(_errors)


def get_factory(name: str) -> ProviderFactory:
    """The factory of provider ``name``; :class:`ProviderError` if unknown or broken."""
    with _lock:
        factory = _registered.get(name)
    if factory is not None:
        return factory
    found = _discover()
    if name in found:
        return found[name]
    if name in _errors:
        raise ProviderError(f"Provider plugin {name!r} failed to load: {_errors[name]}")
    raise ProviderError(
        f"No provider named {name!r} (group {GROUP!r}); available: {', '.join(available())}"
    )
