"""Provider plugins: a registry of provider factories, found through entry points or
registered by hand, and built for a role with a check against the role's protocol.

Plugins are found under the entry-point group ``fsm_auth.providers``. The built-in providers
(:data:`BUILTINS`) are known classes: asking the default group for one imports it directly,
without scanning the installed distributions' entry points (tens of milliseconds, paid by every
``fsm-auth credentials`` an AWS SDK runs); the entry points are scanned only for a name that is
not built in, or to list what is available. A plugin that fails to
load is logged by name and reported by :meth:`PluginRegistry.load_errors`; the others keep
working. Asking for a broken or unknown plugin raises :class:`~fsm_auth.errors.ProviderError`
naming it, and so does a built provider that lacks a method of its role's protocol (naming the
plugin and the methods), before it is ever used.

A client uses the registry it is given (``AuthClient.from_config(..., plugins=...)``), else
:func:`default_registry`; the module functions (:func:`register`, :func:`available`...) act on
the default registry, for applications that register a provider once at start-up.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

from fsm_auth.config import AuthConfig
from fsm_auth.errors import ProviderError
from fsm_auth.provider import (
    HostedUIProvider,
    IdentityPoolProvider,
    ProviderContext,
    ProviderFactory,
    UserPoolProvider,
)

__all__ = [
    "BUILTINS",
    "GROUP",
    "ROLES",
    "PluginRegistry",
    "Providers",
    "available",
    "default_registry",
    "load_errors",
    "missing_methods",
    "protocol_methods",
    "refresh",
    "register",
    "unregister",
]

GROUP = "fsm_auth.providers"
"""The entry-point group providers are registered under."""

BUILTINS: Mapping[str, str] = {
    "userpool": "fsm_auth_providers.userpool:UserPoolProvider",
    "federated": "fsm_auth_providers.federated:FederatedProvider",
    "guest": "fsm_auth_providers.guest:GuestProvider",
    "hostedui": "fsm_auth_providers.hostedui:HostedUIProvider",
}
"""The built-in providers of :data:`GROUP`, as ``module:attribute`` (the same values as their
entry points in ``pyproject.toml``; a test keeps the two equal)."""

ROLES: Mapping[str, type[Any]] = {
    "user_pool": UserPoolProvider,
    "federated": IdentityPoolProvider,
    "guest": IdentityPoolProvider,
    "hosted_ui": HostedUIProvider,
}
"""The roles a configuration fills with providers, and the protocol each must satisfy."""

logger = logging.getLogger("fsm_auth.plugins")


def protocol_methods(protocol: type[Any]) -> tuple[str, ...]:
    """The public methods a provider of ``protocol`` must have."""
    return tuple(
        sorted(
            name
            for name, value in vars(protocol).items()
            if callable(value) and not name.startswith("_")
        )
    )


def missing_methods(provider: object, protocol: type[Any]) -> list[str]:
    """The methods of ``protocol`` that ``provider`` lacks (or has but not callable)."""
    return [m for m in protocol_methods(protocol) if not callable(getattr(provider, m, None))]


class PluginRegistry:
    """Provider factories by name: entry points (scanned on first use) and hand registrations
    (which win over an entry point of the same name). Thread-safe."""

    def __init__(self, *, group: str | None = GROUP) -> None:
        """``group``: the entry-point group to scan, or ``None`` for hand registrations only."""
        self._group = group
        self._lock = threading.Lock()
        self._registered: dict[str, ProviderFactory] = {}
        self._discovered: dict[str, ProviderFactory] | None = None
        self._errors: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"PluginRegistry(group={self._group!r}, registered={sorted(self._registered)!r})"

    def register(self, name: str, factory: ProviderFactory) -> None:
        """Register a provider by hand (tests, or apps that do not use entry points)."""
        if not isinstance(name, str) or not name or not callable(factory):
            raise ProviderError(
                f"Cannot register provider {name!r}: a name and a callable are needed"
            )
        with self._lock:
            self._registered[name] = factory

    def unregister(self, name: str) -> None:
        """Remove a provider registered with :meth:`register` (entry points stay)."""
        with self._lock:
            self._registered.pop(name, None)

    def refresh(self) -> None:
        """Forget what discovery found, so the next lookup scans the entry points again."""
        with self._lock:
            self._discovered = None
            self._errors.clear()

    def available(self) -> list[str]:
        """Names of every provider that loaded (registered by hand or through entry points)."""
        found = self._discover()
        with self._lock:
            return sorted(set(found) | set(self._registered))

    def load_errors(self) -> dict[str, str]:
        """Plugins that failed to load, by name, with the reason."""
        self._discover()
        with self._lock:
            return dict(self._errors)

    def factory(self, name: str) -> ProviderFactory:
        """The factory of provider ``name``; :class:`ProviderError` if unknown or broken."""
        with self._lock:
            factory = self._registered.get(name)
        if factory is not None:
            return factory
        builtin = self._builtin(name)
        if builtin is not None:
            return builtin
        found = self._discover()
        if name in found:
            return found[name]
        with self._lock:
            error = self._errors.get(name)
        if error is not None:
            raise ProviderError(f"Provider plugin {name!r} failed to load: {error}")
        raise ProviderError(
            f"No provider named {name!r} (group {self._group!r}); "
            f"available: {', '.join(self.available()) or 'none'}"
        )

    def build(self, role: str, name: str, context: ProviderContext) -> Any:
        """Build provider ``name`` for ``role`` and check it against the role's protocol."""
        protocol = ROLES.get(role)
        if protocol is None:
            raise ProviderError(f"Unknown provider role {role!r} (roles: {', '.join(ROLES)})")
        provider = self.factory(name)(context)
        missing = [
            m for m in protocol_methods(protocol) if not callable(getattr(provider, m, None))
        ]
        if missing:
            raise ProviderError(
                f"Provider plugin {name!r} ({type(provider).__name__}) cannot serve the "
                f"{role} role: it lacks {', '.join(missing)} of {protocol.__name__}"
            )
        return provider

    def _builtin(self, name: str) -> ProviderFactory | None:
        """The built-in provider ``name`` of the default group, imported without a scan; ``None``
        for another name or group (or if it cannot be imported: the scan then reports why)."""
        target = BUILTINS.get(name) if self._group == GROUP else None
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        try:
            factory: ProviderFactory = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            return None
        return factory

    def _discover(self) -> dict[str, ProviderFactory]:
        with self._lock:
            if self._discovered is not None:
                return self._discovered
            # Imported here: importlib.metadata alone costs tens of milliseconds at start-up.
            from importlib.metadata import entry_points

            found: dict[str, ProviderFactory] = {}
            for entry in entry_points(group=self._group) if self._group else ():
                if entry.name in found:
                    continue
                try:
                    factory = entry.load()
                except Exception as exc:  # a broken plugin must not break the others
                    self._errors[entry.name] = f"{type(exc).__name__}: {exc}"
                    logger.warning(
                        "fsm-auth provider plugin %r (%s) failed to load: %s",
                        entry.name,
                        entry.value,
                        self._errors[entry.name],
                    )
                    continue
                if not callable(factory):
                    self._errors[entry.name] = f"{entry.value} is not callable"
                    logger.warning("fsm-auth provider plugin %r is not callable", entry.name)
                    continue
                found[entry.name] = factory
            self._discovered = found
            return found


