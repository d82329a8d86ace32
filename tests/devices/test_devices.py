"""Remembered devices through AuthClient against the emulator: the lifecycle across a restart
(MFA, then device SRP instead of MFA, then MFA again once forgotten), the user_opt_in pool,
list_devices, forgetting another device, and the recovery of a device forgotten elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import (
    AuthClient,
    Device,
    InvalidParameterError,
    NotSignedInError,
    ResourceNotFoundError,
    SignInState,
)
from fsm_auth.emulator import Emulator, Provisioned

from .conftest import PASSWORD, device_pool, sign_in_with_sms, sign_in_without_mfa

DEVICE_CHALLENGES = ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER")


def _sign_in_requests(emulator: Emulator) -> list[str]:
    """The user-pool requests since the last reset, as ``Operation`` or
    ``RespondToAuthChallenge:CHALLENGE``."""
    names = []
    for record in emulator.requests:
        if record.service != "cognito-idp":
            continue
        challenge = record.params.get("ChallengeName")
        names.append(f"{record.operation}:{challenge}" if challenge else record.operation)
    return names


def test_device_lifecycle_across_a_restart(
    emulator: Emulator, pool: Provisioned, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    sms_user(pool)
    first = device_client(pool)
    emulator.reset_requests()
    sign_in_with_sms(first, emulator)  # a new device: MFA, then the device is confirmed
    assert emulator.count("ConfirmDevice") == 1
    assert emulator.count("UpdateDeviceStatus") == 0  # "always": remembered on confirmation
    [device] = first.list_devices()
    assert isinstance(device, Device)
    assert device.remembered is True
    assert device.last_authenticated is not None
    assert first.sign_out().complete  # a device is not a session: it stays
    first.close()

    # Restart: a new client on the same directory is the same device.
    second = device_client(pool)
    emulator.clear_codes()
    emulator.reset_requests()
    assert sign_in_without_mfa(second).state is SignInState.DONE  # 0 MFA prompts
    requests = _sign_in_requests(emulator)
    assert requests == [
        "InitiateAuth",
        "RespondToAuthChallenge:PASSWORD_VERIFIER",
        "RespondToAuthChallenge:DEVICE_SRP_AUTH",
        "RespondToAuthChallenge:DEVICE_PASSWORD_VERIFIER",
    ]
    assert sum(r.split(":")[-1] in DEVICE_CHALLENGES for r in requests) == 2
    assert emulator.codes == []  # no SMS was sent
    assert [d.key for d in second.list_devices()] == [device.key]

    # Forgotten on both sides: the next sign-in is a new device's, and asks MFA again.
    second.forget_device()
    assert emulator.count("ForgetDevice") == 1
    assert second.list_devices() == []
    second.sign_out()
    emulator.reset_requests()
    sign_in_with_sms(second, emulator)
    assert not any(r.endswith(DEVICE_CHALLENGES) for r in _sign_in_requests(emulator))
    [renewed] = second.list_devices()
    assert renewed.key != device.key


def test_password_flow_presents_the_device_too(
    emulator: Emulator, pool: Provisioned, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    sms_user(pool)
    client = device_client(pool, flow="USER_PASSWORD_AUTH")
    sign_in_with_sms(client, emulator)
    client.sign_out()
    emulator.reset_requests()
    sign_in_without_mfa(client)
    initiate = next(r for r in emulator.requests if r.operation == "InitiateAuth")
    assert initiate.params["AuthParameters"]["DEVICE_KEY"] == client.list_devices()[0].key
    assert emulator.count("RespondToAuthChallenge") == 2  # the two device challenges


def test_user_opt_in_remembers_on_remember_device(
    emulator: Emulator, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    pool = device_pool(emulator, "user_opt_in")
    sms_user(pool)
    client = device_client(pool)
    emulator.reset_requests()
    sign_in_with_sms(client, emulator)
    [device] = client.list_devices()
    assert device.remembered is False
    client.sign_out()
    sign_in_with_sms(client, emulator)  # confirmed, not remembered: MFA still asked
    client.remember_device()
    assert emulator.count("UpdateDeviceStatus") == 1
    assert client.list_devices()[0].remembered is True
    client.sign_out()
    client.close()
    restarted = device_client(pool)
    sign_in_without_mfa(restarted)


def test_forget_another_device_by_key_and_it_recovers_as_a_new_device(
    emulator: Emulator, pool: Provisioned, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    sms_user(pool)
    laptop = device_client(pool, "laptop")
    sign_in_with_sms(laptop, emulator)
    [own] = laptop.list_devices()
    phone = device_client(pool, "phone")
    sign_in_with_sms(phone, emulator)
    [other] = [d for d in laptop.list_devices() if d.key != own.key]
    laptop.forget_device(other.key)
    assert [d.key for d in laptop.list_devices()] == [own.key]
    assert laptop.is_signed_in  # forgetting another device changes nothing here
    # The phone's saved device is refused at its next sign-in: dropped, and the sign-in goes
    # on as a new device's (MFA, a new device confirmed), never failing for it.
    phone.sign_out()
    emulator.reset_requests()
    sign_in_with_sms(phone, emulator)
    refused = [r for r in emulator.requests if r.status == 400]
    assert [(r.operation, r.params.get("ChallengeName")) for r in refused] == [
        ("RespondToAuthChallenge", "PASSWORD_VERIFIER")
    ]
    assert len(laptop.list_devices()) == 2
    phone.sign_out()
    sign_in_without_mfa(phone)  # the new device is remembered


def test_a_device_forgotten_by_an_administrator_recovers(
    emulator: Emulator, pool: Provisioned, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    sms_user(pool)
    client = device_client(pool, flow="USER_PASSWORD_AUTH")
    sign_in_with_sms(client, emulator)
    [device] = client.list_devices()
    client.sign_out()
    emulator.admin_client().admin_forget_device(
        UserPoolId=pool.user_pool_id, Username="mia", DeviceKey=device.key
    )
    emulator.reset_requests()
    sign_in_with_sms(client, emulator)  # refused at InitiateAuth, then a new device
    assert [(r.operation, r.status) for r in emulator.requests][:2] == [
        ("InitiateAuth", 400),
        ("InitiateAuth", 200),
    ]
    [renewed] = client.list_devices()
    assert renewed.key != device.key


def test_forget_device_of_an_unknown_key_is_refused_and_keeps_this_device(
    emulator: Emulator, pool: Provisioned, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    sms_user(pool)
    client = device_client(pool)
    sign_in_with_sms(client, emulator)
    with pytest.raises(ResourceNotFoundError):
        client.forget_device(f"{pool.region}_00000000-0000-0000-0000-000000000000")
    client.sign_out()
    sign_in_without_mfa(client)


def test_device_calls_need_a_signed_in_user(
    emulator: Emulator, pool: Provisioned, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    client = device_client(pool)
    with pytest.raises(NotSignedInError):
        client.list_devices()
    with pytest.raises(NotSignedInError):
        client.remember_device()
    with pytest.raises(InvalidParameterError):
        client.list_devices(limit=0)


def test_without_device_tracking_nothing_is_confirmed(
    emulator: Emulator, make_client: Callable[..., AuthClient]
) -> None:
    pool = emulator.provision(with_identity_pool=False, bucket=None)
    client = make_client(pool.aws_configuration(), identity_pool=False)
    client.sign_up("ada", PASSWORD, attributes={"email": "ada@example.com"})
    client.confirm_sign_up("ada", emulator.last_code("ada", "sign_up"))
    emulator.reset_requests()
    sign_in_without_mfa(client, "ada")
    assert emulator.count("ConfirmDevice") == 0
    assert client.list_devices() == []
    client.forget_device()  # no device here: nothing to do
    with pytest.raises(InvalidParameterError):
        client.remember_device()


def test_list_devices_pages_through_the_service(
    emulator: Emulator, pool: Provisioned, device_client: Callable[..., AuthClient], sms_user: Any
) -> None:
    sms_user(pool)
    clients = [device_client(pool, f"device-{i}") for i in range(3)]
    for client in clients:
        sign_in_with_sms(client, emulator)
    assert len(clients[0].list_devices()) == 3
    assert len(clients[0].list_devices(limit=2)) == 2


@pytest.mark.parametrize("flow", ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"])
def test_an_app_client_with_a_secret_signs_in_with_its_device(
    emulator: Emulator, device_client: Callable[..., AuthClient], sms_user: Any, flow: str
) -> None:
    # Every device answer carries the SECRET_HASH, for the service's name of the user.
    pool = device_pool(emulator, client_secret=True)
    sms_user(pool)
    client = device_client(pool, flow=flow)
    sign_in_with_sms(client, emulator)
    client.sign_out()
    emulator.reset_requests()
    sign_in_without_mfa(client)
    assert emulator.count("RespondToAuthChallenge") == (3 if flow == "USER_SRP_AUTH" else 2)


def test_totp_mfa_is_skipped_on_a_remembered_device(
    emulator: Emulator,
    pool: Provisioned,
    device_client: Callable[..., AuthClient],
    make_client: Callable[..., AuthClient],
) -> None:
    import pyotp

    from fsm_auth.emulator import FakeClock

    admin = emulator.admin_client()
    setup = make_client(pool.aws_configuration(), identity_pool=False)
    setup.sign_up("tom", PASSWORD, attributes={"email": "tom@example.com"})
    setup.confirm_sign_up("tom", emulator.last_code("tom", "sign_up"))
    setup.sign_in("tom", PASSWORD)  # a device of its own (in memory), not the one below
    access = setup.get_tokens().access_token
    secret = admin.associate_software_token(AccessToken=access)["SecretCode"]
    clock = emulator.clock
    assert isinstance(clock, FakeClock)
    admin.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).at(clock.now))
    admin.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    client = device_client(pool)
    result = client.sign_in("tom", PASSWORD)
    assert result.state is SignInState.SOFTWARE_TOKEN_MFA
    client.confirm_sign_in(pyotp.TOTP(secret).at(clock.now))
    client.sign_out()
    client.close()
    sign_in_without_mfa(device_client(pool), "tom")
