"""The exceptions of fsm-auth: one tree under :class:`AuthError`.

::

    AuthError
    ├── ConfigError                       bad or incomplete configuration
    ├── SpecError                         a state-machine spec that does not validate
    ├── IllegalTransitionError            a trigger with no transition from the current state
    ├── NotSignedInError                  the operation needs a signed-in user
    ├── UnableToSignInError               a wait for sign-in was released or timed out
    ├── SignInCancelledError              a sign-in ended without signing in, changing nothing
    │                                     (a sign-out came first, or the user cancelled)
    ├── HostedUIError                     the hosted UI's sign-in ended without tokens
    │                                     (access_denied, state_mismatch, timeout...)
    ├── ClientClosedError                 the client was closed
    ├── UserPoolNotConfiguredError
    ├── IdentityPoolNotConfiguredError
    ├── GuestAccessNotAllowedError        the identity pool refuses unauthenticated identities
    ├── ProviderError                     a provider plugin failed to load or is unknown
    ├── SessionStoreError                 the session store cannot be read or written
    ├── NetworkError                      the service could not be reached (offline, DNS, timeout)
    │   └── SessionStoreUnavailableError  a networked store (Redis) could not be reached: also
    │                                     a SessionStoreError
    └── ServiceError                      the service answered with an error
        ├── NotAuthorizedError            NotAuthorizedException
        ├── UserNotConfirmedError         UserNotConfirmedException
        ├── UsernameExistsError           UsernameExistsException
        ├── UserNotFoundError             UserNotFoundException
        ├── CodeMismatchError             CodeMismatchException
        ├── ExpiredCodeError              ExpiredCodeException
        ├── InvalidPasswordError          InvalidPasswordException
        ├── InvalidParameterError         InvalidParameterException (and our own bad arguments)
        ├── LimitExceededError            LimitExceededException
        ├── TooManyRequestsError          TooManyRequestsException and other throttling
        ├── PasswordResetRequiredError    PasswordResetRequiredException
        ├── ResourceNotFoundError         ResourceNotFoundException
        ├── ChallengeNotSupportedError    a challenge this library cannot answer
        └── InternalServiceError          5xx answers after the retries ran out

Every error has ``.code`` (the service's error code, or ``None``) and ``.message``. Messages
are scrubbed: a token, password or key that a server echoes back never reaches the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "AuthError",
    "ChallengeNotSupportedError",
    "ClientClosedError",
    "CodeMismatchError",
    "ConfigError",
    "ExpiredCodeError",
    "GuestAccessNotAllowedError",
    "HostedUIError",
    "IdentityPoolNotConfiguredError",
    "IllegalTransitionError",
    "InternalServiceError",
    "InvalidParameterError",
    "InvalidPasswordError",
    "LimitExceededError",
    "NetworkError",
    "NotAuthorizedError",
    "NotSignedInError",
    "PasswordResetRequiredError",
    "ProviderError",
    "ResourceNotFoundError",
    "ServiceError",
    "SessionStoreError",
    "SessionStoreUnavailableError",
    "SignInCancelledError",
    "SpecError",
    "TooManyRequestsError",
    "UnableToSignInError",
    "UserNotConfirmedError",
    "UserNotFoundError",
    "UserPoolNotConfiguredError",
    "UsernameExistsError",
    "redact",
    "require_text",
    "service_error",
]

# A JWT (three base64url parts) and an AWS access key id. Service messages sometimes echo what
# was sent; these never get through.
_SECRET_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"),
)
# Long base64-like runs are secrets (secret keys, session and refresh tokens) when they mix
# upper case, lower case and digits; paths, uuids and identifiers do not, and must stay readable.
_LONG_RUN = re.compile(r"[A-Za-z0-9+/_=-]{32,}")
_REDACTED = "[redacted]"


def _redact_long_run(match: re.Match[str]) -> str:
    run = match.group(0)
    mixed = (
        any(c.isupper() for c in run)
        and any(c.islower() for c in run)
        and any(c.isdigit() for c in run)
    )
    return _REDACTED if mixed and not run.startswith("/") else run


def redact(text: str, *secrets: str | None) -> str:
    """Return ``text`` with every known secret and anything shaped like a token removed."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_REDACTED, text)
    return _LONG_RUN.sub(_redact_long_run, text)


class AuthError(Exception):
    """The root of every error fsm-auth raises."""

    default_code: str | None = None

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        self.message = redact(message)
        self.code = code if code is not None else self.default_code
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r}, code={self.code!r})"


class ConfigError(AuthError):
    """The configuration is malformed or incomplete; the message names the file and key."""


class SpecError(AuthError):
    """A state-machine spec is invalid; the message names the spec (or file) and the fault."""


class IllegalTransitionError(AuthError):
    """A trigger was fired that has no transition from the current state."""

    def __init__(self, message: str = "", *, state: str = "", trigger: str = "") -> None:
        super().__init__(message)
        self.state = state
        self.trigger = trigger


class NotSignedInError(AuthError):
    """The operation needs a user signed in (through the user pool, for tokens)."""


class UnableToSignInError(AuthError):
    """A wait for sign-in ended without one: released, or timed out."""


class SignInCancelledError(AuthError):
    """A sign-in ended without signing anyone in, and changed nothing: a sign-out came while
    it waited for the service (its late answer is discarded), or the user cancelled it."""


