"""The emulator: moto's server application behind our fidelity layer, on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from . import _moto
from ._clock import bind_moto_clock
from ._codes import CodeBook
from ._faults import Faults
from ._hosted_ui import HostedUILayer
from ._jwks import JwksLayer
from ._keys import STOCK
from ._middleware import FidelityMiddleware
from ._provision import DEFAULT_FLOWS, MfaMode, Provisioned, admin_client, provision
from ._records import RequestRecord, SentCode
from ._tokens import TokenState
from ._userpool import UserPoolLayer
from ._web import HOSTED_UI


class _QuietHandler(MotoRequestHandler):
    """moto's request handler, silent, and tracking its connection so stop() can cut it."""

    def setup(self) -> None:
        super().setup()
        connections: set[socket.socket] | None = getattr(self.server, "fsm_connections", None)
        if connections is not None:
            connections.add(self.connection)

    def finish(self) -> None:
        connections: set[socket.socket] | None = getattr(self.server, "fsm_connections", None)
        if connections is not None:
            connections.discard(self.connection)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Emulator:
    """A local Cognito (user pools, identity pools, hosted UI) and S3, for tests, demos and
    development.

    ``port=0`` picks a free port on first start and keeps it across restarts; stopping and
    starting again keeps all state (tests stop it to simulate being offline).

    The hosted UI lives at :attr:`url` itself (every pool's "domain"; a request names its app
    client). Its requests are recorded and faulted as service ``"hosted-ui"`` with these
    operations: ``"oauth2/authorize"``, ``"login"`` (GET and POST), ``"oauth2/token"``,
    ``"oauth2/userInfo"``, ``"oauth2/revoke"``, ``"logout"``, ``"oauth2/idpresponse"`` and
    ``"error"``; e.g. ``faults.inject(Fault(operation="oauth2/token", status=500))``, or
    ``Fault(operation="oauth2/token", error=("invalid_grant", "...", 400))`` for an OAuth error
    document. Their records keep only non-secret parameters (no password, code, verifier,
    token or client secret).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        on_code: Callable[[SentCode], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.clock: Callable[[], float] = clock if clock is not None else time.time
        self.on_code = on_code
        self.faults = Faults()
        self._lock = threading.Lock()
        self._codes: list[SentCode] = []
        self._requests: list[RequestRecord] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._tokens = TokenState(self._now)
        self._code_book = CodeBook(self._now, self._record_code)
        self._userpool = UserPoolLayer(self._tokens, self._code_book)
        self._app = FidelityMiddleware(
            DomainDispatcherApplication(create_backend_app),
            self.faults,
            self._record_request,
            {"cognito-idp": self._userpool, "jwks": JwksLayer(self._tokens.patch_pools)},
            lambda: self.running,
        )
        self._hosted_ui = HostedUILayer(
            self._tokens, self._userpool.auth, self._code_book, self._app.lock, lambda: self.url
        )
        self._app.layers[HOSTED_UI] = self._hosted_ui
        self._identity: Any = None

    def _now(self) -> float:
        return self.clock()

    # ---- lifecycle ----
    def start(self) -> Emulator:
        """Serve on ``host:port`` in a background thread (no-op if already running)."""
        with self._lock:
            if self._server is not None:
                return self
            bind_moto_clock(self._now)
            _moto.cache_signing_key()
            _moto.patch_backend()
            STOCK.start()
            self._attach_identity_layer()
            server = make_server(
                self.host, self.port, self._app, threaded=True, request_handler=_QuietHandler
            )
            server.fsm_connections = self._connections  # type: ignore[attr-defined]
            self.port = int(server.server_address[1])
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fsm-auth-emulator:{self.port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
            return self

    def stop(self) -> None:
        """Stop serving and cut open connections; state and port are kept for a restart."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._connections.clear()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        return self._server is not None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://host:port`` (the port is known once started)."""
        return f"http://{self.host}:{self.port}"

    def _attach_identity_layer(self) -> None:
        try:
            from ._identity import IdentityLayer
        except ImportError:  # phase 2 not present: moto answers identity requests alone
            return
        if self._identity is None:
            self._identity = IdentityLayer(self._tokens)
            self._app.layers["cognito-identity"] = self._identity

    # ---- provisioning ----
    def provision(
        self,
        *,
        client_secret: bool = False,
        mfa: MfaMode = "OFF",
        allow_guest: bool = True,
        auth_flows: tuple[str, ...] = DEFAULT_FLOWS,
        access_token_minutes: int = 60,
        id_token_minutes: int = 60,
        refresh_token_days: int = 30,
        with_identity_pool: bool = True,
        bucket: str | None = "fsm-auth-demo",
        username_attributes: tuple[str, ...] = (),
        alias_attributes: tuple[str, ...] = (),
        hosted_ui: bool = False,
        device_tracking: str | None = None,
        challenge_required_on_new_device: bool = True,
        refresh_token_rotation: bool = False,
        refresh_grace_seconds: int = 60,
        mfa_types: tuple[str, ...] = ("SMS", "TOTP"),
        first_factors: tuple[str, ...] | None = None,
        custom_challenges: Sequence[Mapping[str, Any]] | None = None,
    ) -> Provisioned:
        """Create a user pool + app client (+ identity pool, + bucket); fast, in memory.

        ``username_attributes=("email",)``: users sign up and in with their e-mail and get a
        UUID user name; ``alias_attributes=("email",)``: users pick a user name and may also
        sign in with their verified e-mail (the two are exclusive, as in Cognito).
        ``hosted_ui=True``: the app client is set up for the hosted UI (authorization code
        flow, the standard scopes, ``COGNITO`` sign-in, a loopback callback and sign-out URL
        on a port free now: :attr:`Provisioned.redirect_uri`, :attr:`Provisioned.sign_out_uri`)
        and the configuration gets its OAuth section.
        ``device_tracking``: ``None`` (off), ``"always"`` (every confirmed device is
        remembered) or ``"user_opt_in"`` (remembered once the user says so: Cognito's
        ``DeviceOnlyRememberedOnUserPrompt``); ``challenge_required_on_new_device``: Cognito's
        ``ChallengeRequiredOnNewDevice``, which lets a remembered device sign in with device
        authentication instead of SMS/TOTP MFA.
        ``refresh_token_rotation``: the app client rotates refresh tokens (Cognito's
        ``RefreshTokenRotation``): ``GetTokensFromRefreshToken`` answers a new refresh token
        each time, the old one lasts ``refresh_grace_seconds`` more (0 to 60) and is then
        refused, and ``REFRESH_TOKEN_AUTH`` is refused on that client.
        ``mfa_types``: the MFA the pool offers when ``mfa`` is ``"ON"`` or ``"OPTIONAL"``,
        any of ``"SMS"``, ``"TOTP"`` and ``"EMAIL"`` (e-mail codes are recorded with kind
        ``"email_mfa"``).
        ``first_factors``: choice-based sign-in (``USER_AUTH``): the pool's
        ``Policies.SignInPolicy.AllowedFirstAuthFactors``, ``"PASSWORD"`` (required) and any
        of ``"EMAIL_OTP"`` and ``"SMS_OTP"`` (passwordless: an 8-digit code to the user's
        verified e-mail or phone, recorded with kind ``"email_otp"`` / ``"sms_otp"``; refused
        with ``mfa="ON"``), and the app client allows ``ALLOW_USER_AUTH``; with an OTP factor
        users may sign up without a password. ``None`` (the default): no choice-based
        sign-in. ``"WEB_AUTHN"`` (passkeys) is not emulated.
        ``custom_challenges``: the rounds of ``CUSTOM_AUTH`` (what its Lambda triggers would
        decide), in order, each ``{"parameters": {...}, "answer": "..." or None}``: the
        round's public ``ChallengeParameters`` (``USERNAME`` is added) and the ``ANSWER`` it
        expects (``None``: a code sent to the user's e-mail or phone, kind
        ``"custom_challenge"``); tokens after the last. ``None`` (the default): one such code
        round. ``AuthParameters`` ``CHALLENGE_NAME="SRP_A"`` puts SRP's ``PASSWORD_VERIFIER``
        first.
        The configuration points at :attr:`url`, so the port must be known: start first
        (or construct with a fixed port).
        """
        if self.port == 0:
            raise RuntimeError("start the emulator (or give it a port) before provisioning")
        with self._app.lock:
            return provision(
                self.url,
                lambda pool: _moto.patch_pool(
                    pool, self._now, self._tokens.refresh_issued, self._tokens.grants
                ),
                client_secret=client_secret,
                mfa=mfa,
                allow_guest=allow_guest,
                auth_flows=auth_flows,
                access_token_minutes=access_token_minutes,
                id_token_minutes=id_token_minutes,
                refresh_token_days=refresh_token_days,
                with_identity_pool=with_identity_pool,
                bucket=bucket,
                username_attributes=username_attributes,
                alias_attributes=alias_attributes,
                hosted_ui=hosted_ui,
                device_tracking=device_tracking,
                challenge_required_on_new_device=challenge_required_on_new_device,
                refresh_token_rotation=refresh_token_rotation,
                refresh_grace_seconds=refresh_grace_seconds,
                mfa_types=mfa_types,
                first_factors=first_factors,
                custom_challenges=custom_challenges,
            )

    def admin_client(self, service: str = "cognito-idp") -> Any:
        """A boto3 client for ``service`` pointed at the emulator, with dummy credentials."""
        return admin_client(self.url, service)

    # ---- what happened ----
    def _record_code(self, code: SentCode) -> None:
        with self._lock:
            self._codes.append(code)
        if self.on_code is not None:
            self.on_code(code)

    def _record_request(
        self, service: str, operation: str, status: int, params: Mapping[str, Any]
    ) -> None:
        with self._lock:
            self._requests.append(RequestRecord(service, operation, status, params))

    @property
    def codes(self) -> list[SentCode]:
        """Every code the emulator would have sent, oldest first."""
        with self._lock:
            return list(self._codes)

    def clear_codes(self) -> None:
        """Forget the recorded codes (issued codes stay valid)."""
        with self._lock:
            self._codes.clear()

    def last_code(self, username: str, kind: str | None = None) -> str:
        """The newest code sent to ``username`` (of ``kind``); KeyError if none was sent."""
        with self._lock:
            for sent in reversed(self._codes):
                if sent.username == username and (kind is None or sent.kind == kind):
                    return sent.code
            for sent in reversed(self._codes):
                # The user may be known by an alias (e-mail) or by their internal name.
                if sent.destination == username and (kind is None or sent.kind == kind):
                    return sent.code
        what = f"{kind} code" if kind else "code"
        raise KeyError(f"no {what} was sent to user {username!r}")

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered (faults included), oldest first."""
        with self._lock:
            return list(self._requests)

    def count(self, operation: str | None = None, service: str | None = None) -> int:
        """How many recorded requests match ``operation`` and ``service``."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (operation is None or r.operation == operation)
                and (service is None or r.service == service)
            )

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()
