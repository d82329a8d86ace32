"""No secret at rest or in logs: files under storage_dir, DEBUG records of every client-side
logger, reprs and error texts, after a full flow."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import (
    AuthError,
    NetworkError,
    NotAuthorizedError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault

from .conftest import (
    PASSWORD,
    SERVER_LOGGERS,
    MakeClient,
    file_mode,
    file_store,
    register,
)

pytestmark = pytest.mark.timeout(60)

HOUR = 3600.0
NEW_PASSWORD = "Brand-New-Horse-4!"


def _needles(secrets: dict[str, str]) -> dict[str, str]:
    """Each secret, plus the signature part of each JWT (a log that cut a token short would
    still show it)."""
    found = dict(secrets)
    for name, value in secrets.items():
        parts = value.split(".")
        if len(parts) == 3 and len(parts[2]) >= 32:
            found[f"{name} (signature)"] = parts[2]
    return found


def _leaks(text: str, needles: dict[str, str]) -> list[str]:
    return [name for name, value in needles.items() if value and value in text]


def _record_text(record: logging.LogRecord, handler: logging.Handler) -> str:
    # The formatted line (message, args, exception and stack) plus the raw args.
    return "\n".join((handler.format(record), repr(record.args), repr(record.msg)))


def test_no_secret_in_files_logs_or_reprs(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    storage_dir: Path,
    aws_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger, botocore's included
    secrets: dict[str, str] = {"password": PASSWORD, "new password": NEW_PASSWORD}
    errors: list[AuthError] = []

    client = make_client()
    client.initialize()
    register(client, emulator, "mallory")
    try:
        client.sign_in("mallory", PASSWORD + "x")
    except NotAuthorizedError as exc:
        errors.append(exc)
    client.sign_in("mallory", PASSWORD)
    first = client.get_tokens()
    credentials = client.get_aws_credentials()
    secrets |= {
        "id token": first.id_token,
        "access token": first.access_token,
        "refresh token": first.refresh_token or "",
        "secret access key": credentials.secret_access_key,
        "session token": credentials.session_token,
    }
    client.get_user_attributes()

    # A refresh, one that fails offline, and one the service answers with a 500 first.
    clock.advance(HOUR + 60)
    emulator.stop()
    try:
        client.get_tokens()
    except NetworkError as exc:
        errors.append(exc)
    emulator.start()
    emulator.faults.inject(Fault(operation="InitiateAuth", status=500, times=1))
    second = client.get_tokens()
    fresh_credentials = client.get_aws_credentials()
    secrets |= {
        "refreshed id token": second.id_token,
        "refreshed access token": second.access_token,
        "refreshed secret access key": fresh_credentials.secret_access_key,
        "refreshed session token": fresh_credentials.session_token,
    }
    client.change_password(PASSWORD, NEW_PASSWORD)
    try:
        client.change_password(PASSWORD, NEW_PASSWORD)  # the old one no longer works
    except NotAuthorizedError as exc:
        errors.append(exc)
    store = file_store(storage_dir, aws_config)
    reprs = [
        repr(client),
        str(client),
        repr(first),
        str(first),
        repr(second),
        repr(credentials),
        str(credentials),
        repr(store),
        repr(store.load()["schema"]),  # type: ignore[index]
    ]

    # A restart (restores, then signs out with a server-side revocation).
    client.close()
    restored = make_client()
    assert restored.initialize() == UserState.SIGNED_IN
    reprs.append(repr(restored))
    restored.sign_out()
    restored.close()

    needles = _needles(secrets)
    assert all(needles.values())
    assert errors
    assert all(isinstance(e, AuthError) for e in errors)

    # Files: owner-only, and no secret in plaintext (nor in the key file, the lock...).
    assert stat.S_IMODE(os.stat(storage_dir).st_mode) == 0o700
    files = [p for p in storage_dir.rglob("*") if p.is_file()]
    assert "key" in {p.name for p in files}
    assert [p for p in files if p.name.startswith("session.") and p.name.endswith(".bin")]
    for path in files:
        assert file_mode(path) == 0o600, path
        data = path.read_bytes()
        for name, value in needles.items():
            assert value.encode() not in data, f"{name} in {path.name}"

    # Log records of every client-side logger, DEBUG included.
    handler = caplog.handler
    client_records = [r for r in caplog.records if not r.name.startswith(SERVER_LOGGERS)]
    assert any(r.name.startswith("fsm_auth") for r in client_records)
    leaked = sorted(
        {
            f"{r.name} ({r.levelname}): {', '.join(_leaks(_record_text(r, handler), needles))}"
            for r in client_records
            if _leaks(_record_text(r, handler), needles)
        }
    )
    assert not leaked, "secrets in log records:\n" + "\n".join(leaked)

    # Reprs and error texts.
    for text in reprs + [repr(e) for e in errors] + [str(e) for e in errors]:
        assert _leaks(text, needles) == [], text


def test_fsm_auth_debug_logs_carry_no_secret(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The library's own loggers alone (``fsm_auth.*``), at DEBUG, through a refresh."""
    caplog.set_level(logging.DEBUG, logger="fsm_auth")
    client = make_client()
    client.initialize()
    register(client, emulator, "nina")
    client.sign_in("nina", PASSWORD)
    tokens = client.get_tokens()
    credentials = client.get_aws_credentials()
    clock.advance(HOUR + 60)
    refreshed = client.get_tokens()
    client.sign_out()
    needles = _needles(
        {
            "password": PASSWORD,
            "id token": tokens.id_token,
            "access token": tokens.access_token,
            "refresh token": tokens.refresh_token or "",
            "refreshed access token": refreshed.access_token,
            "secret access key": credentials.secret_access_key,
            "session token": credentials.session_token,
        }
    )
    records = [
        r
        for r in caplog.records
        if r.name.startswith("fsm_auth") and not r.name.startswith(SERVER_LOGGERS)
    ]
    assert records
    for record in records:
        assert _leaks(_record_text(record, caplog.handler), needles) == [], record.name