class HostedUIError(AuthError):
    """A hosted-UI sign-in (OAuth 2.0 authorization code with PKCE) ended without tokens, and
    changed nothing. ``code`` is the OAuth error code (``access_denied``, ``invalid_grant``,
    ``invalid_request``...), ``state_mismatch`` for a redirect that does not answer this
    sign-in, ``timeout`` when no redirect came in time, or ``redirect_unavailable`` when the
    redirect URI's loopback port cannot be listened on."""


class ClientClosedError(AuthError):
    """The client was closed: build a new one to go on."""


class UserPoolNotConfiguredError(AuthError):
    """The configuration has no Cognito user pool."""


class IdentityPoolNotConfiguredError(AuthError):
    """The configuration has no Cognito identity pool."""


class GuestAccessNotAllowedError(AuthError):
    """The identity pool refuses unauthenticated (guest) identities."""


class ProviderError(AuthError):
    """A provider plugin is unknown or failed to load."""


class SessionStoreError(AuthError):
    """The session store could not be read or written."""


class NetworkError(AuthError):
    """The service could not be reached: connection refused or reset, DNS failure, timeout.

    Nothing changes on a network error: no state change, no sign-out, no session lost.
    """


class SessionStoreUnavailableError(SessionStoreError, NetworkError):
    """A session store on the network (Redis) could not be reached. It is a
    :class:`SessionStoreError` (the store failed) and a :class:`NetworkError` (offline: nothing
    changes, nobody is signed out, and the call can be tried again when the store is back)."""


class ServiceError(AuthError):
    """The identity service answered with an error."""


class NotAuthorizedError(ServiceError):
    """Wrong user name or password, or a token that is expired or revoked."""

    default_code = "NotAuthorizedException"


class UserNotConfirmedError(ServiceError):
    """The user signed up but has not confirmed the account yet."""

    default_code = "UserNotConfirmedException"


class UsernameExistsError(ServiceError):
    """A user with this name already exists."""

    default_code = "UsernameExistsException"


class UserNotFoundError(ServiceError):
    """No such user."""

    default_code = "UserNotFoundException"


class CodeMismatchError(ServiceError):
    """The confirmation or MFA code is wrong."""

    default_code = "CodeMismatchException"


class ExpiredCodeError(ServiceError):
    """The confirmation code has expired."""

    default_code = "ExpiredCodeException"


class InvalidPasswordError(ServiceError):
    """The password does not satisfy the pool's policy."""

    default_code = "InvalidPasswordException"


class InvalidParameterError(ServiceError):
    """A parameter is missing or invalid (from the service, or caught before sending)."""

    default_code = "InvalidParameterException"


class LimitExceededError(ServiceError):
    """A limit was exceeded (for example, too many code requests)."""

    default_code = "LimitExceededException"


class TooManyRequestsError(ServiceError):
    """The service throttled the request and the retries ran out."""

    default_code = "TooManyRequestsException"


class PasswordResetRequiredError(ServiceError):
    """The user must reset the password before signing in."""

    default_code = "PasswordResetRequiredException"


class ResourceNotFoundError(ServiceError):
    """A pool, client or identity the request names does not exist."""

    default_code = "ResourceNotFoundException"


class ChallengeNotSupportedError(ServiceError):
    """The service asked for a challenge this library does not answer."""


class InternalServiceError(ServiceError):
    """The service failed (5xx) and the retries ran out."""

    default_code = "InternalErrorException"


_BY_CODE: Mapping[str, type[ServiceError]] = {
    "NotAuthorizedException": NotAuthorizedError,
    # A refresh token rotated out past its grace period: refused like an expired one.
    "RefreshTokenReuseException": NotAuthorizedError,
    "UserNotConfirmedException": UserNotConfirmedError,
    "UsernameExistsException": UsernameExistsError,
    "AliasExistsException": UsernameExistsError,
    "UserNotFoundException": UserNotFoundError,
    "CodeMismatchException": CodeMismatchError,
    # VerifySoftwareToken's wrong first code: the session is kept, the code may be retried.
    "EnableSoftwareTokenMFAException": CodeMismatchError,
    "ExpiredCodeException": ExpiredCodeError,
    "InvalidPasswordException": InvalidPasswordError,
    "InvalidParameterException": InvalidParameterError,
    "ValidationException": InvalidParameterError,
    "LimitExceededException": LimitExceededError,
    "TooManyRequestsException": TooManyRequestsError,
    "TooManyFailedAttemptsException": TooManyRequestsError,
    "ThrottlingException": TooManyRequestsError,
    "PasswordResetRequiredException": PasswordResetRequiredError,
    "ResourceNotFoundException": ResourceNotFoundError,
    "InternalErrorException": InternalServiceError,
    "InternalServerError": InternalServiceError,
    "ServiceUnavailable": InternalServiceError,
}


def service_error(code: str | None, message: str, *secrets: str | None) -> ServiceError:
    """Map a service error code to its class; ``secrets`` are scrubbed from the message."""
    cls = _BY_CODE.get(code or "", ServiceError)
    return cls(redact(message, *secrets), code=code)


def require_text(**values: object) -> None:
    """Refuse, naming it, the first argument that is not a non-empty string
    (:class:`InvalidParameterError`)."""
    for name, value in values.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidParameterError(f"{name} must be a non-empty string")


def optional_password(password: object) -> str | None:
    """``password``, or None for none (a passwordless flow or sign-up may be given ""); any
    other value that is not a non-empty string is refused by name."""
    if password is None or password == "":
        return None
    require_text(password=password)
    return str(password)
