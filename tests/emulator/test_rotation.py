"""The emulator's refresh-token rotation, through boto3 as an app would call it:
GetTokensFromRefreshToken on rotating and non-rotating app clients, the retry grace period by
the emulator's clock, REFRESH_TOKEN_AUTH refused on a rotating client, revocation of a rotated
family, the client secret, and the setting as DescribeUserPoolClient shows it."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
import requests

from fsm_auth.emulator import Emulator, FakeClock, Provisioned


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _rotating(emulator: Emulator, grace: int = 60, **options: Any) -> Provisioned:
    return emulator.provision(
        refresh_token_rotation=True,
        refresh_grace_seconds=grace,
        with_identity_pool=False,
        bucket=None,
        **options,
    )


def _refresh(idp: Any, pool: Provisioned, token: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = idp.get_tokens_from_refresh_token(
        ClientId=pool.client_id, RefreshToken=token, **extra
    )
    result: dict[str, Any] = answer["AuthenticationResult"]
    return result


def test_the_setting_is_on_the_app_client(emulator: Emulator, idp: Any) -> None:
    admin = emulator.admin_client()
    rotating = _rotating(emulator, grace=15)
    described = admin.describe_user_pool_client(
        UserPoolId=rotating.user_pool_id, ClientId=rotating.client_id
    )["UserPoolClient"]
    assert described["RefreshTokenRotation"] == {
        "Feature": "ENABLED",
        "RetryGracePeriodSeconds": 15,
    }
    # AWS: rotation requires REFRESH_TOKEN_AUTH turned off on the client.
    assert "ALLOW_REFRESH_TOKEN_AUTH" not in described["ExplicitAuthFlows"]
    plain = emulator.provision(with_identity_pool=False, bucket=None)
    described = admin.describe_user_pool_client(
        UserPoolId=plain.user_pool_id, ClientId=plain.client_id
    )["UserPoolClient"]
    assert described["RefreshTokenRotation"]["Feature"] == "DISABLED"
    assert "ALLOW_REFRESH_TOKEN_AUTH" in described["ExplicitAuthFlows"]


def test_grace_out_of_range_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="refresh_grace_seconds"):
        emulator.provision(refresh_token_rotation=True, refresh_grace_seconds=61)


def test_rotating_client_answers_a_new_refresh_token_of_the_same_sign_in(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, password_sign_in: Any
) -> None:
    pool = _rotating(emulator)
    sign_up_confirmed(pool, "rosa")
    first = password_sign_in(pool, "rosa")["AuthenticationResult"]
    emulator.reset_requests()
    result = _refresh(idp, pool, first["RefreshToken"])
    assert set(result) == {"AccessToken", "IdToken", "ExpiresIn", "TokenType", "RefreshToken"}
    assert result["TokenType"] == "Bearer"
    assert result["RefreshToken"] != first["RefreshToken"]
    before, after = _claims(first["AccessToken"]), _claims(result["AccessToken"])
    assert after["sub"] == before["sub"]
    # One sign-in: the family keeps its origin_jti and event_id (RevokeToken ends it whole).
    assert after["origin_jti"] == before["origin_jti"]
    assert after["event_id"] == before["event_id"]
    idp.get_user(AccessToken=result["AccessToken"])
    # The new refresh token refreshes in turn (and rotates again).
    again = _refresh(idp, pool, result["RefreshToken"])
    assert again["RefreshToken"] not in (first["RefreshToken"], result["RefreshToken"])
    assert emulator.count("GetTokensFromRefreshToken") == 2


def test_non_rotating_client_answers_no_refresh_token(
    idp: Any, pool: Provisioned, tokens: dict[str, Any]
) -> None:
    result = _refresh(idp, pool, tokens["RefreshToken"])
    assert "RefreshToken" not in result
    idp.get_user(AccessToken=result["AccessToken"])
    # The same refresh token keeps working, and REFRESH_TOKEN_AUTH too.
    _refresh(idp, pool, tokens["RefreshToken"])
    idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )


def test_old_token_works_within_the_grace_period_then_is_refused(
    emulator: Emulator,
    idp: Any,
    sign_up_confirmed: Any,
    password_sign_in: Any,
    clock: FakeClock,
) -> None:
    pool = _rotating(emulator, grace=30)
    sign_up_confirmed(pool, "sam")
    old = password_sign_in(pool, "sam")["AuthenticationResult"]["RefreshToken"]
    new = _refresh(idp, pool, old)["RefreshToken"]
    clock.advance(20)
    # A retry within the grace period (a lost answer, another process): still answered, with
    # yet another refresh token; the grace runs from the first rotation.
    retried = _refresh(idp, pool, old)
    assert retried["RefreshToken"] not in (old, new)
    clock.advance(10)
    with pytest.raises(idp.exceptions.RefreshTokenReuseException):
        _refresh(idp, pool, old)
    # The newer tokens of the family are unaffected.
    _refresh(idp, pool, new)
    _refresh(idp, pool, retried["RefreshToken"])


def test_no_grace_refuses_the_old_token_at_once(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, password_sign_in: Any
) -> None:
    pool = _rotating(emulator, grace=0)
    sign_up_confirmed(pool, "ned")
    old = password_sign_in(pool, "ned")["AuthenticationResult"]["RefreshToken"]
    _refresh(idp, pool, old)
    with pytest.raises(idp.exceptions.RefreshTokenReuseException):
        _refresh(idp, pool, old)


def test_rotated_token_has_a_fresh_lifetime(
    emulator: Emulator,
    idp: Any,
    sign_up_confirmed: Any,
    password_sign_in: Any,
    clock: FakeClock,
) -> None:
    pool = _rotating(emulator, refresh_token_days=1)
    sign_up_confirmed(pool, "liv")
    token = password_sign_in(pool, "liv")["AuthenticationResult"]["RefreshToken"]
    clock.advance(86400 - 100)
    token = _refresh(idp, pool, token)["RefreshToken"]
    clock.advance(86400 - 100)  # past the first token's lifetime, within the second's
    _refresh(idp, pool, token)


def test_refresh_token_auth_is_refused_on_a_rotating_client(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, password_sign_in: Any
) -> None:
    pool = _rotating(emulator)
    sign_up_confirmed(pool, "ada")
    token = password_sign_in(pool, "ada")["AuthenticationResult"]["RefreshToken"]
    for flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
        with pytest.raises(
            idp.exceptions.InvalidParameterException, match="flow not enabled for this client"
        ):
            idp.initiate_auth(
                ClientId=pool.client_id, AuthFlow=flow, AuthParameters={"REFRESH_TOKEN": token}
            )
    # Even when an administrator lists the flow again, rotation still refuses it.
    admin = emulator.admin_client()
    admin.update_user_pool_client(
        UserPoolId=pool.user_pool_id,
        ClientId=pool.client_id,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 10},
    )
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": token},
        )
    with pytest.raises(idp.exceptions.InvalidParameterException):
        admin.admin_initiate_auth(
            UserPoolId=pool.user_pool_id,
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": token},
        )
    # Turned off through the admin API, the client no longer rotates.
    admin.update_user_pool_client(
        UserPoolId=pool.user_pool_id,
        ClientId=pool.client_id,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        RefreshTokenRotation={"Feature": "DISABLED"},
    )
    assert "RefreshToken" not in _refresh(idp, pool, token)


@pytest.mark.parametrize("how", ["revoke_new", "revoke_old", "global_sign_out"])
def test_revocation_ends_the_whole_rotated_family(
    emulator: Emulator,
    idp: Any,
    sign_up_confirmed: Any,
    password_sign_in: Any,
    how: str,
) -> None:
    pool = _rotating(emulator)
    sign_up_confirmed(pool, "kai")
    first = password_sign_in(pool, "kai")["AuthenticationResult"]
    second = _refresh(idp, pool, first["RefreshToken"])
    third = _refresh(idp, pool, second["RefreshToken"])
    if how == "revoke_new":
        idp.revoke_token(Token=third["RefreshToken"], ClientId=pool.client_id)
    elif how == "revoke_old":
        idp.revoke_token(Token=first["RefreshToken"], ClientId=pool.client_id)
    else:
        idp.global_sign_out(AccessToken=third["AccessToken"])
    for token in (first["RefreshToken"], second["RefreshToken"], third["RefreshToken"]):
        with pytest.raises(idp.exceptions.NotAuthorizedException):
            _refresh(idp, pool, token)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=third["AccessToken"])


def test_client_secret_is_required(emulator: Emulator, idp: Any, sign_up_confirmed: Any) -> None:
    pool = _rotating(emulator, client_secret=True)
    assert pool.client_secret is not None
    admin = emulator.admin_client()
    admin.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="eve",
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
    )
    admin.admin_set_user_password(
        UserPoolId=pool.user_pool_id, Username="eve", Password="Passw0rd!", Permanent=True
    )
    from fsm_auth.emulator._moto import secret_hash

    token = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": "eve",
            "PASSWORD": "Passw0rd!",
            "SECRET_HASH": secret_hash(pool.client_secret, pool.client_id, "eve"),
        },
    )["AuthenticationResult"]["RefreshToken"]
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        _refresh(idp, pool, token)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        _refresh(idp, pool, token, ClientSecret="wrong-secret-of-24-chars!")
    assert _refresh(idp, pool, token, ClientSecret=pool.client_secret)["RefreshToken"]


def test_unknown_and_foreign_tokens_are_refused(
    emulator: Emulator, idp: Any, pool: Provisioned, tokens: dict[str, Any]
) -> None:
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid Refresh Token"):
        _refresh(idp, pool, "not-a-token")
    other = emulator.provision(with_identity_pool=False, bucket=None)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _refresh(idp, other, tokens["RefreshToken"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_tokens_from_refresh_token(ClientId="nope", RefreshToken=tokens["RefreshToken"])


def test_json_protocol_as_the_client_transport_speaks_it(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, password_sign_in: Any
) -> None:
    pool = _rotating(emulator)
    sign_up_confirmed(pool, "joe")
    token = password_sign_in(pool, "joe")["AuthenticationResult"]["RefreshToken"]
    answer = requests.post(
        emulator.url,
        data=json.dumps({"ClientId": pool.client_id, "RefreshToken": token}),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.GetTokensFromRefreshToken",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["AuthenticationResult"]["RefreshToken"] != token


def test_the_hosted_ui_token_endpoint_rotates_too(
    emulator: Emulator,
    idp: Any,
    sign_up_confirmed: Any,
    password_sign_in: Any,
    clock: FakeClock,
) -> None:
    pool = _rotating(emulator, grace=10, hosted_ui=True)
    sign_up_confirmed(pool, "una")
    old = password_sign_in(pool, "una")["AuthenticationResult"]["RefreshToken"]

    def grant(token: str) -> requests.Response:
        return requests.post(
            f"{emulator.url}/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": pool.client_id,
                "refresh_token": token,
            },
            timeout=10,
        )

    answer = grant(old)
    assert answer.status_code == 200, answer.text
    new = answer.json()["refresh_token"]
    assert new != old
    assert grant(old).status_code == 200  # within the grace period
    clock.advance(10)
    refused = grant(old)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # One rotation state for both ways of refreshing.
    with pytest.raises(idp.exceptions.RefreshTokenReuseException):
        _refresh(idp, pool, old)
    assert _refresh(idp, pool, new)["RefreshToken"] != new
