"""The provider protocols: what a plugin implements to talk to an identity service.

Providers do the I/O and report what happened; they never change the user state. The client
turns their outcomes into triggers of the spec. A provider is registered under the entry-point
group ``fsm_auth.providers`` and built with a :class:`ProviderContext`::

    [project.entry-points."fsm_auth.providers"]
    myidp = "my_package.provider:MyProvider"     # MyProvider(context) -> a provider

The configuration picks a provider for each role (``user_pool``, ``federated``, ``guest``,
``hosted_ui``); the built-ins are ``userpool``, ``federated``, ``guest`` and ``hostedui``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from fsm_auth.values import (
    AWSCredentials,
    CodeDeliveryDetails,
    ForgotPasswordResult,
    SignUpResult,
    Tokens,
)

if TYPE_CHECKING:
    from fsm_auth._mfa import MFAPreference, MFAPreferences
    from fsm_auth.config import AuthConfig
    from fsm_auth.plugins import PluginRegistry
    from fsm_auth.signin import ServiceCall, SignInFlow, SignInRequest
    from fsm_auth.transport import RetryPolicy, ServiceTransport
    from fsm_auth.values import HostedUIOptions

__all__ = [
    "DEFAULT_CLOCK_TOLERANCE",
    "HostedUIProvider",
    "IdentityPoolProvider",
    "ProviderContext",
    "ProviderFactory",
    "RawTokens",
    "ServerClock",
    "SignUpAnswer",
    "UserPoolMFAProvider",
    "UserPoolProvider",
    "as_server_clock",
]

DEFAULT_CLOCK_TOLERANCE = 6 * 3600.0
"""The largest offset, in seconds, between the service's clock and ours that is corrected
(either way); a token issued further ahead of our clock is refused."""

# iat has a resolution of one second and the answer spends time on the wire: an estimate this
# close to zero is noise, and a clock that is right stays uncorrected.
_OFFSET_NOISE = 2.0


class ServerClock:
    """The identity service's time as this process estimates it: the local clock plus an offset.

    What the service issues expires in its own time (a token's ``exp``, the ``Expiration`` of
    AWS credentials), so every expiry and refresh decision about them reads this clock. The
    offset is learnt as Amplify does, from tokens the service has just issued: ``iat`` minus
    the local time at which they arrived (:meth:`observe`). Each observation replaces the last
    (a device clock that NTP corrects is followed); one within 2 s of zero means no offset, and
    one beyond ``tolerance`` is not applied (the verifier refuses tokens issued that far ahead
    of our clock). Calling the object returns the corrected time in epoch seconds, so it fits
    wherever a ``clock`` callable is taken. Thread-safe: the offset is one float, replaced
    whole.
    """

    __slots__ = ("_local", "_lock", "_offset", "_tolerance")

    def __init__(
        self,
        local: Callable[[], float] = time.time,
        *,
        tolerance: float = DEFAULT_CLOCK_TOLERANCE,
    ) -> None:
        if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance)) or tolerance < 0:
            raise ValueError("tolerance must be a finite number of seconds >= 0")
        self._local = local
        self._tolerance = float(tolerance)
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._local() + self._offset

    def __repr__(self) -> str:
        return f"ServerClock(offset={self._offset:+.0f} s, tolerance={self._tolerance:.0f} s)"

    @property
    def local(self) -> Callable[[], float]:
        """The local clock (epoch seconds), uncorrected."""
        return self._local

    @property
    def offset(self) -> float:
        """Seconds the service's clock is estimated to be ahead of ours (negative: behind)."""
        return self._offset

    @property
    def tolerance(self) -> float:
        """The largest offset, in seconds, that is applied (either way)."""
        return self._tolerance

    def observe(self, issued_at: float, received_at: float) -> bool:
        """Learn the offset from a token the service issued at ``issued_at`` (its ``iat``,
        service time) that arrived at ``received_at`` (local time). Returns False, and keeps
        the current offset, when the estimate is beyond the tolerance."""
        estimate = issued_at - received_at
        if not math.isfinite(estimate) or abs(estimate) > self._tolerance:
            return False
        with self._lock:
            self._offset = 0.0 if abs(estimate) <= _OFFSET_NOISE else estimate
        return True


def as_server_clock(clock: Callable[[], float]) -> ServerClock:
    """``clock`` itself if it is a :class:`ServerClock`, else a new one reading it."""
    return clock if isinstance(clock, ServerClock) else ServerClock(clock)


@attrs.frozen(repr=False)
class RawTokens:
    """Tokens as the service answered them, not yet verified."""

    id_token: str
    access_token: str
    refresh_token: str | None

    def __repr__(self) -> str:
        return "RawTokens(...)"


TransportFactory = Callable[[str, str, "str | None", "RetryPolicy"], "ServiceTransport"]
"""``(service, region, endpoint_url, retry) -> ServiceTransport``: where providers' calls go."""


