"""fsm-auth: Cognito user pools and identity pools as an explicit finite-state machine.

Everything a caller touches is importable from here (``__all__``; a test pins it to the
README's list). Only the exceptions are imported eagerly: the values, the client, the stores,
the plugin registry and the provider protocols are loaded on first use, so that
``import fsm_auth`` stays cheap and ``fsm-auth credentials`` can serve a saved session without
attrs, the engine or boto3 (boto3 is imported only by the first network call). The engine
(``fsm_auth.engine``), the emulator (``fsm_auth.emulator``), the sign-in flow types for
provider authors (``fsm_auth.signin``) and the conformance suite (``fsm_auth.testing``) are the
public subpackages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsm_auth._lazy import lazy_attributes
from fsm_auth.errors import (
    AuthError,
    ChallengeNotSupportedError,
    ClientClosedError,
    CodeMismatchError,
    ConfigError,
    ExpiredCodeError,
    GuestAccessNotAllowedError,
    HostedUIError,
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
    SessionStoreUnavailableError,
    SignInCancelledError,
    SpecError,
    TooManyRequestsError,
    UnableToSignInError,
    UsernameExistsError,
    UserNotConfirmedError,
    UserNotFoundError,
    UserPoolNotConfiguredError,
)

if TYPE_CHECKING:
    from fsm_auth._async_client import AsyncAuthClient, AsyncUserStateListener
    from fsm_auth._devices import Device
    from fsm_auth._mfa import MFAPreference, MFAPreferences, TOTPSetup
    from fsm_auth.client import AuthClient, UserStateListener
    from fsm_auth.plugins import PluginRegistry
    from fsm_auth.provider import (
        HostedUIProvider,
        IdentityPoolProvider,
        ProviderContext,
        UserPoolProvider,
    )
    from fsm_auth.session import (
        FileSessionStore,
        MemorySessionStore,
        RedisSessionStore,
        SessionStore,
    )
    from fsm_auth.transport import RetryPolicy
    from fsm_auth.values import (
        AWSCredentials,
        CodeDeliveryDetails,
        ForgotPasswordResult,
        HostedUIOptions,
        IdentityProvider,
        SignInResult,
        SignInState,
        SignOutResult,
        SignUpResult,
        Tokens,
        UserState,
    )

__version__ = "0.1.0"

# Loaded on first use: name -> module.
_LAZY = {
    "AWSCredentials": "fsm_auth.values",
    "CodeDeliveryDetails": "fsm_auth.values",
    "ForgotPasswordResult": "fsm_auth.values",
    "HostedUIOptions": "fsm_auth.values",
    "IdentityProvider": "fsm_auth.values",
    "SignInResult": "fsm_auth.values",
    "SignInState": "fsm_auth.values",
    "SignOutResult": "fsm_auth.values",
    "SignUpResult": "fsm_auth.values",
    "Tokens": "fsm_auth.values",
    "UserState": "fsm_auth.values",
    "MFAPreference": "fsm_auth._mfa",
    "MFAPreferences": "fsm_auth._mfa",
    "TOTPSetup": "fsm_auth._mfa",
    "Device": "fsm_auth._devices",
    "AuthClient": "fsm_auth.client",
    "UserStateListener": "fsm_auth.client",
    "AsyncAuthClient": "fsm_auth._async_client",
    "AsyncUserStateListener": "fsm_auth._async_client",
    "FileSessionStore": "fsm_auth.session",
    "MemorySessionStore": "fsm_auth.session",
    "RedisSessionStore": "fsm_auth.session",
    "SessionStore": "fsm_auth.session",
    "PluginRegistry": "fsm_auth.plugins",
    "IdentityPoolProvider": "fsm_auth.provider",
    "HostedUIProvider": "fsm_auth.provider",
    "ProviderContext": "fsm_auth.provider",
    "UserPoolProvider": "fsm_auth.provider",
    "RetryPolicy": "fsm_auth.transport",
}

__all__ = [
    "AWSCredentials",
    "AsyncAuthClient",
    "AsyncUserStateListener",
    "AuthClient",
    "AuthError",
    "ChallengeNotSupportedError",
    "ClientClosedError",
    "CodeDeliveryDetails",
    "CodeMismatchError",
    "ConfigError",
    "Device",
    "ExpiredCodeError",
    "FileSessionStore",
    "ForgotPasswordResult",
    "GuestAccessNotAllowedError",
    "HostedUIError",
    "HostedUIOptions",
    "HostedUIProvider",
    "IdentityPoolNotConfiguredError",
    "IdentityPoolProvider",
    "IdentityProvider",
    "IllegalTransitionError",
    "InternalServiceError",
    "InvalidParameterError",
    "InvalidPasswordError",
    "LimitExceededError",
    "MFAPreference",
    "MFAPreferences",
    "MemorySessionStore",
    "NetworkError",
    "NotAuthorizedError",
    "NotSignedInError",
    "PasswordResetRequiredError",
    "PluginRegistry",
    "ProviderContext",
    "ProviderError",
    "RedisSessionStore",
    "ResourceNotFoundError",
    "RetryPolicy",
    "ServiceError",
    "SessionStore",
    "SessionStoreError",
    "SessionStoreUnavailableError",
    "SignInCancelledError",
    "SignInResult",
    "SignInState",
    "SignOutResult",
    "SignUpResult",
    "SpecError",
    "TOTPSetup",
    "Tokens",
    "TooManyRequestsError",
    "UnableToSignInError",
    "UserNotConfirmedError",
    "UserNotFoundError",
    "UserPoolNotConfiguredError",
    "UserPoolProvider",
    "UserState",
    "UserStateListener",
    "UsernameExistsError",
]


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __all__)
