"""A remembered device with choice-based sign-in: a device the pool forgot meanwhile is
refused at InitiateAuth, before the user is asked anything, so the client drops it and signs
in as a new device whatever factor the user then picks (found by the whole-client stateful
test: the refusal used to come after SELECT_CHALLENGE's answer, and the sign-in failed)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from auth_testkit import SIGN_IN_WAYS, sign_in_by

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator

from .conftest import FIRST_FACTORS, PASSWORD, otp_user

USER_AUTH_WAYS = [way for way in SIGN_IN_WAYS if way[0] == "USER_AUTH"]


@pytest.mark.parametrize(("flow", "factor"), USER_AUTH_WAYS, ids=lambda v: str(v))
def test_a_device_forgotten_elsewhere_never_fails_the_sign_in(
    flow: str, factor: str, make_client: Callable[..., AuthClient], emulator: Emulator
) -> None:
    pool = emulator.provision(first_factors=FIRST_FACTORS, device_tracking="always")
    client = make_client(pool.aws_configuration())
    user = otp_user(emulator, pool, "ann")
    sign_in_by(client, emulator, user, PASSWORD, "USER_SRP_AUTH", None)
    admin = emulator.admin_client()
    (device,) = admin.admin_list_devices(UserPoolId=pool.user_pool_id, Username=user)["Devices"]
    client.sign_out()
    admin.admin_forget_device(
        UserPoolId=pool.user_pool_id, Username=user, DeviceKey=device["DeviceKey"]
    )

    assert sign_in_by(client, emulator, user, PASSWORD, flow, factor)[-1] == "DONE"
    listed = admin.admin_list_devices(UserPoolId=pool.user_pool_id, Username=user)["Devices"]
    assert [d["DeviceKey"] for d in listed] != [device["DeviceKey"]]
    assert len(listed) == 1  # this device again, under a new key
