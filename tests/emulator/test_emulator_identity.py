"""Identity pools: unique hour-long credentials, guest policy, one identity per login, merges."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
import jwt
import pytest

from fsm_auth.emulator import Emulator, FakeClock, Provisioned


def _provider(pool: Provisioned) -> str:
    return f"cognito-idp.{pool.region}.amazonaws.com/{pool.user_pool_id}"


def test_guest_credentials_unique_and_live_an_hour(
    identity: Any, pool: Provisioned, clock: FakeClock
) -> None:
    clock.advance(500)
    identity_id = identity.get_id(IdentityPoolId=pool.identity_pool_id)["IdentityId"]
    first = identity.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    second = identity.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    assert first["AccessKeyId"] != second["AccessKeyId"]
    assert first["SecretKey"] != second["SecretKey"]
    assert first["SessionToken"] != second["SessionToken"]
    assert first["AccessKeyId"].startswith("ASIA")
    assert len(first["AccessKeyId"]) == 20
    expected = datetime.fromtimestamp(clock.now + 3600, tz=timezone.utc)
    assert abs((first["Expiration"] - expected).total_seconds()) <= 1


def test_guest_access_refused_when_pool_disallows_it(
    emulator: Emulator, identity: Any, tokens: dict[str, Any], pool: Provisioned
) -> None:
    closed = emulator.provision(allow_guest=False, bucket=None)
    with pytest.raises(identity.exceptions.NotAuthorizedException, match="Unauthenticated access"):
        identity.get_id(IdentityPoolId=closed.identity_pool_id)


def test_unauthenticated_identity_refused_after_pool_closes(
    emulator: Emulator, identity: Any, pool: Provisioned
) -> None:
    identity_id = identity.get_id(IdentityPoolId=pool.identity_pool_id)["IdentityId"]
    emulator.admin_client("cognito-identity").update_identity_pool(
        IdentityPoolId=pool.identity_pool_id,
        IdentityPoolName="closed",
        AllowUnauthenticatedIdentities=False,
    )
    with pytest.raises(identity.exceptions.NotAuthorizedException, match="Unauthenticated access"):
        identity.get_credentials_for_identity(IdentityId=identity_id)


def test_same_login_same_identity(
    identity: Any, pool: Provisioned, tokens: dict[str, Any], password_sign_in: Any, user: str
) -> None:
    logins = {_provider(pool): tokens["IdToken"]}
    first = identity.get_id(IdentityPoolId=pool.identity_pool_id, Logins=logins)["IdentityId"]
    again = password_sign_in(pool, user)["AuthenticationResult"]["IdToken"]
    second = identity.get_id(IdentityPoolId=pool.identity_pool_id, Logins={_provider(pool): again})[
        "IdentityId"
    ]
    assert first == second
    answer = identity.get_credentials_for_identity(IdentityId=first, Logins=logins)
    assert answer["IdentityId"] == first
    with pytest.raises(identity.exceptions.NotAuthorizedException, match="Logins don't match"):
        identity.get_credentials_for_identity(IdentityId=first)


def test_guest_identity_linked_then_merged(
    emulator: Emulator,
    identity: Any,
    pool: Provisioned,
    tokens: dict[str, Any],
    sign_up_confirmed: Any,
    password_sign_in: Any,
) -> None:
    provider = _provider(pool)
    guest = identity.get_id(IdentityPoolId=pool.identity_pool_id)["IdentityId"]
    linked = identity.get_credentials_for_identity(
        IdentityId=guest, Logins={provider: tokens["IdToken"]}
    )
    assert linked["IdentityId"] == guest  # the login had no identity: the guest one is kept
    other_guest = identity.get_id(IdentityPoolId=pool.identity_pool_id)["IdentityId"]
    merged = identity.get_credentials_for_identity(
        IdentityId=other_guest, Logins={provider: tokens["IdToken"]}
    )
    assert merged["IdentityId"] == guest  # the login's identity wins


def test_expired_or_forged_cognito_id_token_refused(
    identity: Any, pool: Provisioned, tokens: dict[str, Any], clock: FakeClock
) -> None:
    provider = _provider(pool)
    header, payload, signature = tokens["IdToken"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    with pytest.raises(identity.exceptions.NotAuthorizedException, match="Invalid login token"):
        identity.get_id(IdentityPoolId=pool.identity_pool_id, Logins={provider: forged})
    other_pool_provider = f"cognito-idp.{pool.region}.amazonaws.com/us-east-1_other"
    with pytest.raises(identity.exceptions.NotAuthorizedException):
        identity.get_id(
            IdentityPoolId=pool.identity_pool_id, Logins={other_pool_provider: tokens["IdToken"]}
        )
    clock.advance(3601)
    with pytest.raises(identity.exceptions.NotAuthorizedException, match="Token expired"):
        identity.get_id(IdentityPoolId=pool.identity_pool_id, Logins={provider: tokens["IdToken"]})


def test_other_provider_subject_from_jwt_or_token(identity: Any, pool: Provisioned) -> None:
    google_a = jwt.encode({"sub": "g-123", "n": 1}, "k" * 32, algorithm="HS256")
    google_b = jwt.encode({"sub": "g-123", "n": 2}, "k" * 32, algorithm="HS256")
    ids = {
        identity.get_id(
            IdentityPoolId=pool.identity_pool_id, Logins={"accounts.google.com": token}
        )["IdentityId"]
        for token in (google_a, google_b)
    }
    assert len(ids) == 1
    facebook = identity.get_id(
        IdentityPoolId=pool.identity_pool_id, Logins={"graph.facebook.com": "opaque-fb-token"}
    )["IdentityId"]
    assert facebook not in ids


def test_developer_authenticated_identity(
    emulator: Emulator, identity: Any, pool: Provisioned, clock: FakeClock
) -> None:
    admin = emulator.admin_client("cognito-identity")
    answer = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool.identity_pool_id, Logins={"login.fsm-auth.dev": "user-42"}
    )
    again = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool.identity_pool_id, Logins={"login.fsm-auth.dev": "user-42"}
    )
    assert again["IdentityId"] == answer["IdentityId"]
    credentials = identity.get_credentials_for_identity(
        IdentityId=answer["IdentityId"], Logins={"cognito-identity.amazonaws.com": answer["Token"]}
    )
    assert credentials["IdentityId"] == answer["IdentityId"]
    clock.advance(901)
    with pytest.raises(identity.exceptions.NotAuthorizedException, match="expired"):
        identity.get_credentials_for_identity(
            IdentityId=answer["IdentityId"],
            Logins={"cognito-identity.amazonaws.com": answer["Token"]},
        )


def test_s3_with_issued_credentials(emulator: Emulator, identity: Any, pool: Provisioned) -> None:
    identity_id = identity.get_id(IdentityPoolId=pool.identity_pool_id)["IdentityId"]
    creds = identity.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    s3 = boto3.client(
        "s3",
        region_name=pool.region,
        endpoint_url=emulator.url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretKey"],
        aws_session_token=creds["SessionToken"],
    )
    key = f"guest/{identity_id}.txt"
    s3.put_object(Bucket=pool.bucket, Key=key, Body=b"guest data")
    assert s3.get_object(Bucket=pool.bucket, Key=key)["Body"].read() == b"guest data"
    assert emulator.count("GetObject", "s3") >= 1
