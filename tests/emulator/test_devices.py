"""Remembered devices in the emulator, through plain boto3: NewDeviceMetadata, ConfirmDevice
with a real device SRP verifier (pycognito's helpers on the client side), DEVICE_SRP_AUTH and
DEVICE_PASSWORD_VERIFIER instead of MFA, the device API, and the refusal of a forgotten key."""

from __future__ import annotations

from typing import Any

import pytest
from pycognito.aws_srp import AWSSRP, generate_hash_device

from fsm_auth.emulator import Emulator, Provisioned

from .conftest import PASSWORD

PHONE = "+15555550123"


def _device_pool(emulator: Emulator, tracking: str | None = "always", **options: Any) -> Any:
    return emulator.provision(
        mfa="OPTIONAL",
        device_tracking=tracking,
        with_identity_pool=False,
        bucket=None,
        **options,
    )


@pytest.fixture
def sms_user(emulator: Emulator, sign_up_confirmed: Any) -> Any:
    """``sms_user(pool)``: a confirmed user ``mia`` with SMS MFA on."""

    def make(pool: Provisioned) -> str:
        sign_up_confirmed(pool, "mia", {"phone_number": PHONE})
        emulator.admin_client().admin_set_user_mfa_preference(
            UserPoolId=pool.user_pool_id,
            Username="mia",
            SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
        )
        return "mia"

    return make


def _with_sms(emulator: Emulator, idp: Any, pool: Provisioned, answer: dict[str, Any]) -> Any:
    assert answer["ChallengeName"] == "SMS_MFA"
    return idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="SMS_MFA",
        Session=answer["Session"],
        ChallengeResponses={"USERNAME": "mia", "SMS_MFA_CODE": emulator.last_code("mia")},
    )


def _confirm(idp: Any, result: dict[str, Any]) -> tuple[str, str, str, bool]:
    """ConfirmDevice for a sign-in's NewDeviceMetadata: (key, group, password, necessary)."""
    metadata = result["NewDeviceMetadata"]
    key, group = metadata["DeviceKey"], metadata["DeviceGroupKey"]
    password, verifier = generate_hash_device(group, key)
    answer = idp.confirm_device(
        AccessToken=result["AccessToken"],
        DeviceKey=key,
        DeviceSecretVerifierConfig=verifier,
        DeviceName="laptop",
    )
    return key, group, password, answer["UserConfirmationNecessary"]


def _srp(pool: Provisioned, key: str, group: str, password: str) -> AWSSRP:
    return AWSSRP(
        username="mia",
        password=PASSWORD,
        pool_id=pool.user_pool_id,
        client_id=pool.client_id,
        client=object(),
        device_key=key,
        device_group_key=group,
        device_password=password,
    )


def _srp_sign_in(idp: Any, pool: Provisioned, srp: AWSSRP) -> dict[str, Any]:
    """USER_SRP_AUTH with the device's key; the answer to PASSWORD_VERIFIER."""
    auth = srp.get_auth_params()
    first = idp.initiate_auth(
        ClientId=pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=auth
    )
    answer: dict[str, Any] = idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=srp.process_challenge(first["ChallengeParameters"], auth),
    )
    return answer


def _device_auth(idp: Any, pool: Provisioned, srp: AWSSRP, answer: dict[str, Any]) -> Any:
    """DEVICE_SRP_AUTH then DEVICE_PASSWORD_VERIFIER, answered with pycognito's helpers."""
    assert answer["ChallengeName"] == "DEVICE_SRP_AUTH"
    device = AWSSRP(
        username="mia",
        password=None,
        pool_id=pool.user_pool_id,
        client_id=pool.client_id,
        client=object(),
        device_key=srp.device_key,
        device_group_key=srp.device_group_key,
        device_password=srp.device_password,
    )
    verifier = idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="DEVICE_SRP_AUTH",
        Session=answer["Session"],
        ChallengeResponses={
            "USERNAME": "mia",
            "DEVICE_KEY": srp.device_key,
            "SRP_A": format(device.large_a_value, "x"),
        },
    )
    assert verifier["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    assert verifier["ChallengeParameters"]["DEVICE_KEY"] == srp.device_key
    return idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="DEVICE_PASSWORD_VERIFIER",
        Session=verifier["Session"],
        ChallengeResponses=device.process_device_challenge(verifier["ChallengeParameters"]),
    )


def test_a_remembered_device_replaces_mfa_with_device_srp(
    emulator: Emulator, idp: Any, password_sign_in: Any, sms_user: Any
) -> None:
    pool = _device_pool(emulator)
    sms_user(pool)
    first = _with_sms(emulator, idp, pool, password_sign_in(pool, "mia"))["AuthenticationResult"]
    assert first["NewDeviceMetadata"]["DeviceKey"].startswith(f"{pool.region}_")
    key, group, password, necessary = _confirm(idp, first)
    assert necessary is False  # "always": remembered on confirmation
    emulator.clear_codes()
    srp = _srp(pool, key, group, password)
    done = _device_auth(idp, pool, srp, _srp_sign_in(idp, pool, srp))
    assert "AccessToken" in done["AuthenticationResult"]
    assert "NewDeviceMetadata" not in done["AuthenticationResult"]
    assert emulator.codes == []  # no SMS was sent
    device = idp.get_device(AccessToken=done["AuthenticationResult"]["AccessToken"], DeviceKey=key)
    assert "DeviceLastAuthenticatedDate" in device["Device"]