class Providers:
    """The providers of one configuration: one per role, built from a registry on first use
    (the configuration names each role's plugin), then kept. Thread-safe."""

    def __init__(
        self, config: AuthConfig, registry: PluginRegistry, context: ProviderContext
    ) -> None:
        self._config = config
        self._registry = registry
        self._context = context
        self._lock = threading.Lock()
        self._built: dict[str, Any] = {}

    def _get(self, role: str) -> Any:
        provider = self._built.get(role)
        if provider is None:
            with self._lock:
                provider = self._built.get(role)
                if provider is None:
                    name = self._config.providers.get(role, "")
                    provider = self._registry.build(role, name, self._context)
                    self._built[role] = provider
        return provider

    def user_pool(self) -> UserPoolProvider:
        """The ``user_pool`` role's provider."""
        provider: UserPoolProvider = self._get("user_pool")
        return provider

    def identity(self, role: str) -> IdentityPoolProvider:
        """The ``federated`` or ``guest`` role's provider."""
        provider: IdentityPoolProvider = self._get(role)
        return provider

    def hosted_ui(self) -> HostedUIProvider:
        """The ``hosted_ui`` role's provider."""
        provider: HostedUIProvider = self._get("hosted_ui")
        return provider


_default = PluginRegistry()


def default_registry() -> PluginRegistry:
    """The registry clients use when they are given none."""
    return _default


def register(name: str, factory: ProviderFactory) -> None:
    """Register a provider by hand in the default registry."""
    _default.register(name, factory)


def unregister(name: str) -> None:
    """Remove a hand registration from the default registry."""
    _default.unregister(name)


def refresh() -> None:
    """Make the default registry scan the entry points again."""
    _default.refresh()


def available() -> list[str]:
    """Names of every provider the default registry can build."""
    return _default.available()


def load_errors() -> dict[str, str]:
    """Plugins that failed to load in the default registry, by name, with the reason."""
    return _default.load_errors()
