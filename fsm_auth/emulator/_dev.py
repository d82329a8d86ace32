"""``fsm-auth dev``: the emulator as a local development server."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TextIO

from ._provision import MfaMode
from ._records import SentCode
from ._server import Emulator

# What the banner says about each MFA setting of the pool.
_MFA_BANNER: dict[str, str] = {
    "OFF": "off",
    "OPTIONAL": "optional (TOTP, e-mail, or SMS to a user's phone_number)",
    "ON": "on (TOTP, e-mail, or SMS to a user's phone_number; set up at the first sign-in)",
}
# Choice-based sign-in (USER_AUTH): passwordless codes too, unless MFA is required (Cognito
# refuses passwordless first factors then).
_PASSWORDLESS = ("PASSWORD", "EMAIL_OTP", "SMS_OTP")
_PASSWORDLESS_BANNER = {
    True: "on (USER_AUTH: a one-time code by e-mail or SMS instead of the password)",
    False: "off (MFA is required, Cognito then refuses passwordless sign-in)",
}


def _print_code(out: TextIO, lock: threading.Lock) -> Callable[[SentCode], None]:
    def on_code(sent: SentCode) -> None:
        target = sent.destination or "(no address)"
        what = f"{sent.kind}:{sent.attribute}" if sent.attribute else sent.kind
        with lock:
            out.write(f"code {what} for {sent.username} -> {target}: {sent.code}\n")
            out.flush()

    return on_code


def run_dev(
    port: int = 0,
    config_out: Path | None = None,
    out: TextIO | None = None,
    *,
    mfa: MfaMode = "OFF",
) -> int:
    """Serve the emulator on loopback until interrupted; returns the exit status (0).

    Provisions a user pool (MFA ``mfa``: ``"OFF"``, ``"OPTIONAL"`` or ``"ON"``, with TOTP,
    e-mail and SMS; choice-based sign-in, passwordless e-mail and SMS codes included unless
    ``mfa`` is ``"ON"``), app client (set up for the hosted UI, served at the emulator's
    URL), identity pool and bucket, writes the ``awsconfiguration.json`` (with its OAuth
    section) to ``config_out`` (or prints it when ``None``), prints the endpoint, ids, the
    hosted UI's sign-in page and redirect URIs and the settings, then every code the service
    would have sent, as it is issued. An unknown ``mfa``, or a ``port`` outside 0 (any free
    port) to 65535, raises ``ValueError``.
    """
    # Checked here, not left to the socket: bind() raises OverflowError for a negative port
    # and the server silently wraps one above 65535 (70000 listened on 4464).
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535, not {port!r}")
    if mfa not in _MFA_BANNER:
        raise ValueError(f"mfa must be one of {', '.join(_MFA_BANNER)}, not {mfa!r}")
    stream = out if out is not None else sys.stdout
    lock = threading.Lock()
    on_code = _print_code(stream, lock)
    emulator = Emulator(port=port, on_code=on_code)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_signal)
    emulator.start()
    try:
        # Every MFA type: e-mail MFA codes are printed like the others (kind email_mfa), as
        # are passwordless codes (kinds email_otp, sms_otp).
        passwordless = mfa != "ON"
        pool = emulator.provision(
            mfa=mfa,
            hosted_ui=True,
            mfa_types=("SMS", "TOTP", "EMAIL"),
            first_factors=_PASSWORDLESS if passwordless else ("PASSWORD",),
        )
        config = json.dumps(pool.aws_configuration(), indent=2)
        with lock:
            stream.write(f"fsm-auth dev: local Cognito emulator at {emulator.url}\n")
            stream.write(f"  region            {pool.region}\n")
            stream.write(f"  user pool id      {pool.user_pool_id}\n")
            stream.write(f"  app client id     {pool.client_id}\n")
            stream.write(f"  identity pool id  {pool.identity_pool_id}\n")
            stream.write(f"  bucket            {pool.bucket}\n")
            stream.write(f"  mfa               {_MFA_BANNER[mfa]}\n")
            stream.write(f"  passwordless      {_PASSWORDLESS_BANNER[passwordless]}\n")
            stream.write(f"  hosted UI         {pool.authorize_url()}\n")
            stream.write(f"  sign-in redirect  {pool.redirect_uri}\n")
            stream.write(f"  sign-out redirect {pool.sign_out_uri}\n")
            stream.write("  not emulated      device tracking\n")
            if config_out is not None:
                config_out.write_text(config + "\n", encoding="utf-8")
                stream.write(f"  configuration     {config_out}\n")
            else:
                stream.write(config + "\n")
            stream.write("Codes sent by e-mail or SMS are printed below. Ctrl-C stops.\n")
            stream.flush()
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C while stopping must not turn a clean stop into a traceback.
        previous_int = None
        if threading.current_thread() is threading.main_thread():
            previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            emulator.stop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if previous_int is not None:
                signal.signal(signal.SIGINT, previous_int)
    with lock:
        stream.write("fsm-auth dev: stopped\n")
        stream.flush()
    return 0