@attrs.frozen
class ProviderContext:
    """What a provider is built with: the configuration, the clock, service transports, and
    the registry the client found it in (so a provider that wraps another builds it from the
    same registry).

    ``clock`` is the service's time, a :class:`ServerClock` (a plain callable given here is
    wrapped in one): judge what the service issued by it, and tell it the ``iat`` of tokens
    the service has just issued (:meth:`ServerClock.observe`) so that a device whose clock is
    off still judges expiry right.
    """

    config: AuthConfig
    clock: ServerClock = attrs.field(converter=as_server_clock)
    retry: RetryPolicy
    plugins: PluginRegistry | None = None
    # Builds the transports instead of the default (the asyncio client's, whose requests
    # run on its event loop): ``(service, region, endpoint_url, retry) -> transport``.
    transports: TransportFactory | None = None

    def transport(self, service: str, region: str, endpoint_url: str | None) -> ServiceTransport:
        """A transport to ``service`` in ``region`` (unsigned Cognito JSON calls over
        the process-wide HTTP pool, mapped errors, retries)."""
        if self.transports is not None:
            return self.transports(service, region, endpoint_url, self.retry)
        from fsm_auth.transport import ServiceTransport

        return ServiceTransport(service, region, endpoint_url=endpoint_url, retry=self.retry)


@attrs.frozen(repr=False)
class SignUpAnswer:
    """What the service answered a sign-up or its confirmation: the caller's ``result``, and
    the service's ``session`` that continues it (the sign-up's goes with the confirmation; the
    confirmation's signs the user in, for auto sign-in), or None. The session is never
    shown."""

    result: SignUpResult
    session: str | None = None

    def __repr__(self) -> str:
        return f"SignUpAnswer({self.result!r})"

    @classmethod
    def of(cls, answer: SignUpAnswer | SignUpResult) -> SignUpAnswer:
        """``answer`` as a :class:`SignUpAnswer`: a provider written before sessions existed
        returns the bare result (it then has no session to continue with)."""
        return answer if isinstance(answer, SignUpAnswer) else cls(answer)


ProviderFactory = Callable[[ProviderContext], object]
"""What an entry point loads: a class or callable that builds a provider from a context
(checked against the protocol of the role it serves when it is built)."""


