"""Values a caller receives: states, results, tokens and credentials.

All are immutable ``attrs`` classes or enums. ``Tokens`` and ``AWSCredentials`` hide their
secrets from ``repr`` and ``str``.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from fsm_auth.errors import AuthError, InvalidParameterError

__all__ = [
    "AWSCredentials",
    "CodeDeliveryDetails",
    "ForgotPasswordResult",
    "HostedUIOptions",
    "IdentityProvider",
    "SignInResult",
    "SignInState",
    "SignOutResult",
    "SignUpResult",
    "Tokens",
    "UserState",
]


_OPEN_ENUM_LOCK = threading.Lock()


class UserState(str, enum.Enum):
    """The user's state; the values are the state ids of ``specs/user_state.yaml``.

    A test checks these members against the spec so that the names live in one place.
    """

    UNKNOWN = "unknown"
    GUEST = "guest"
    SIGNED_OUT = "signedOut"
    SIGNED_IN = "signedIn"
    SIGNED_OUT_USER_POOLS_TOKEN_INVALID = "signedOutUserPoolsTokenInvalid"
    SIGNED_OUT_FEDERATED_TOKENS_INVALID = "signedOutFederatedTokensInvalid"

    def __str__(self) -> str:
        return self.value


class SignInState(str, enum.Enum):
    """Where a sign-in stands; anything but ``DONE`` is answered with ``confirm_sign_in``.

    The members are the challenges fsm-auth ships with. The set is open: a challenge that a
    provider and its sign-in spec declare reaches the caller as ``SignInState(name)`` even
    without a member here (it is made on first use and is then the same object every time, so
    ``is`` comparisons hold).
    """

    DONE = "DONE"
    SMS_MFA = "SMS_MFA"
    SOFTWARE_TOKEN_MFA = "SOFTWARE_TOKEN_MFA"
    NEW_PASSWORD_REQUIRED = "NEW_PASSWORD_REQUIRED"
    CUSTOM_CHALLENGE = "CUSTOM_CHALLENGE"
    SELECT_MFA_TYPE = "SELECT_MFA_TYPE"
    MFA_SETUP = "MFA_SETUP"
    EMAIL_OTP = "EMAIL_OTP"
    SMS_OTP = "SMS_OTP"
    SELECT_CHALLENGE = "SELECT_CHALLENGE"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def _missing_(cls, value: object) -> SignInState | None:
        if not isinstance(value, str) or not value.isidentifier():
            return None
        # A pseudo-member for a challenge declared elsewhere; cached so it stays unique.
        with _OPEN_ENUM_LOCK:
            member = cls._value2member_map_.get(value)
            if member is None:
                member = str.__new__(cls, value)
                member._name_ = value
                member._value_ = value
                cls._value2member_map_[value] = member
        return member  # type: ignore[return-value]


class IdentityProvider(str, enum.Enum):
    """Well-known login providers of a Cognito identity pool (the ``Logins`` keys)."""

    GOOGLE = "accounts.google.com"
    FACEBOOK = "graph.facebook.com"
    AMAZON = "www.amazon.com"
    TWITTER = "api.twitter.com"
    APPLE = "appleid.apple.com"
    DEVELOPER = "cognito-identity.amazonaws.com"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class CodeDeliveryDetails:
    """Where the service sent a code: ``destination`` is masked (``a***@e***``)."""

    destination: str | None = None
    delivery_medium: str | None = None
    attribute_name: str | None = None

    @classmethod
    def from_service(cls, raw: Mapping[str, Any] | None) -> CodeDeliveryDetails | None:
        """Build from Cognito's ``CodeDeliveryDetails`` shape, or ``None`` when absent."""
        if not raw:
            return None
        return cls(
            destination=raw.get("Destination"),
            delivery_medium=raw.get("DeliveryMedium"),
            attribute_name=raw.get("AttributeName"),
        )