def test_a_wrong_device_password_is_refused(
    emulator: Emulator, idp: Any, password_sign_in: Any, sms_user: Any
) -> None:
    pool = _device_pool(emulator)
    sms_user(pool)
    first = _with_sms(emulator, idp, pool, password_sign_in(pool, "mia"))["AuthenticationResult"]
    key, group, _password, _ = _confirm(idp, first)
    impostor = _srp(pool, key, group, "not-the-device-password")
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _device_auth(idp, pool, impostor, _srp_sign_in(idp, pool, impostor))


def test_user_opt_in_asks_mfa_until_the_device_is_remembered(
    emulator: Emulator, idp: Any, password_sign_in: Any, sms_user: Any
) -> None:
    pool = _device_pool(emulator, "user_opt_in")
    sms_user(pool)
    first = _with_sms(emulator, idp, pool, password_sign_in(pool, "mia"))["AuthenticationResult"]
    key, group, password, necessary = _confirm(idp, first)
    assert necessary is True
    srp = _srp(pool, key, group, password)
    again = _with_sms(emulator, idp, pool, _srp_sign_in(idp, pool, srp))["AuthenticationResult"]
    assert "NewDeviceMetadata" not in again  # a known device, just not remembered
    listed = idp.list_devices(AccessToken=again["AccessToken"])["Devices"]
    status = {a["Name"]: a["Value"] for a in listed[0]["DeviceAttributes"]}
    assert status["dev:device_remembered_status"] == "not_remembered"
    assert status["device_name"] == "laptop"
    idp.update_device_status(
        AccessToken=again["AccessToken"], DeviceKey=key, DeviceRememberedStatus="remembered"
    )
    done = _device_auth(idp, pool, srp, _srp_sign_in(idp, pool, srp))
    assert "AccessToken" in done["AuthenticationResult"]


def test_without_challenge_required_on_new_device_mfa_stays(
    emulator: Emulator, idp: Any, password_sign_in: Any, sms_user: Any
) -> None:
    pool = _device_pool(emulator, challenge_required_on_new_device=False)
    sms_user(pool)
    first = _with_sms(emulator, idp, pool, password_sign_in(pool, "mia"))["AuthenticationResult"]
    srp = _srp(pool, *_confirm(idp, first)[:3])
    assert _srp_sign_in(idp, pool, srp)["ChallengeName"] == "SMS_MFA"


def test_no_tracking_no_device_metadata(
    emulator: Emulator, idp: Any, password_sign_in: Any, sms_user: Any
) -> None:
    pool = _device_pool(emulator, None)
    sms_user(pool)
    result = _with_sms(emulator, idp, pool, password_sign_in(pool, "mia"))["AuthenticationResult"]
    assert "NewDeviceMetadata" not in result


def test_list_get_forget_and_the_forgotten_key_is_refused(
    emulator: Emulator, idp: Any, password_sign_in: Any, sms_user: Any
) -> None:
    pool = _device_pool(emulator)
    sms_user(pool)
    keys = []
    for _ in range(3):
        result = _with_sms(emulator, idp, pool, password_sign_in(pool, "mia"))
        keys.append(_confirm(idp, result["AuthenticationResult"])[:3])
    access = result["AuthenticationResult"]["AccessToken"]
    page = idp.list_devices(AccessToken=access, Limit=2)
    assert [d["DeviceKey"] for d in page["Devices"]] == [k[0] for k in keys[:2]]
    rest = idp.list_devices(AccessToken=access, Limit=2, PaginationToken=page["PaginationToken"])
    assert [d["DeviceKey"] for d in rest["Devices"]] == [keys[2][0]]
    assert "PaginationToken" not in rest
    idp.forget_device(AccessToken=access, DeviceKey=keys[0][0])
    with pytest.raises(idp.exceptions.ResourceNotFoundException, match="Device does not exist"):
        idp.get_device(AccessToken=access, DeviceKey=keys[0][0])
    # SRP reads the key with PASSWORD_VERIFIER; a password flow at InitiateAuth.
    with pytest.raises(idp.exceptions.ResourceNotFoundException, match="Device does not exist"):
        _srp_sign_in(idp, pool, _srp(pool, *keys[0]))
    with pytest.raises(idp.exceptions.ResourceNotFoundException, match="Device does not exist"):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "mia", "PASSWORD": PASSWORD, "DEVICE_KEY": keys[0][0]},
        )
    # An administrator forgets another one; its key is refused as well.
    admin = emulator.admin_client()
    admin.admin_forget_device(UserPoolId=pool.user_pool_id, Username="mia", DeviceKey=keys[1][0])
    listed = admin.admin_list_devices(UserPoolId=pool.user_pool_id, Username="mia")["Devices"]
    assert [d["DeviceKey"] for d in listed] == [keys[2][0]]
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        _srp_sign_in(idp, pool, _srp(pool, *keys[1]))


def test_another_users_device_key_is_refused(
    emulator: Emulator, idp: Any, password_sign_in: Any, sms_user: Any, sign_up_confirmed: Any
) -> None:
    pool = _device_pool(emulator)
    sms_user(pool)
    sign_up_confirmed(pool, "ben")
    result = password_sign_in(pool, "ben")["AuthenticationResult"]
    ben_key, group, password, _ = _confirm(idp, result)
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        _srp_sign_in(idp, pool, _srp(pool, ben_key, group, password))
