"""fsm-auth: Cognito user pools and identity pools as an explicit finite-state machine.

Everything a caller touches is importable from here. ``AuthClient`` and ``RetryPolicy`` are
loaded on first use, so that ``import fsm_auth`` stays cheap (boto3 is imported only by the first
network call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fsm_auth.errors import (
    AuthError,
    ChallengeNotSupportedError,
    CodeMismatchError,
    ConfigError,
    ExpiredCodeError,
    GuestAccessNotAllowedError,
    IdentityPoolNotConfiguredError,
    IllegalTransitionError,
    InternalServiceError,
    InvalidParameterError,
    InvalidPasswordError,
    LimitExceededError,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
    PasswordResetRequiredError,
    ProviderError,
    ResourceNotFoundError,
    ServiceError,
    SessionStoreError,
    SpecError,
    TooManyRequestsError,
    UnableToSignInError,
    UsernameExistsError,
    UserNotConfirmedError,
    UserNotFoundError,
    UserPoolNotConfiguredError,
)
from fsm_auth.values import (
    AWSCredentials,
    CodeDeliveryDetails,
    ForgotPasswordResult,
    IdentityProvider,
    SignInResult,
    SignInState,
    SignUpResult,
    Tokens,
    UserState,
)

if TYPE_CHECKING:
    from fsm_auth.client import AuthClient
    from fsm_auth.transport import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "AWSCredentials",
    "AuthClient",
    "AuthError",
    "ChallengeNotSupportedError",
    "CodeDeliveryDetails",
    "CodeMismatchError",
    "ConfigError",
    "ExpiredCodeError",
    "ForgotPasswordResult",
    "GuestAccessNotAllowedError",
    "IdentityPoolNotConfiguredError",
    "IdentityProvider",
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
    "RetryPolicy",
    "ServiceError",
    "SessionStoreError",
    "SignInResult",
    "SignInState",
    "SignUpResult",
    "SpecError",
    "Tokens",
    "TooManyRequestsError",
    "UnableToSignInError",
    "UserNotConfirmedError",
    "UserNotFoundError",
    "UserPoolNotConfiguredError",
    "UserState",
    "UsernameExistsError",
]


def __getattr__(name: str) -> Any:
    if name == "AuthClient":
        from fsm_auth.client import AuthClient

        return AuthClient
    if name == "RetryPolicy":
        from fsm_auth.transport import RetryPolicy

        return RetryPolicy
    raise AttributeError(f"module 'fsm_auth' has no attribute {name!r}")
