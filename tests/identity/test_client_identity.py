"""Identity pools through AuthClient: request counts, guest then user, boto3 sessions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import AuthClient, UnableToSignInError, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

pytestmark = pytest.mark.timeout(60)

PASSWORD = "Correct-Horse-9!"
HOUR = 3600.0


def cognito_requests(emulator: Emulator) -> list[str]:
    """The Cognito operations requested (user pool and identity pool), in order."""
    return [
        r.operation for r in emulator.requests if r.service in ("cognito-idp", "cognito-identity")
    ]


def register(client: AuthClient, emulator: Emulator, username: str) -> None:
    client.sign_up(username, PASSWORD, attributes={"email": f"{username}@example.com"})
    client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


def test_sign_in_request_counts(make_client: Callable[[], AuthClient], emulator: Emulator) -> None:
    client = make_client()
    client.initialize()
    register(client, emulator, "paula")
    emulator.reset_requests()
    client.sign_in("paula", PASSWORD)
    # SRP (2) + identity pool (GetId, GetCredentialsForIdentity): 4.
    assert cognito_requests(emulator) == [
        "InitiateAuth",
        "RespondToAuthChallenge",
        "GetId",
        "GetCredentialsForIdentity",
    ]
    emulator.reset_requests()
    for _ in range(50):
        client.get_aws_credentials()
        client.get_identity_id()
    assert emulator.requests == []  # cached: zero requests

    # A guest first: the identity id is known at sign-in, so 3.
    guest = make_client()
    guest.initialize()
    guest.get_aws_credentials()
    assert guest.current_user_state == UserState.GUEST
    guest_id = guest.get_identity_id()
    register(guest, emulator, "quentin")
    emulator.reset_requests()
    guest.sign_in("quentin", PASSWORD)
    assert cognito_requests(emulator) == [
        "InitiateAuth",
        "RespondToAuthChallenge",
        "GetCredentialsForIdentity",
    ]
    assert guest.get_identity_id() == guest_id  # the guest's identity followed the user


def test_boto3_session_follows_the_client(
    make_client: Callable[[], AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    pool: Provisioned,
) -> None:
    client = make_client()
    client.initialize()
    register(client, emulator, "rita")
    s3 = client.boto3_session().client("s3", endpoint_url=emulator.url)
    used: list[str] = []

    def record(request: Any, **_: Any) -> None:
        header = request.headers.get("Authorization", b"")
        header = header.decode() if isinstance(header, bytes) else header
        match = re.search(r"Credential=([A-Z0-9]+)/", header)
        assert match is not None
        used.append(match.group(1))

    s3.meta.events.register("before-send.s3", record)

    s3.put_object(Bucket=pool.bucket, Key="guest.txt", Body=b"guest")  # signedOut: guest access
    assert client.current_user_state == UserState.GUEST
    assert used[-1] == client.get_aws_credentials().access_key_id

    client.sign_in("rita", PASSWORD)
    s3.put_object(Bucket=pool.bucket, Key="rita.txt", Body=b"rita")
    user_key = client.get_aws_credentials().access_key_id
    assert used[-1] == user_key != used[0]

    clock.advance(HOUR + 60)  # past the credentials' expiry (and the tokens')
    assert s3.get_object(Bucket=pool.bucket, Key="rita.txt")["Body"].read() == b"rita"
    assert used[-1] == client.get_aws_credentials().access_key_id != user_key

    client.sign_out()
    s3.list_objects_v2(Bucket=pool.bucket)
    assert client.current_user_state in (UserState.GUEST, UserState.SIGNED_OUT)
    assert used[-1] == client.get_aws_credentials().access_key_id
    assert client.current_user_state == UserState.GUEST


def test_a_refresh_refused_while_fetching_credentials_asks_for_a_sign_in(
    make_client: Callable[[], AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    pool: Provisioned,
) -> None:
    # The seed: "If the refresh tokens have expired and you try to make a call to an AWS
    # resource ... AWSMobileClient will dispatch a state notification that authentication is
    # required", and getAWSCredentials waits for the sign-in.
    client = make_client()
    client.initialize()
    register(client, emulator, "sam")
    client.sign_in("sam", PASSWORD)
    client.get_aws_credentials()
    seen: list[tuple[UserState, dict[str, str]]] = []
    client.add_user_state_listener(lambda state, info: seen.append((state, dict(info))))
    emulator.admin_client().admin_user_global_sign_out(UserPoolId=pool.user_pool_id, Username="sam")
    clock.advance(3700)  # tokens and credentials expired; the refresh token was revoked

    with pytest.raises(UnableToSignInError):
        client.get_aws_credentials(wait=False)
    assert client.current_user_state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID
    assert seen == [(UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID, {"username": "sam"})]
    with pytest.raises(UnableToSignInError):
        client.get_aws_credentials(timeout=0.2)

    client.sign_in("sam", PASSWORD)
    assert client.get_aws_credentials().expiration.timestamp() > clock() + 3000