@runtime_checkable
class UserPoolProvider(Protocol):
    """A user directory with sign-up, a sign-in flow, verifiable and refreshable tokens.

    Every method does I/O and reports, or (``sign_in``) describes I/O for the client to run;
    none changes the user state. Errors are raised as the ``fsm_auth.errors`` tree
    (``ServiceError`` subclasses for the service's refusals, ``NetworkError`` when it cannot be
    reached) and never carry a password, code or token. Access tokens passed in are valid (the
    client refreshes them first).

    Three optional attributes: ``sign_in_spec`` (a shipped spec name, a path or a mapping: the
    sign-in spec whose challenges this provider's flow may meet; default ``"sign_in"``),
    ``flow_steps`` (the names of the provider steps that spec's challenges may name, such as
    ``password_verifier``) and ``sign_in_flows`` (the flows it runs, such as ``USER_AUTH``:
    every flow the spec declares must be among them), checked when the client builds its
    sign-in machine, at the first sign-in, before any request.
    """

    def sign_up(
        self,
        username: str,
        password: str | None,
        *,
        attributes: Mapping[str, str] | None,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignUpAnswer:
        """Register a user (``password`` None: a passwordless user, where the service allows
        it); ``result.confirmed`` False while a confirmation code is outstanding."""
        ...

    def confirm_sign_up(
        self,
        username: str,
        code: str,
        *,
        client_metadata: Mapping[str, str] | None,
        session: str | None = None,
    ) -> SignUpAnswer:
        """Confirm a registration with the code the user received (``session``: the one
        :meth:`sign_up` answered, when the caller kept it for auto sign-in)."""
        ...

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        """Send the confirmation code again; where it went."""
        ...

    def sign_in(self, request: SignInRequest) -> SignInFlow:
        """The sign-in as a flow without I/O: a generator that yields ``ServiceCall`` steps
        (run with :meth:`perform`) and ``Prompt`` steps (challenges for the caller, each
        declared in ``request.challenges``) and returns ``SignedIn`` with the raw tokens.

        Bad arguments (a password the flow needs and lacks, an unknown flow) raise
        ``InvalidParameterError`` at the first step, before any request."""
        ...

    def perform(self, call: ServiceCall) -> Mapping[str, Any]:
        """Run one ``ServiceCall`` of a sign-in flow against the service; its answer."""
        ...

    def verify(
        self,
        raw: RawTokens,
        *,
        keys: Mapping[str, Any] | None = None,
        check_expiry: bool = True,
    ) -> Tokens:
        """Verify tokens the service (or a saved session) handed over; ``keys`` is what
        :meth:`keys` gave when the session was saved, so a restore verifies offline. A token
        that does not verify raises ``NotAuthorizedError`` naming the failed check."""
        ...

    def keys(self) -> Mapping[str, Any] | None:
        """The verification material to save with a session (a user pool's JWKS)."""
        ...

    def refresh(self, tokens: Tokens, *, device_key: str | None = None) -> RawTokens:
        """New tokens from ``tokens``' refresh token (a rotating service's answer carries the
        next refresh token). A refused refresh token raises ``NotAuthorizedError``: the
        client then asks the user to sign in again. ``device_key``: the remembered device's
        key, given only when the session has one (a provider without devices never gets it)."""
        ...

    def logins(self, tokens: Tokens) -> Mapping[str, str]:
        """The identity pool's ``Logins`` for a session with ``tokens`` (provider name to
        token)."""
        ...

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        """Send a password-reset code."""
        ...

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        """Set a new password with the reset code."""
        ...

    def change_password(self, access_token: str, current: str, proposed: str) -> None:
        """Change the signed-in user's password."""
        ...

    def get_user_attributes(self, access_token: str) -> dict[str, str]:
        """The signed-in user's attributes, by name."""
        ...

    def update_user_attributes(
        self, access_token: str, attributes: Mapping[str, str]
    ) -> list[CodeDeliveryDetails]:
        """Update attributes; where verification codes were sent (changed e-mail, phone)."""
        ...

    def verify_user_attribute(self, access_token: str, name: str) -> CodeDeliveryDetails:
        """Send a verification code for attribute ``name``."""
        ...

    def confirm_verify_user_attribute(self, access_token: str, name: str, code: str) -> None:
        """Verify attribute ``name`` with its code."""
        ...

    def delete_user(self, access_token: str) -> None:
        """Delete the signed-in user."""
        ...

    def global_sign_out(self, access_token: str) -> None:
        """Sign the user out everywhere: every refresh token of the user stops working."""
        ...

    def revoke_token(self, refresh_token: str) -> None:
        """Revoke one session's refresh token (and the tokens issued from it)."""
        ...


@runtime_checkable
class UserPoolMFAProvider(Protocol):
    """What a user-pool provider adds to manage the signed-in user's MFA (optional: a provider
    without these methods still serves the ``user_pool`` role; the client's MFA calls then
    raise ``ProviderError``). MFA types are named ``"SMS"``, ``"TOTP"`` and ``"EMAIL"``."""

    def associate_software_token(self, access_token: str) -> str:
        """A new TOTP secret for the user, inactive until verified."""
        ...

    def verify_software_token(
        self, access_token: str, code: str, *, friendly_device_name: str | None
    ) -> None:
        """Confirm the TOTP secret with a first code; ``CodeMismatchError`` for a wrong one."""
        ...

    def set_user_mfa_preference(
        self, access_token: str, preferences: Mapping[str, MFAPreference]
    ) -> None:
        """Apply one :class:`~fsm_auth.MFAPreference` per MFA type named."""
        ...

    def get_user_mfa_preference(self, access_token: str) -> MFAPreferences:
        """The MFA types on for the user and the preferred one."""
        ...


@runtime_checkable
class IdentityPoolProvider(Protocol):
    """An identity pool: identity ids and temporary AWS credentials for a set of logins.

    ``logins`` maps a provider name (``accounts.google.com``, ``cognito-idp.<region>.
    amazonaws.com/<pool>``) to its token; empty for a guest (unauthenticated) identity.
    """

    def check_logins(self, logins: Mapping[str, str], *, identity_id: str | None) -> None:
        """Refuse, before any request, logins this pool cannot take with ``identity_id`` (the
        id given with them, if any): ``InvalidParameterError`` naming what is wrong (an empty
        token, a developer-authenticated login without its identity id...)."""
        ...

    def get_identity_id(self, logins: Mapping[str, str], *, identity_id: str | None) -> str:
        """The identity id for ``logins`` (GetId), or ``identity_id`` when the caller already
        has one that fits (a kept guest identity, a developer-authenticated identity)."""
        ...

    def get_credentials(
        self,
        identity_id: str,
        logins: Mapping[str, str],
        *,
        custom_role_arn: str | None,
    ) -> tuple[str, AWSCredentials]:
        """Credentials for ``identity_id``; returns the identity id the service answered with."""
        ...


@runtime_checkable
class HostedUIProvider(Protocol):
    """A browser sign-in (Cognito's hosted UI: OAuth 2.0 authorization code with PKCE).

    Its tokens are the user pool's: the user-pool provider verifies and refreshes them. Like a
    user pool's, its sign-in is a flow without I/O run by the client's sign-in machine; the
    flow's :meth:`perform` steps show the page and wait for the redirect, and exchange the code.
    """

    def sign_in(self, options: HostedUIOptions) -> SignInFlow:
        """The sign-in as a flow (``ServiceCall`` steps run with :meth:`perform`), returning
        ``SignedIn`` with the raw tokens, ``route="hosted_ui"`` and the ``nonce`` sent."""
        ...

    def perform(self, call: ServiceCall) -> Mapping[str, Any]:
        """Run one step of the flow (open the page and wait for the redirect; exchange the
        code); ``HostedUIError`` with the OAuth error code when refused."""
        ...

    def revoke_token(self, refresh_token: str) -> None:
        """Revoke a hosted-UI session's refresh token (``/oauth2/revoke``)."""
        ...

    def end_browser_session(self) -> None:
        """Open the hosted UI's ``/logout`` so that the browser's session ends too; does not
        wait for the browser. ``AuthError`` when it cannot."""
        ...
