"""Checks the conformance tests share: the protocols, and secrets kept out of texts."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from fsm_auth.errors import SpecError
from fsm_auth.plugins import missing_methods, protocol_methods
from fsm_auth.provider import IdentityPoolProvider, UserPoolMFAProvider, UserPoolProvider
from fsm_auth.signin import ChallengeTable

from ._flows import challenge_table

__all__ = [
    "assert_no_secrets",
    "check_identity_pool_provider",
    "check_user_pool_provider",
    "error_texts",
    "maybe_offline",
    "raised",
]

# A JWT: whatever else a text shows, a whole token never belongs in it.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Shorter values are not searched for: they would be found by chance in unrelated text.
_MIN_SECRET = 4


@contextlib.contextmanager
def maybe_offline(
    service_offline: Callable[[], AbstractContextManager[Any]] | None,
) -> Iterator[None]:
    """Inside ``service_offline()`` when it is given, else just inside."""
    if service_offline is None:
        yield
    else:
        with service_offline():
            yield


def check_user_pool_provider(provider: object) -> ChallengeTable:
    """Assert that ``provider`` can serve the ``user_pool`` role, as the client checks it (and
    a little more): every method of :class:`~fsm_auth.provider.UserPoolProvider` callable, its
    sign-in spec loads and its ``x-challenges`` parse, and ``flow_steps`` names every provider
    step those challenges name. Returns the challenges. ``AssertionError`` names what is
    wrong."""
    name = type(provider).__name__
    missing = missing_methods(provider, UserPoolProvider)
    if missing:
        raise AssertionError(
            f"{name} cannot serve the user_pool role: it lacks {', '.join(missing)} "
            "of UserPoolProvider"
        )
    if not isinstance(provider, UserPoolProvider):
        raise AssertionError(f"{name} is not a UserPoolProvider")
    # MFA management is optional, but all of it or none: the client checks the whole protocol.
    mfa = protocol_methods(UserPoolMFAProvider)
    lacking_mfa = missing_methods(provider, UserPoolMFAProvider)
    if lacking_mfa and len(lacking_mfa) < len(mfa):
        raise AssertionError(
            f"{name} implements part of UserPoolMFAProvider: it lacks {', '.join(lacking_mfa)}"
        )
    source = getattr(provider, "sign_in_spec", "sign_in")
    try:
        table = challenge_table(provider)
    except SpecError as exc:
        raise AssertionError(f"{name}'s sign-in spec does not load: {exc}") from None
    steps = getattr(provider, "flow_steps", ())
    if isinstance(steps, (str, bytes)) or not all(isinstance(s, str) for s in steps):
        raise AssertionError(f"{name}.flow_steps must be a collection of step names")
    lacking = table.provider_steps() - frozenset(steps)
    if lacking:
        raise AssertionError(
            f"{name} lacks the step(s) {', '.join(sorted(lacking))} that its sign-in spec "
            f"{table.spec_name!r} ({source!r}) names: list them in flow_steps"
        )
    return table


def check_identity_pool_provider(provider: object) -> None:
    """Assert that ``provider`` can serve the ``federated`` or ``guest`` role: every method of
    :class:`~fsm_auth.provider.IdentityPoolProvider` callable."""
    name = type(provider).__name__
    missing = missing_methods(provider, IdentityPoolProvider)
    if missing:
        raise AssertionError(
            f"{name} cannot serve an identity-pool role: it lacks {', '.join(missing)} "
            "of IdentityPoolProvider"
        )
    if not isinstance(provider, IdentityPoolProvider):
        raise AssertionError(f"{name} is not an IdentityPoolProvider")


def raised(call: Callable[[], object]) -> Exception | None:
    """What ``call()`` raised, or ``None`` when it returned."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def error_texts(error: BaseException) -> list[str]:
    """Every text a traceback of ``error`` would show: its ``str``, ``repr``, ``message`` and
    arguments, and those of the exceptions it chains (``__cause__``, an unsuppressed
    ``__context__``)."""
    texts: list[str] = []
    for exc in _chain(error):
        texts += [str(exc), repr(exc), str(getattr(exc, "message", ""))]
        texts += [str(arg) for arg in exc.args]
    return texts


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None


def assert_no_secrets(what: str, texts: Iterable[str], secrets: Mapping[str, str | None]) -> None:
    """Assert that none of ``texts`` (what ``what`` shows) holds a secret: any value of
    ``secrets`` (label → value; the label names it in the failure, the value is never shown)
    or anything shaped like a JWT."""
    for text in texts:
        for label, secret in secrets.items():
            if secret and len(secret) >= _MIN_SECRET and secret in text:
                raise AssertionError(f"{what} shows the {label}")
        if _JWT.search(text):
            raise AssertionError(f"{what} shows a token (a JWT)")
