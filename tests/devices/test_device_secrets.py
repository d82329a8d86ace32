"""A device's key, group key and password never reach a log line, a repr, an exception text or
a plaintext file of the storage directory; the device part survives sign-out in the saved
(encrypted) document."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, FileSessionStore, ResourceNotFoundError
from fsm_auth.emulator import Emulator, Provisioned

from .conftest import sign_in_with_sms, sign_in_without_mfa


def _secrets(client: AuthClient) -> list[str]:
    """The saved device's key, group key and password (read from the record: the test's
    only look inside)."""
    record = client._session.record
    [device] = record.devices.values()
    return [device.key, device.group_key, device.password]


def test_device_secrets_stay_out_of_logs_reprs_errors_and_files(
    emulator: Emulator,
    pool: Provisioned,
    device_client: Callable[..., AuthClient],
    sms_user: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sms_user(pool)
    client = device_client(pool)
    sign_in_with_sms(client, emulator)
    secrets = _secrets(client)
    client.sign_out()
    sign_in_without_mfa(client)
    shown = [
        repr(client),
        repr(client._session.record),
        repr(client.list_devices()),
        repr(list(client._session.record.devices.values())),
    ]
    # A refused forget: the error names no key (neither the one asked nor this device's).
    other = f"{pool.region}_11111111-2222-3333-4444-555555555555"
    with pytest.raises(ResourceNotFoundError) as refused:
        client.forget_device(other)
    shown += [str(refused.value), repr(refused.value)]
    # A device forgotten by an administrator: the recovery logs, but no key.
    client.sign_out()
    with caplog.at_level(logging.WARNING):  # the test's own boto3 client logs what it sends
        emulator.admin_client().admin_forget_device(
            UserPoolId=pool.user_pool_id, Username="mia", DeviceKey=secrets[0]
        )
    sign_in_with_sms(client, emulator)
    secrets += _secrets(client)
    shown.append(caplog.text)
    assert "no longer knows this device" in caplog.text
    for text in shown:
        for secret in secrets:
            assert secret not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, path.name


def test_the_device_survives_sign_out_in_the_saved_document(
    emulator: Emulator,
    pool: Provisioned,
    device_client: Callable[..., AuthClient],
    sms_user: Any,
    tmp_path: Path,
) -> None:
    sms_user(pool)
    client = device_client(pool)
    sign_in_with_sms(client, emulator)
    key = client.list_devices()[0].key
    client.sign_out()
    client.close()
    store = FileSessionStore(tmp_path / "laptop")
    # What a restart reads: the signed-out document, with the device and no user.
    restarted = device_client(pool)
    restarted.initialize()
    assert restarted.username is None
    assert restarted._session.record.device_of("mia") is not None
    assert restarted._session.record.device_of("mia").key == key  # type: ignore[union-attr]
    del store