@attrs.frozen
class SignUpResult:
    """The outcome of ``sign_up`` / ``confirm_sign_up``.

    After ``sign_up(..., auto_sign_in=True)``, ``confirm_sign_up`` also signs the user in:
    ``signed_in`` is True when that reached ``DONE`` (the user state is ``SIGNED_IN``);
    ``sign_in`` is the sign-in's result (``DONE``, or a challenge the pool asks first, to answer
    with ``confirm_sign_in``); ``sign_in_error`` says why it did not happen (the user is
    confirmed either way, and may sign in).
    """

    confirmed: bool
    user_sub: str | None = None
    code_delivery: CodeDeliveryDetails | None = None
    signed_in: bool = False
    sign_in: SignInResult | None = None
    sign_in_error: AuthError | None = None


# Challenge parameters the user must see but a log must not: MFA_SETUP's TOTP shared secret.
_SECRET_PARAMETERS = frozenset({"SECRET_CODE"})


@attrs.frozen(repr=False)
class SignInResult:
    """The outcome of ``sign_in`` / ``confirm_sign_in``.

    ``parameters`` are the challenge's parameters for the user (for example
    ``USER_ID_FOR_SRP``, ``MFAS_CAN_CHOOSE``, a custom challenge's public values, or for
    ``MFA_SETUP`` the ``SECRET_CODE`` to enter in an authenticator app). The ``repr`` masks
    ``SECRET_CODE``.
    """

    state: SignInState
    parameters: Mapping[str, str] = attrs.field(factory=dict)
    code_delivery: CodeDeliveryDetails | None = None

    def __repr__(self) -> str:
        shown = {k: "***" if k in _SECRET_PARAMETERS else v for k, v in self.parameters.items()}
        return (
            f"SignInResult(state={self.state.value!r}, parameters={shown!r}, "
            f"code_delivery={self.code_delivery!r})"
        )

    __str__ = __repr__


@attrs.frozen(repr=False)
class SignOutResult:
    """The outcome of ``sign_out``: the local session always ends; the rest is reported.

    ``complete`` is True when every server-side step that was asked for happened. Otherwise the
    ``AuthError`` of each step that did not happen says why (as Amplify Swift's partial sign-out
    result): ``global_sign_out_error`` (the user's other sessions may still be signed in),
    ``revoke_error`` (this session's refresh token may still be valid at the server until it
    expires), ``hosted_ui_error`` (a hosted-UI session's /logout could not be opened: the browser
    may still be signed in at the hosted UI), ``store_error`` (the signed-out state could not be
    saved: the session store may still hold the signed-in session, which a restart or another
    process sharing the store would restore; ``sign_out()`` again once the store is back saves it).
    Errors never carry a token, so the ``repr`` shows none either.
    """

    complete: bool
    global_sign_out_error: AuthError | None = None
    revoke_error: AuthError | None = None
    hosted_ui_error: AuthError | None = None
    store_error: AuthError | None = None

    def __attrs_post_init__(self) -> None:
        if self.complete != all(error is None for _, error in self._steps()):
            raise ValueError("SignOutResult: complete must be True exactly when no step failed")

    def _steps(self) -> tuple[tuple[str, AuthError | None], ...]:
        return (
            ("global_sign_out_error", self.global_sign_out_error),
            ("revoke_error", self.revoke_error),
            ("hosted_ui_error", self.hosted_ui_error),
            ("store_error", self.store_error),
        )

    def __repr__(self) -> str:
        failed = [
            f"{name}={_describe(error)}" for name, error in self._steps() if error is not None
        ]
        return f"SignOutResult({', '.join([f'complete={self.complete}', *failed])})"

    __str__ = __repr__


def _describe(error: AuthError) -> str:
    # The class and the (scrubbed) message: enough to act on, nothing more.
    return f"{type(error).__name__}({str(error)!r})"


@attrs.frozen
class ForgotPasswordResult:
    """The outcome of ``forgot_password``."""

    code_delivery: CodeDeliveryDetails | None = None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("expiration must be timezone-aware")
    return value.astimezone(timezone.utc)


@attrs.frozen(repr=False)
class Tokens:
    """Cognito user pool tokens, verified before they are handed out.

    ``expiration`` is the earlier of the id and access tokens' expiry (aware UTC).
    """

    id_token: str
    access_token: str
    refresh_token: str | None
    expiration: datetime = attrs.field(converter=_utc)
    id_claims: Mapping[str, Any] = attrs.field(factory=dict)
    access_claims: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def username(self) -> str | None:
        """The user name from the access token (``username`` claim)."""
        name = self.access_claims.get("username") or self.id_claims.get("cognito:username")
        return str(name) if name is not None else None

    def __repr__(self) -> str:
        return (
            f"Tokens(username={self.username!r}, expiration={self.expiration.isoformat()!r}, "
            f"refresh_token={'present' if self.refresh_token else None!r})"
        )

    __str__ = __repr__


