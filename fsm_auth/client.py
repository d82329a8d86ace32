"""``AuthClient``: the facade applications embed (see API.md).

It wires the layers: the ``user_state`` spec run by the engine is the only thing that changes
the user's state; providers do the I/O; the session layer keeps tokens and credentials fresh
and persisted. The client turns provider outcomes into triggers, never the other way round.

Locks: ``_lock`` guards the in-memory session fields and is never held while the engine fires,
while a listener runs, or during a network call, so listeners may call back into the client
(the seed signs in from inside a listener).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fsm_auth.config import AuthConfig, load_config
from fsm_auth.engine import Engine, Spec
from fsm_auth.errors import (
    AuthError,
    IdentityPoolNotConfiguredError,
    IllegalTransitionError,
    InvalidParameterError,
    NotAuthorizedError,
    NotSignedInError,
    UnableToSignInError,
    UserNotFoundError,
    UserPoolNotConfiguredError,
)
from fsm_auth.provider import ProviderContext, RawTokens, UserPoolProvider
from fsm_auth.session import (
    FileSessionStore,
    IdentitySession,
    RefreshingCache,
    SessionStore,
    UserPoolTokens,
)
from fsm_auth.transport import RetryPolicy
from fsm_auth.values import (
    AWSCredentials,
    CodeDeliveryDetails,
    ForgotPasswordResult,
    IdentityProvider,
    SignInResult,
    SignUpResult,
    Tokens,
    UserState,
)

if TYPE_CHECKING:
    import boto3


__all__ = ["AuthClient", "UserStateListener"]

logger = logging.getLogger("fsm_auth.client")

UserStateListener = Callable[[UserState, Mapping[str, str]], None]
"""``callback(state, info)``: called once per real change of the user state, in order."""

SCHEMA = 1
_SIGNED_OUT_STATES = frozenset(
    {
        UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID,
        UserState.SIGNED_OUT_FEDERATED_TOKENS_INVALID,
    }
)
# Refresh answers that mean "this session is over", as opposed to a passing failure.
_REFUSALS = (NotAuthorizedError, UserNotFoundError)
_INFO_KEYS = ("username", "provider")
_WAIT_SLICE = 0.1


class _Guards:
    """The guard conditions the ``user_state`` spec asks the engine's context for."""

    def __init__(self, client: AuthClient) -> None:
        self._client = client

    @property
    def guest_access_enabled(self) -> bool:
        return self._client._guest_access_known()


