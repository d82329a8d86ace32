"""``AuthClient``: the facade applications embed (see the README).

It checks arguments, asks providers, and hands their answers to the machines: the
``user_state`` machine (:class:`~fsm_auth.session.SessionMachine`) owns the user state and the
session record and the ``sign_in`` machine (``fsm_auth.signin._driver.SignInDriver``), the challenge
flow, and ``specs/client.yaml`` the client's own life (open, closed). The client holds no
session state: what it answers comes from the record and the state's policy. Its account
operations (sign-up, passwords, attributes, MFA, devices) are in
:mod:`fsm_auth._user_pool_operations`.

No lock of the client is held while a machine fires, a listener runs or a request is in
flight, so listeners may call back into the client (AWSMobileClient's own example signs in
from one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fsm_auth._user_pool_operations import UserPoolOperations
from fsm_auth.errors import (
    ClientClosedError,
    IdentityPoolNotConfiguredError,
    optional_password,
    require_text,
)
from fsm_auth.session._validity import DEFAULT_MIN_VALIDITY
from fsm_auth.values import (
    AWSCredentials,
    HostedUIOptions,
    IdentityProvider,
    SignInResult,
    SignOutResult,
    Tokens,
    UserState,
)

if TYPE_CHECKING:
    import boto3

    from fsm_auth.config import AuthConfig, IdentityPoolConfig
    from fsm_auth.plugins import PluginRegistry
    from fsm_auth.provider import TransportFactory, UserPoolProvider
    from fsm_auth.session._store import UnscopedSessionStore
    from fsm_auth.signin._driver import SignInDriver
    from fsm_auth.transport import RetryPolicy

__all__ = ["AuthClient", "UserStateListener"]

UserStateListener = Callable[[UserState, Mapping[str, str]], None]
"""``callback(state, info)``: called once per real change of the user state, in order."""


class AuthClient(UserPoolOperations):
    """Sign-up, sign-in and sign-out, self-refreshing tokens and AWS credentials, a user state
    to query and listen to, and sessions that survive restarts.

    Build it with :meth:`from_config`. It is a context manager; :meth:`close` stops its
    background work, and every later call raises :class:`ClientClosedError`. Thread-safe.
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        store: UnscopedSessionStore,
        clock: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        min_validity: float = DEFAULT_MIN_VALIDITY,
        plugins: PluginRegistry | None = None,
        transports: TransportFactory | None = None,
    ) -> None:
        # The machinery is imported by the first client built, not by `import fsm_auth`: an
        # application importing the library at start-up pays for it when it first uses it.
        from fsm_auth.engine import Engine
        from fsm_auth.plugins import Providers, default_registry
        from fsm_auth.provider import ProviderContext, as_server_clock
        from fsm_auth.session import SessionMachine
        from fsm_auth.session._store import scope_store
        from fsm_auth.transport import RetryPolicy

        self.config = config
        # Only this configuration's session: other programs' and pools' are never touched.
        scoped = scope_store(store, config.config_key)
        # The service's time (local clock + offset learnt from iat), for every expiry decision.
        self._clock = as_server_clock(clock or time.time)
        registry = plugins or default_registry()
        context = ProviderContext(
            config, self._clock, retry or RetryPolicy(), registry, transports=transports
        )
        self._providers = Providers(config, registry, context)
        self._lifecycle = Engine("client")
        self._session = SessionMachine(
            config,
            store=scoped,
            clock=self._clock,
            min_validity=min_validity,
            user_pool=self._providers.user_pool,
            federated=lambda: self._providers.identity("federated"),
            guest=lambda: self._providers.identity("guest"),
            hosted_ui=self._providers.hosted_ui,
        )

    @classmethod
    def from_config(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        storage_dir: str | os.PathLike[str] | None = None,
        store: UnscopedSessionStore | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], float] | None = None,
        min_validity: float = DEFAULT_MIN_VALIDITY,
        retry: RetryPolicy | None = None,
        plugins: PluginRegistry | None = None,
        allow_insecure_endpoint: bool = False,
    ) -> AuthClient:
        """Build a client from an ``awsconfiguration.json``, ``amplifyconfiguration.json`` or
        ``amplify_outputs.json`` (a path or a parsed mapping).

        The session lives in an encrypted store under ``storage_dir`` (default: the platform's
        user data dir for fsm-auth), or in ``store``, scoped to this configuration.
        ``endpoint_url`` overrides every Cognito endpoint; ``allow_insecure_endpoint`` accepts
        plain ``http://`` to a host that is not loopback (see :func:`load_config`). ``clock``
        returns epoch seconds; ``min_validity``: no token or credential is handed out with
        fewer seconds left; ``retry``: timeouts and bounded retries; ``plugins``: where
        providers are found (default: the entry points).
        """
        from fsm_auth._setup import configure

        config, store = configure(
            source,
            storage_dir=storage_dir,
            store=store,
            endpoint_url=endpoint_url,
            min_validity=min_validity,
            allow_insecure_endpoint=allow_insecure_endpoint,
        )
        return cls(
            config, store=store, clock=clock, retry=retry, min_validity=min_validity,
            plugins=plugins,
        )  # fmt: skip

    def __enter__(self) -> AuthClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AuthClient state={self._session.engine.state} user={self.username!r}>"

    def close(self) -> None:
        """Stop background work and end waits for sign-in; the session stays saved. Every
        later call raises :class:`ClientClosedError`."""
        if self._lifecycle.fire("close"):
            self._session.close()

    # -- state ---------------------------------------------------------------------------------

    def initialize(self) -> UserState:
        """Restore the saved session, with no network call; idempotent."""
        self._open()
        return self._session.initialize()

    @property
    def current_user_state(self) -> UserState:
        """The user's state now (``UNKNOWN`` before :meth:`initialize`)."""
        return self._session.state

    @property
    def is_signed_in(self) -> bool:
        """True only in ``UserState.SIGNED_IN``."""
        return self._session.state is UserState.SIGNED_IN

    @property
    def username(self) -> str | None:
        """The signed-in user's name (kept while the user must sign in again)."""
        return self._session.record.username

    def add_user_state_listener(self, callback: UserStateListener) -> Callable[[], None]:
        """Call ``callback(state, info)`` on every change of the user state, in order and
        outside any lock; returns the function that unsubscribes it."""
        return self._session.add_listener(callback)

    def remove_user_state_listener(self, callback: UserStateListener) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        self._session.remove_listener(callback)

    # -- sign-in and sign-out ------------------------------------------------------------------

    def sign_in(
        self,
        username: str,
        password: str | None = None,
        *,
        auth_flow: str | None = None,
        preferred_challenge: str | None = None,
        validation_data: Mapping[str, str] | None = None,
        client_metadata: Mapping[str, str] | None = None,
    ) -> SignInResult:
        """Sign in to the user pool with ``auth_flow`` (default: the configuration's,
        USER_SRP_AUTH unless set): ``USER_SRP_AUTH``, ``USER_PASSWORD_AUTH``, ``CUSTOM_AUTH``,
        ``CUSTOM_WITH_SRP`` or ``USER_AUTH`` (choice-based: the ``preferred_challenge``
        ``PASSWORD``, ``PASSWORD_SRP``, ``EMAIL_OTP`` or ``SMS_OTP``, else the user picks at
        ``SELECT_CHALLENGE``). A password only where the flow uses one.

        ``DONE`` means the user is signed in; any other state is a challenge to answer with
        :meth:`confirm_sign_in`. A sign-out while this waits for the service wins: the answer
        is discarded and :class:`SignInCancelledError` raised.
        """
        require_text(username=username)
        return self._sign_in().start(
            username,
            optional_password(password),
            flow=auth_flow or self.config.authentication_flow_type,
            preferred_challenge=preferred_challenge,
            validation_data=validation_data,
            client_metadata=client_metadata,
        )

    def confirm_sign_in(
        self,
        challenge_response: str,
        *,
        user_attributes: Mapping[str, str] | None = None,
        client_metadata: Mapping[str, str] | None = None,
    ) -> SignInResult:
        """Answer the pending sign-in challenge (a code, a new password, an MFA choice...)."""
        require_text(challenge_response=challenge_response)
        return self._sign_in().answer(
            challenge_response, user_attributes=user_attributes, client_metadata=client_metadata
        )

    def sign_out(
        self, *, global_sign_out: bool = False, invalidate_tokens: bool = True
    ) -> SignOutResult:
        """End the local session (always) and move to ``SIGNED_OUT``, or ``GUEST`` when guest
        access is known to be on. A sign-in in flight is abandoned.

        ``global_sign_out`` also ends the user's sessions on every device (GlobalSignOut);
        ``invalidate_tokens`` revokes this session's refresh token (RevokeToken). A server
        call that fails never stops the local sign-out: the result's ``complete`` is then
        False and ``global_sign_out_error`` / ``revoke_error`` say what did not happen (a
        refresh token may still be valid at the server); ``store_error`` says the store could
        not save the signed-out state (call ``sign_out()`` again once it is back).
        """
        self._open()
        return self._session.sign_out(
            global_sign_out=global_sign_out, invalidate_tokens=invalidate_tokens
        )

    def show_sign_in(self, *, hosted_ui: HostedUIOptions | None = None) -> SignInResult:
        """Sign the user in interactively; returns once signed in (state ``DONE``).

        Without ``hosted_ui``: the drop-in UI in the terminal (sign in, sign up, forgot
        password, and every challenge the sign-in spec declares). With it: Cognito's hosted UI
        in the browser (authorization code with PKCE; the redirect is received on the
        configured loopback redirect URI). A cancelled or refused sign-in raises
        :class:`SignInCancelledError` or :class:`HostedUIError` and changes nothing.
        """
        driver = self._sign_in()
        if hosted_ui is None:
            from fsm_auth.ui import TerminalSignIn

            flow = driver.flows.get(self.config.authentication_flow_type)
            rule = flow.password if flow is not None else "optional"
            return TerminalSignIn(self, driver.challenges, password=rule).run()
        provider = self._providers.hosted_ui()
        return driver.start_flow(provider.sign_in(hosted_ui), provider.perform)

    def federated_sign_in(
        self,
        provider: IdentityProvider | str,
        token: str,
        *,
        identity_id: str | None = None,
        custom_role_arn: str | None = None,
    ) -> UserState:
        """Sign in to the identity pool with a token from ``provider`` (Google, SAML, OIDC...).

        Only AWS credentials and the identity id are available afterwards, not user-pool
        tokens. Nothing changes unless the identity pool accepts the login.
        """
        name = str(provider)
        require_text(provider=name, token=token)
        self._open()
        self._session.initialize()
        from fsm_auth.session import FederatedSession

        user = FederatedSession(
            name, token, identity_id=identity_id, custom_role_arn=custom_role_arn
        )
        return self._session.federated_sign_in(user)

    # -- tokens and AWS credentials ------------------------------------------------------------

    def get_tokens(
        self, *, wait: bool = True, timeout: float | None = None, force_refresh: bool = False
    ) -> Tokens:
        """Valid user-pool tokens: from the cache (no network call), else refreshed first.

        While the user must sign in again, waits for that sign-in (``wait=True``) until
        :meth:`release_sign_in_wait` or ``timeout`` (then :class:`UnableToSignInError`);
        ``wait=False`` raises at once. ``force_refresh=True`` refreshes even valid tokens
        (new claims after an attribute change, say): one request for every caller asking at
        once, and a rotated refresh token is saved before the tokens are returned.
        """
        self._open()
        return self._session.tokens(wait=wait, timeout=timeout, force_refresh=force_refresh)

    def release_sign_in_wait(self) -> None:
        """End every wait for sign-in: the waiting calls raise :class:`UnableToSignInError`."""
        self._session.release_waits()

    def get_identity_id(self) -> str:
        """The Cognito identity id of the signed-in user or the guest."""
        self._identity_pool()
        return self._session.identity_id()

    def get_aws_credentials(
        self, *, wait: bool = True, timeout: float | None = None
    ) -> AWSCredentials:
        """Temporary AWS credentials: the authenticated role when signed in, the
        unauthenticated role as a guest. Cached and refreshed like tokens."""
        self._identity_pool()
        return self._session.credentials(wait=wait, timeout=timeout)

    def boto3_session(self, *, region_name: str | None = None) -> boto3.Session:
        """A ``boto3.Session`` whose credentials come from this client and refresh themselves."""
        from fsm_auth.aws_session import make_boto3_session

        pool = self._identity_pool()
        # wait=False: botocore asks before every request; a request made while the user must
        # sign in again fails at once instead of blocking the caller's AWS call.
        return make_boto3_session(
            lambda: self.get_aws_credentials(wait=False),
            region_name=region_name or pool.region,
            clock=self._clock,
        )

    # -- internals -----------------------------------------------------------------------------

    def _open(self) -> None:
        if self._lifecycle.state == "closed":
            raise ClientClosedError("This client was closed; build a new one to go on")

    def _identity_pool(self) -> IdentityPoolConfig:
        """The identity pool's configuration; ``IdentityPoolNotConfiguredError`` first,
        before any wait, when there is none."""
        self._open()
        pool = self.config.identity_pool
        if pool is None:
            raise IdentityPoolNotConfiguredError("The configuration has no Cognito identity pool")
        return pool

    def _user_pool(self) -> UserPoolProvider:
        self._open()
        self._session.initialize()
        return self._providers.user_pool()

    def _sign_in(self) -> SignInDriver:
        self._user_pool()
        return self._session.sign_in_machine()

    def _access_token(self) -> str:
        self._open()
        return self._session.tokens(wait=False).access_token

    # The asyncio client's hook into the machine it drives (fsm_auth._async_client).

    def _fresh_tokens(self) -> Tokens | None:
        """Cached tokens that need no refresh, or None: no I/O, no wait (on an event loop)."""
        self._open()
        return self._session.fresh_tokens()
