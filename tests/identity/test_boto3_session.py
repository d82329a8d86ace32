"""make_boto3_session on an AuthClient: S3 on the emulator across credential expiry and
identity switches."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import AuthClient, IdentityProvider, UserState
from fsm_auth.aws_session import make_boto3_session
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.errors import GuestAccessNotAllowedError

pytestmark = pytest.mark.timeout(60)

HOUR = 3600.0


def s3_client(session: Any, emulator: Emulator) -> tuple[Any, list[str]]:
    """An S3 client on the emulator, and the access key ids its requests were signed with."""
    s3 = session.client("s3", endpoint_url=emulator.url)
    used: list[str] = []

    def record(request: Any, **_: Any) -> None:
        header = request.headers.get("Authorization", b"")
        header = header.decode() if isinstance(header, bytes) else header
        match = re.search(r"Credential=([A-Z0-9]+)/", header)
        assert match is not None, "the request was not signed"
        used.append(match.group(1))

    s3.meta.events.register("before-send.s3", record)
    return s3, used


def test_s3_across_expiry_and_identity_switches(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    pool: Provisioned,
) -> None:
    client = make_client()
    assert client.initialize() is UserState.SIGNED_OUT  # guest access on the first AWS call
    boto = make_boto3_session(client.get_aws_credentials, region_name=pool.region, clock=clock)
    assert boto.region_name == pool.region
    s3, used = s3_client(boto, emulator)
    emulator.reset_requests()

    s3.put_object(Bucket=pool.bucket, Key="guest.txt", Body=b"hello")
    listed = s3.list_objects_v2(Bucket=pool.bucket)
    assert "guest.txt" in [o["Key"] for o in listed["Contents"]]
    assert client.current_user_state is UserState.GUEST
    guest_key = client.get_aws_credentials().access_key_id
    assert used == [guest_key, guest_key]
    assert emulator.count("GetCredentialsForIdentity") == 1

    # Past expiry: the next call gets new credentials, fetched once.
    clock.advance(HOUR + 60)
    s3.list_objects_v2(Bucket=pool.bucket)
    s3.get_object(Bucket=pool.bucket, Key="guest.txt")
    renewed = client.get_aws_credentials().access_key_id
    assert renewed != guest_key
    assert used[-2:] == [renewed, renewed]
    assert emulator.count("GetCredentialsForIdentity") == 2

    # A sign-in is followed at the very next request, long before botocore's own windows.
    client.federated_sign_in(IdentityProvider.GOOGLE, "google-token-of-ivan")
    s3.put_object(Bucket=pool.bucket, Key="user.txt", Body=b"mine")
    user_key = client.get_aws_credentials().access_key_id
    assert used[-1] == user_key != renewed

    # A client built later shares the same self-refreshing credentials.
    later, later_used = s3_client(boto, emulator)
    later.head_object(Bucket=pool.bucket, Key="user.txt")
    assert later_used == [user_key]

    # Signed out, and the pool refuses guests now: the AWS call raises the client's error.
    client.sign_out()
    assert client.current_user_state is UserState.GUEST  # guest access is known to be on
    emulator.faults.inject(
        Fault(
            operation="GetId",
            error=(
                "NotAuthorizedException",
                "Unauthenticated access is not supported for this identity pool.",
                400,
            ),
        )
    )
    with pytest.raises(GuestAccessNotAllowedError):
        s3.list_objects_v2(Bucket=pool.bucket)
    emulator.faults.clear()
    s3.list_objects_v2(Bucket=pool.bucket)
    assert used[-1] == client.get_aws_credentials().access_key_id != user_key
    assert client.current_user_state is UserState.GUEST


def test_session_uses_no_ambient_credentials(
    make_client: Callable[..., AuthClient],
    pool: Provisioned,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENT000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient-secret")
    client = make_client()
    client.initialize()
    boto = client.boto3_session()
    assert boto.region_name == pool.region
    credentials = boto.get_credentials()
    assert credentials.method == "fsm-auth"
    frozen = credentials.get_frozen_credentials()
    assert client.current_user_state is UserState.GUEST
    assert frozen.access_key == client.get_aws_credentials().access_key_id
    assert frozen.token == client.get_aws_credentials().session_token