class AuthClient:
    """Sign-up, sign-in and sign-out, self-refreshing tokens and AWS credentials, a user state
    to query and listen to, and sessions that survive restarts.

    Build it with :meth:`from_config`. It is a context manager; :meth:`close` stops its
    background work. All methods are thread-safe.
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        store: SessionStore,
        clock: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        min_validity: float = 30.0,
    ) -> None:
        self.config = config
        self._store = store
        self._clock = clock or time.time
        self._min_validity = min_validity
        self._context = ProviderContext(
            config=config, clock=self._clock, retry=retry or RetryPolicy()
        )
        self._lock = threading.RLock()
        self._init_lock = threading.Lock()
        self._wait = threading.Condition()
        self._release_generation = 0
        self._listeners: list[UserStateListener] = []
        self._engine = Engine(Spec.load("user_state"), context=_Guards(self))
        self._engine.add_listener(self._on_transition, event_data=True)

        # The user-pool session.
        self._user_pool: UserPoolProvider | None = None
        self._method: str | None = None  # "user_pool" | "federated" while signed in
        self._username: str | None = None
        self._federation: dict[str, Any] | None = None
        self._tokens: UserPoolTokens | None = None
        if config.user_pool is not None:
            self._tokens = UserPoolTokens(
                config.user_pool,
                provider=self._pool,
                store=store,
                clock=self._clock,
                min_validity=min_validity,
                on_refreshed=lambda tokens: self._persist(tokens=tokens),
            )
        # Set only while signed in through the user pool: get_tokens()'s lock-free fast path.
        self._live_tokens: RefreshingCache[Tokens] | None = None
        self._session_generation = 0
        self._identity: IdentitySession | None = None
        from fsm_auth._sign_in import SignInFlow

        self._sign_in = SignInFlow(self._complete_user_pool_sign_in)

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        storage_dir: str | os.PathLike[str] | None = None,
        store: SessionStore | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], float] | None = None,
        min_validity: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> AuthClient:
        """Build a client from an ``awsconfiguration.json``, ``amplifyconfiguration.json`` or
        ``amplify_outputs.json`` (a path or a parsed mapping).

        The session lives in an encrypted store under ``storage_dir`` (default: the platform's
        user data dir for fsm-auth), or in ``store``. ``endpoint_url`` overrides every Cognito
        endpoint (a local emulator). ``clock`` returns epoch seconds for every expiry decision.
        ``min_validity``: no token or credential is handed out with fewer seconds left (it is
        refreshed first). ``retry``: timeouts and the bounded retries of throttled or failed
        (5xx) calls.
        """
        if not min_validity >= 0:
            raise InvalidParameterError("min_validity must be a number of seconds >= 0")
        config = load_config(source, endpoint_url=endpoint_url)
        if store is None:
            store = FileSessionStore(storage_dir, config_key=config.config_key)
        return cls(config, store=store, clock=clock, retry=retry, min_validity=min_validity)

    def __enter__(self) -> AuthClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AuthClient state={self._engine.state} user={self._username!r}>"

    def close(self) -> None:
        """Stop background work (refresh threads); the session stays persisted."""
        if self._tokens is not None:
            self._tokens.close()
        if self._identity is not None:
            self._identity.close()
        self.release_sign_in_wait()

    # -- state ---------------------------------------------------------------------------------

    def initialize(self) -> UserState:
        """Restore the persisted session, with no network call; idempotent."""
        with self._init_lock:
            if self._engine.state != UserState.UNKNOWN:
                return UserState(self._engine.state)
            trigger, data = self._restore()
            self._engine.fire(trigger, **data)
        return UserState(self._engine.state)

    @property
    def current_user_state(self) -> UserState:
        """The user's state now (``UNKNOWN`` before :meth:`initialize`)."""
        return UserState(self._engine.state)

    @property
    def is_signed_in(self) -> bool:
        """True only in ``UserState.SIGNED_IN``."""
        return self._engine.state == UserState.SIGNED_IN

    @property
    def username(self) -> str | None:
        """The signed-in user's name (kept while the user must sign in again)."""
        return self._username

    def add_user_state_listener(self, callback: UserStateListener) -> Callable[[], None]:
        """Call ``callback(state, info)`` on every change of the user state; returns the
        function that unsubscribes it."""
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            self.remove_user_state_listener(callback)

        return unsubscribe

    def remove_user_state_listener(self, callback: UserStateListener) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def _on_transition(
        self, old: str, trigger: str, new: str, event_data: Mapping[str, Any]
    ) -> None:
        with self._wait:
            self._wait.notify_all()
        if old == new:
            return
        info = {k: str(event_data[k]) for k in _INFO_KEYS if event_data.get(k) is not None}
        state = UserState(new)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(state, dict(info))
            except Exception:
                logger.exception("A user state listener raised; the others still run")

    def _ensure_initialized(self) -> None:
        if self._engine.state == UserState.UNKNOWN:
            self.initialize()

    def _guest_access_known(self) -> bool:
        pool = self.config.identity_pool
        if pool is None:
            return False
        identity = self._identity
        known = identity.guest_access_known if identity is not None else None
        if known is not None:
            return known
        return bool(pool.unauthenticated_identities_enabled)

    # -- providers -----------------------------------------------------------------------------

    def _provider(self, role: str) -> Any:
        from fsm_auth import plugins

        name = self.config.providers.get(role, "")
        return plugins.get_factory(name)(self._context)

    def _pool(self) -> UserPoolProvider:
        provider = self._user_pool
        if provider is None:
            if self.config.user_pool is None:
                raise UserPoolNotConfiguredError("The configuration has no Cognito user pool")
            with self._lock:
                if self._user_pool is None:
                    self._user_pool = self._provider("user_pool")
                provider = self._user_pool
        assert provider is not None
        return provider

    def _user_tokens(self) -> UserPoolTokens:
        tokens = self._tokens
        if tokens is None:
            raise UserPoolNotConfiguredError("The configuration has no Cognito user pool")
        return tokens

    def _identity_session(self) -> IdentitySession:
        identity = self._identity
        if identity is None:
            pool = self.config.identity_pool
            if pool is None:
                raise IdentityPoolNotConfiguredError(
                    "The configuration has no Cognito identity pool"
                )
            with self._lock:
                if self._identity is None:
                    self._identity = IdentitySession(
                        pool,
                        federated=self._provider("federated"),
                        guest=self._provider("guest"),
                        clock=self._clock,
                        min_validity=self._min_validity,
                        on_change=self._persist,
                    )
                identity = self._identity
        return identity

    # -- user pool: sign-up --------------------------------------------------------------------

    def sign_up(
        self,
        username: str,
        password: str,
        *,
        attributes: Mapping[str, str] | None = None,
        validation_data: Mapping[str, str] | None = None,
        client_metadata: Mapping[str, str] | None = None,
    ) -> SignUpResult:
        """Register a new user; ``.confirmed`` is False until :meth:`confirm_sign_up`."""
        _require_text("username", username)
        _require_text("password", password)
        self._ensure_initialized()
        return self._pool().sign_up(
            username,
            password,
            attributes=attributes,
            validation_data=validation_data,
            client_metadata=client_metadata,
        )

    def confirm_sign_up(
        self, username: str, code: str, *, client_metadata: Mapping[str, str] | None = None
    ) -> SignUpResult:
        """Confirm a registration with the code sent to the user."""
        _require_text("username", username)
        _require_text("code", code)
        self._ensure_initialized()
        return self._pool().confirm_sign_up(username, code, client_metadata=client_metadata)

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        """Send the confirmation code again."""
        _require_text("username", username)
        self._ensure_initialized()
        return self._pool().resend_sign_up_code(username)

    # -- user pool: sign-in --------------------------------------------------------------------

    def sign_in(
        self,
        username: str,
        password: str,
        *,
        validation_data: Mapping[str, str] | None = None,
        client_metadata: Mapping[str, str] | None = None,
    ) -> SignInResult:
        """Sign in to the user pool (USER_SRP_AUTH unless configured otherwise).

        ``DONE`` means the user is signed in; any other state is a challenge to answer with
        :meth:`confirm_sign_in`.
        """
        _require_text("username", username)
        flow = self.config.authentication_flow_type
        if flow != "CUSTOM_AUTH":
            _require_text("password", password)
        self._ensure_initialized()
        return self._sign_in.start(
            self._pool(),
            username,
            password or None,
            flow=flow,
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
        _require_text("challenge_response", challenge_response)
        return self._sign_in.answer(
            self._pool(),
            challenge_response,
            user_attributes=user_attributes,
            client_metadata=client_metadata,
        )

    def _complete_user_pool_sign_in(self, raw: RawTokens) -> Callable[[], None]:
        """Verify and keep the tokens of a finished sign-in; return its announcement."""
        user_tokens = self._user_tokens()
        tokens = user_tokens.verify(raw)
        username = tokens.username
        with self._lock:
            self._session_generation += 1
            self._method = "user_pool"
            self._username = username
            self._federation = None
            user_tokens.keep(tokens)
            self._live_tokens = user_tokens.cache
        identity = self._identity_if_configured()
        if identity is not None:
            identity.authenticate(self._user_pool_logins)
        self._persist()

        def announce() -> None:
            self._engine.fire("user_pool_signed_in", username=username)
            if identity is not None:
                self._prefetch_credentials(identity)

        return announce

    def _identity_if_configured(self) -> IdentitySession | None:
        return self._identity_session() if self.config.identity_pool is not None else None

    def _prefetch_credentials(self, identity: IdentitySession) -> None:
        # AWSMobileClient fetches the identity and credentials at sign-in; a failure here does
        # not undo the sign-in: get_aws_credentials() reports it when the app asks.
        try:
            identity.prefetch()
        except AuthError as exc:
            logger.warning("Could not fetch AWS credentials after sign-in: %s", exc)

    def _user_pool_logins(self) -> Mapping[str, str]:
        """The identity pool's ``Logins`` for the user-pool session, with a fresh id token.

        A refresh refused here ends the user-pool session exactly as in :meth:`get_tokens`
        (the seed: an AWS call with a refresh token that expired asks the user to sign in).
        """
        pool = self.config.user_pool
        assert pool is not None
        live = self._live_tokens or self._user_tokens().cache
        try:
            tokens = live.get()
        except _REFUSALS as exc:
            self._user_pool_token_refused(live, exc)
            raise
        return {pool.issuer.removeprefix("https://"): tokens.id_token}

    # -- tokens --------------------------------------------------------------------------------

    def get_tokens(self, *, wait: bool = True, timeout: float | None = None) -> Tokens:
        """Valid user-pool tokens: from the cache (no network call), else refreshed first.

        While the user must sign in again, waits for that sign-in (``wait=True``) until
        :meth:`release_sign_in_wait` or ``timeout`` (then :class:`UnableToSignInError`);
        ``wait=False`` raises at once.
        """
        live = self._live_tokens
        if live is not None:
            try:
                return live.get()
            except _REFUSALS as exc:
                self._user_pool_token_refused(live, exc)
        return self._get_tokens_slow(wait, timeout)

    def _get_tokens_slow(self, wait: bool, timeout: float | None) -> Tokens:
        self._ensure_initialized()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self._engine.state
            live = self._live_tokens
            if state == UserState.SIGNED_IN and live is not None:
                try:
                    return live.get()
                except _REFUSALS as exc:
                    self._user_pool_token_refused(live, exc)
                    continue
            if state == UserState.SIGNED_IN and self._method == "federated":
                raise NotSignedInError(
                    "Signed in through federated_sign_in: there are no user pool tokens"
                )
            if state in _SIGNED_OUT_STATES:
                self._wait_for_sign_in(wait, deadline)
                continue
            if state == UserState.SIGNED_IN:
                # A refusal is being announced: wait for its state change, not in a busy loop.
                with self._wait:
                    self._wait.wait(0.05)
                continue
            raise NotSignedInError(f"No user is signed in (user state {state})")

    def _user_pool_token_refused(self, cache: RefreshingCache[Tokens], exc: AuthError) -> None:
        with self._lock:
            if self._live_tokens is not cache:
                return  # another sign-in or sign-out happened meanwhile
            self._live_tokens = None
            username = self._username
        logger.info("The user pool refused the refresh token (%s); sign-in needed", exc.code)
        self._persist()
        # No longer signed in (signed out meanwhile): nothing to invalidate.
        with contextlib.suppress(IllegalTransitionError):
            self._engine.fire("user_pool_token_refused", username=username)

    def _wait_for_sign_in(self, wait: bool, deadline: float | None) -> None:
        state = self._engine.state
        if not wait:
            raise UnableToSignInError(f"The user must sign in again (user state {state})")
        with self._wait:
            generation = self._release_generation
            while self._engine.state in _SIGNED_OUT_STATES:
                if self._release_generation != generation:
                    raise UnableToSignInError("The wait for sign-in was released")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise UnableToSignInError("Timed out waiting for the user to sign in again")
                # Woken by the user-state listener; the slice bounds the wait when this thread
                # is itself the one delivering notifications (a caller waiting inside a
                # listener), since the sign-in's notification then comes only after it returns.
                self._wait.wait(_WAIT_SLICE if remaining is None else min(remaining, _WAIT_SLICE))

    def release_sign_in_wait(self) -> None:
        """End every wait for sign-in: the waiting calls raise :class:`UnableToSignInError`."""
        with self._wait:
            self._release_generation += 1
            self._wait.notify_all()

    # -- user pool: passwords, attributes, deletion ----------------------------------------

    def _access_token(self) -> str:
        self._ensure_initialized()
        if self._live_tokens is None:
            raise NotSignedInError("This needs a user signed in to the user pool")
        return self.get_tokens(wait=False).access_token

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        """Send the user a code to reset the password."""
        _require_text("username", username)
        self._ensure_initialized()
        return self._pool().forgot_password(username)

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        """Set a new password with the code from :meth:`forgot_password`."""
        _require_text("username", username)
        _require_text("new_password", new_password)
        _require_text("code", code)
        self._ensure_initialized()
        self._pool().confirm_forgot_password(username, new_password, code)

    def change_password(self, current_password: str, proposed_password: str) -> None:
        """Change the signed-in user's password."""
        _require_text("current_password", current_password)
        _require_text("proposed_password", proposed_password)
        self._pool().change_password(self._access_token(), current_password, proposed_password)

    def get_user_attributes(self) -> dict[str, str]:
        """The signed-in user's attributes."""
        return self._pool().get_user_attributes(self._access_token())

    def update_user_attributes(self, attributes: Mapping[str, str]) -> list[CodeDeliveryDetails]:
        """Update attributes; returns where verification codes were sent."""
        if not isinstance(attributes, Mapping) or not attributes:
            raise InvalidParameterError("attributes must be a non-empty mapping of name to value")
        return self._pool().update_user_attributes(self._access_token(), attributes)

    def verify_user_attribute(self, name: str) -> CodeDeliveryDetails:
        """Send a verification code for attribute ``name`` (``email``, ``phone_number``)."""
        _require_text("name", name)
        return self._pool().verify_user_attribute(self._access_token(), name)

    def confirm_verify_user_attribute(self, name: str, code: str) -> None:
        """Verify attribute ``name`` with the code the user received."""
        _require_text("name", name)
        _require_text("code", code)
        self._pool().confirm_verify_user_attribute(self._access_token(), name, code)

    def delete_user(self) -> None:
        """Delete the signed-in user from the pool, then end the local session."""
        self._pool().delete_user(self._access_token())
        self._end_session()

    # -- sign-out ------------------------------------------------------------------------------

    def sign_out(self, *, global_sign_out: bool = False, invalidate_tokens: bool = True) -> None:
        """End the local session (always) and move to ``SIGNED_OUT``, or ``GUEST`` when guest
        access is known to be on.

        ``global_sign_out`` also signs the user out of every device; ``invalidate_tokens``
        revokes this session's refresh token. A failed server call is logged, not raised.
        """
        self._ensure_initialized()
        user_tokens = self._tokens
        tokens = None
        if user_tokens is not None and self._method == "user_pool":
            tokens = user_tokens.current()
        if tokens is not None and (global_sign_out or invalidate_tokens):
            try:
                if global_sign_out:
                    self._pool().global_sign_out(self._fresh_access_token(tokens))
                elif tokens.refresh_token:
                    self._pool().revoke_token(tokens.refresh_token)
            except AuthError as exc:
                logger.warning("Signed out locally; the server-side sign-out failed: %s", exc)
        self._end_session()

    def _fresh_access_token(self, tokens: Tokens) -> str:
        if tokens.expiration.timestamp() - self._clock() > self._min_validity:
            return tokens.access_token
        return self._user_tokens().cache.get().access_token

    def _end_session(self) -> None:
        with self._lock:
            self._session_generation += 1
            self._live_tokens = None
            self._method = None
            self._username = None
            self._federation = None
            if self._tokens is not None:
                self._tokens.keep(None)
        if self._identity is not None:
            self._identity.sign_out()
            if self._guest_access_known():
                self._identity.use_guest()
        self._sign_in.reset()
        self._persist()
        self._engine.fire("signed_out")

    # -- federated identities and AWS credentials --------------------------------------------

    def federated_sign_in(
        self,
        provider: IdentityProvider | str,
        token: str,
        *,
        identity_id: str | None = None,
        custom_role_arn: str | None = None,
    ) -> UserState:
        """Sign in to the identity pool with a token from ``provider`` (Google, SAML, OIDC...).

        Only AWS credentials and the identity id are available afterwards, not user-pool tokens.
        """
        name = provider.value if isinstance(provider, IdentityProvider) else provider
        _require_text("provider", name)
        _require_text("token", token)
        if name == IdentityProvider.DEVELOPER.value and not identity_id:
            raise InvalidParameterError(
                "A developer-authenticated login (cognito-identity.amazonaws.com) needs identity_id"
            )
        self._ensure_initialized()
        identity = self._identity_session()
        logins = {name: token}
        # Nothing is committed before the identity pool accepted the login: offline or refused,
        # the call raises and the previous session (state, tokens, identity) stays as it was.
        previous = identity.export()
        previous_logins = self._current_logins()
        identity.authenticate(
            lambda: logins, identity_id=identity_id, custom_role_arn=custom_role_arn
        )
        try:
            identity.prefetch()
        except BaseException:
            identity.restore(previous, previous_logins)
            raise
        with self._lock:
            self._session_generation += 1
            self._method = "federated"
            self._username = None
            self._live_tokens = None
            if self._tokens is not None:
                self._tokens.keep(None)
            self._federation = {
                "provider": name,
                "token": token,
                "identity_id": identity_id,
                "custom_role_arn": custom_role_arn,
            }
        self._persist()
        self._engine.fire("federated_signed_in", provider=name)
        return self.current_user_state

    def _current_logins(self) -> Callable[[], Mapping[str, str]] | None:
        """The logins of the current session, for putting the identity binding back."""
        if self._method == "user_pool":
            return self._user_pool_logins
        federation = self._federation
        if self._method == "federated" and federation is not None:
            logins = {federation["provider"]: federation["token"]}
            return lambda: logins
        return None

    def get_identity_id(self) -> str:
        """The Cognito identity id of the signed-in user or the guest."""
        self._ensure_initialized()
        identity = self._identity_session()
        state = self._engine.state
        if state == UserState.SIGNED_OUT:
            self._become_guest(identity)
        elif state == UserState.GUEST and identity.mode != "guest":
            identity.use_guest()
        try:
            return identity.get_identity_id()
        except NotAuthorizedError as exc:
            self._credentials_refused(exc)
            raise

    def get_aws_credentials(
        self, *, wait: bool = True, timeout: float | None = None
    ) -> AWSCredentials:
        """Temporary AWS credentials: the authenticated role when signed in, the
        unauthenticated role as a guest. Cached and refreshed like tokens."""
        self._ensure_initialized()
        identity = self._identity_session()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self._engine.state
            if state in _SIGNED_OUT_STATES:
                self._wait_for_sign_in(wait, deadline)
                continue
            if state == UserState.SIGNED_OUT:
                self._become_guest(identity)
                continue
            if state == UserState.GUEST and identity.mode != "guest":
                identity.use_guest()  # e.g. after a sign-out that used up the guest identity
            generation = self._session_generation
            try:
                return identity.get_credentials()
            except _REFUSALS as exc:
                if self._session_generation == generation:
                    self._credentials_refused(exc)
                # A new session (maybe signed in by a listener of the refusal) or a state that
                # waits for one: go round again. Otherwise the refusal is this session's answer.
                if self._session_generation == generation and (
                    self._engine.state not in _SIGNED_OUT_STATES
                ):
                    raise

    def _become_guest(self, identity: IdentitySession) -> None:
        """``SIGNED_OUT`` with an identity pool: try guest access (may raise
        GuestAccessNotAllowedError, leaving the state as it was)."""
        identity.use_guest()
        identity.get_credentials()
        # Signed in meanwhile: the caller's next round serves the user's credentials.
        with contextlib.suppress(IllegalTransitionError):
            self._engine.fire("guest_credentials_obtained")

    def _credentials_refused(self, exc: AuthError) -> None:
        """The identity pool refused the logins of a signed-in user."""
        if self._engine.state != UserState.SIGNED_IN:
            return
        if self._method == "federated":
            provider = (self._federation or {}).get("provider")
            logger.info("The identity pool refused the %s token (%s)", provider, exc.code)
            with contextlib.suppress(IllegalTransitionError):
                self._engine.fire("federated_token_refused", provider=provider)

    def boto3_session(self, *, region_name: str | None = None) -> boto3.Session:
        """A ``boto3.Session`` whose credentials come from this client and refresh themselves."""
        from fsm_auth.aws_session import make_boto3_session

        pool = self.config.identity_pool
        if pool is None:
            raise IdentityPoolNotConfiguredError("The configuration has no Cognito identity pool")
        # wait=False: botocore asks before every request; a request made while the user must
        # sign in again fails at once instead of blocking the caller's AWS call.
        return make_boto3_session(
            lambda: self.get_aws_credentials(wait=False),
            region_name=region_name or pool.region,
            clock=self._clock,
        )

    # -- persistence ---------------------------------------------------------------------------

    def _persist(self, tokens: Tokens | None = None) -> None:
        """Save the session document (under the store's cross-process lock)."""
        doc = self._session_document(tokens)
        try:
            with self._store.lock():
                self._store.save(doc)
        except AuthError as exc:
            logger.warning("Could not save the session: %s", exc)

    def _session_document(self, tokens: Tokens | None) -> dict[str, Any]:
        with self._lock:
            user_tokens = self._tokens if self._method == "user_pool" else None
            if tokens is None and user_tokens is not None:
                tokens = user_tokens.current()
            doc: dict[str, Any] = {
                "schema": SCHEMA,
                "method": self._method,
                "username": self._username,
                "federation": self._federation,
                "tokens": None,
                "jwks": None,
            }
            if tokens is not None and user_tokens is not None:
                doc.update(user_tokens.export(tokens))
            identity = self._identity
            doc["identity"] = identity.export() if identity is not None else None
        return doc

    def _restore(self) -> tuple[str, dict[str, Any]]:
        """Read the persisted session; return the initialization trigger and its data."""
        doc = self._store.load() or {}
        if doc.get("schema") not in (None, SCHEMA):
            logger.warning("Ignoring a saved session of unknown schema %r", doc.get("schema"))
            doc = {}
        identity_doc = doc.get("identity")
        if identity_doc and self.config.identity_pool is not None:
            self._identity_session().restore(identity_doc, None)
        method = doc.get("method")
        if method == "user_pool" and doc.get("tokens") and self.config.user_pool is not None:
            restored = self._restore_user_pool(doc)
            if restored is not None:
                return "restored_signed_in", {"username": restored.username}
        if method == "federated" and doc.get("federation") and self.config.identity_pool:
            federation = dict(doc["federation"])
            logins = {federation["provider"]: federation["token"]}
            with self._lock:
                self._method = "federated"
                self._federation = federation
            identity = self._identity_session()
            identity.restore(identity_doc or {}, lambda: logins)
            if identity.mode != "authenticated":
                identity.authenticate(
                    lambda: logins,
                    identity_id=federation.get("identity_id"),
                    custom_role_arn=federation.get("custom_role_arn"),
                )
            return "restored_signed_in", {"provider": federation["provider"]}
        if self._guest_access_known():
            return "restored_guest", {}
        return "restored_signed_out", {}

    def _restore_user_pool(self, doc: Mapping[str, Any]) -> Tokens | None:
        user_tokens = self._user_tokens()
        tokens = user_tokens.restore(doc)
        if tokens is None:
            return None
        with self._lock:
            self._method = "user_pool"
            self._username = tokens.username
            self._live_tokens = user_tokens.cache
        if self.config.identity_pool is not None:
            identity = self._identity_session()
            identity.restore(doc.get("identity") or {}, self._user_pool_logins)
            if identity.mode != "authenticated":
                identity.authenticate(self._user_pool_logins)
        return tokens


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(f"{name} must be a non-empty string")