@attrs.frozen(repr=False)
class AWSCredentials:
    """Temporary AWS credentials from a Cognito identity pool."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime = attrs.field(converter=_utc)

    def __repr__(self) -> str:
        masked = self.access_key_id[:4] + "…" if self.access_key_id else ""
        return (
            f"AWSCredentials(access_key_id={masked!r}, expiration={self.expiration.isoformat()!r})"
        )

    __str__ = __repr__


# Parameters of /oauth2/authorize that the sign-in itself sets: a caller's extra parameter may
# not replace them (a wrong redirect_uri or a fixed state would break the protocol's checks).
_RESERVED_SIGN_IN_PARAMETERS = frozenset(
    {
        "client_id",
        "code_challenge",
        "code_challenge_method",
        "identity_provider",
        "idp_identifier",
        "nonce",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    }
)
_RESERVED_SIGN_OUT_PARAMETERS = frozenset({"client_id", "logout_uri"})


def _scopes(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(s, str) and s and " " not in s for s in value):
        raise InvalidParameterError("scopes must be a list of scope names without spaces")
    return tuple(value)


def _query_parameters(value: Any, reserved: frozenset[str], what: str) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameterError(f"{what} must map parameter names to text")
    taken = sorted(reserved & set(value))
    if taken:
        raise InvalidParameterError(
            f"{what} may not set {', '.join(taken)}: the sign-in sets them itself"
        )
    return dict(value)


def _sign_in_parameters(value: Any) -> Mapping[str, str]:
    return _query_parameters(value, _RESERVED_SIGN_IN_PARAMETERS, "sign_in_query_parameters")


def _sign_out_parameters(value: Any) -> Mapping[str, str]:
    return _query_parameters(value, _RESERVED_SIGN_OUT_PARAMETERS, "sign_out_query_parameters")


def _optional_name(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidParameterError("identity_provider and idp_identifier must be non-empty text")
    return value


def _open_browser(value: Any) -> Callable[[str], object] | None:
    if value is not None and not callable(value):
        raise InvalidParameterError("open_browser must be a callable taking the page's URL")
    return value  # type: ignore[no-any-return]


def _timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidParameterError("timeout must be a number of seconds > 0")
    return float(value)


@attrs.frozen(kw_only=True)
class HostedUIOptions:
    """How ``show_sign_in(hosted_ui=...)`` signs in through Cognito's hosted UI.

    ``scopes``: the OAuth scopes to ask for (default: the configured ones; ``openid`` among
    them adds a ``nonce``). ``identity_provider`` (``"COGNITO"``, ``"Google"``, a SAML or OIDC
    provider's name) and ``idp_identifier`` choose where the user signs in.
    ``open_browser(url)`` shows a page to the user (default :func:`webbrowser.open`); it is
    also what opens the hosted UI's ``/logout`` at ``sign_out()``. ``timeout``: seconds to
    wait for the redirect. ``sign_in_query_parameters`` / ``sign_out_query_parameters``: extra
    parameters for ``/oauth2/authorize`` (``lang``, ``login_hint``, ``prompt``...) and
    ``/logout``; those the protocol sets itself are refused.
    """

    scopes: tuple[str, ...] | None = attrs.field(default=None, converter=_scopes)
    identity_provider: str | None = attrs.field(default=None, converter=_optional_name)
    idp_identifier: str | None = attrs.field(default=None, converter=_optional_name)
    open_browser: Callable[[str], object] | None = attrs.field(
        default=None, converter=_open_browser, eq=False
    )
    timeout: float = attrs.field(default=300.0, converter=_timeout)
    sign_in_query_parameters: Mapping[str, str] = attrs.field(
        default=None, converter=_sign_in_parameters
    )
    sign_out_query_parameters: Mapping[str, str] = attrs.field(
        default=None, converter=_sign_out_parameters
    )
