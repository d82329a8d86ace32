"""Token lifetimes, expiry by the emulator clock, refresh, revocation, sign-out, deletion."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from fsm_auth.emulator import Emulator, FakeClock, Provisioned


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _refresh(idp: Any, pool: Provisioned, refresh_token: str) -> dict[str, Any]:
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )
    result: dict[str, Any] = answer["AuthenticationResult"]
    return result


def test_lifetimes_follow_client_settings_and_clock(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, password_sign_in: Any, clock: FakeClock
) -> None:
    clock.advance(1000)
    pool = emulator.provision(access_token_minutes=5, id_token_minutes=10, with_identity_pool=False)
    sign_up_confirmed(pool, "jo")
    result = password_sign_in(pool, "jo")["AuthenticationResult"]
    access, id_claims = _claims(result["AccessToken"]), _claims(result["IdToken"])
    assert access["exp"] - access["iat"] == 300
    assert id_claims["exp"] - id_claims["iat"] == 600
    assert result["ExpiresIn"] == 300
    assert abs(access["iat"] - clock.now) <= 1


def test_expired_access_token_refused_then_refresh_works(
    idp: Any, pool: Provisioned, tokens: dict[str, Any], clock: FakeClock
) -> None:
    idp.get_user(AccessToken=tokens["AccessToken"])
    clock.advance(3601)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Access Token has expired"):
        idp.get_user(AccessToken=tokens["AccessToken"])
    fresh = _refresh(idp, pool, tokens["RefreshToken"])
    assert _claims(fresh["AccessToken"])["exp"] > clock.now
    idp.get_user(AccessToken=fresh["AccessToken"])


def test_refresh_token_expires_after_its_validity(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, password_sign_in: Any, clock: FakeClock
) -> None:
    pool = emulator.provision(refresh_token_days=1, with_identity_pool=False)
    sign_up_confirmed(pool, "kim")
    refresh_token = password_sign_in(pool, "kim")["AuthenticationResult"]["RefreshToken"]
    clock.advance(86400 - 10)
    _refresh(idp, pool, refresh_token)
    clock.advance(20)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid Refresh Token"):
        _refresh(idp, pool, refresh_token)


def test_unknown_refresh_token_refused(idp: Any, pool: Provisioned) -> None:
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid Refresh Token"):
        _refresh(idp, pool, "not-a-refresh-token")


def test_revoke_token_stops_refresh_and_its_access_tokens(
    idp: Any, pool: Provisioned, tokens: dict[str, Any]
) -> None:
    idp.revoke_token(Token=tokens["RefreshToken"], ClientId=pool.client_id)
    with pytest.raises(
        idp.exceptions.NotAuthorizedException, match="Refresh Token has been revoked"
    ):
        _refresh(idp, pool, tokens["RefreshToken"])
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="revoked"):
        idp.get_user(AccessToken=tokens["AccessToken"])


def test_revoke_leaves_other_sessions_alone(
    idp: Any, pool: Provisioned, user: str, password_sign_in: Any
) -> None:
    first = password_sign_in(pool, user)["AuthenticationResult"]
    second = password_sign_in(pool, user)["AuthenticationResult"]
    idp.revoke_token(Token=first["RefreshToken"], ClientId=pool.client_id)
    _refresh(idp, pool, second["RefreshToken"])
    idp.get_user(AccessToken=second["AccessToken"])


@pytest.mark.parametrize("admin", [False, True])
def test_global_sign_out_revokes_every_session(
    emulator: Emulator,
    idp: Any,
    pool: Provisioned,
    user: str,
    password_sign_in: Any,
    admin: bool,
) -> None:
    first = password_sign_in(pool, user)["AuthenticationResult"]
    second = password_sign_in(pool, user)["AuthenticationResult"]
    if admin:
        emulator.admin_client().admin_user_global_sign_out(
            UserPoolId=pool.user_pool_id, Username=user
        )
    else:
        idp.global_sign_out(AccessToken=first["AccessToken"])
    for session in (first, second):
        with pytest.raises(idp.exceptions.NotAuthorizedException, match="revoked"):
            _refresh(idp, pool, session["RefreshToken"])
        with pytest.raises(idp.exceptions.NotAuthorizedException, match="revoked"):
            idp.get_user(AccessToken=session["AccessToken"])
    # Signing in again works.
    fresh = password_sign_in(pool, user)["AuthenticationResult"]
    idp.get_user(AccessToken=fresh["AccessToken"])


def test_delete_user_by_access_token(
    emulator: Emulator, idp: Any, pool: Provisioned, tokens: dict[str, Any], user: str
) -> None:
    idp.delete_user(AccessToken=tokens["AccessToken"])
    with pytest.raises(emulator.admin_client().exceptions.UserNotFoundException):
        emulator.admin_client().admin_get_user(UserPoolId=pool.user_pool_id, Username=user)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _refresh(idp, pool, tokens["RefreshToken"])
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=tokens["AccessToken"])


def test_confirm_device_of_an_unknown_device_is_refused(idp: Any, tokens: dict[str, Any]) -> None:
    # Device tracking is emulated (tests/emulator/test_devices.py): a key the pool never
    # issued is refused as Cognito refuses it.
    with pytest.raises(idp.exceptions.ResourceNotFoundException, match="Device does not exist"):
        idp.confirm_device(
            AccessToken=tokens["AccessToken"],
            DeviceKey="us-east-1_dev",
            DeviceSecretVerifierConfig={"PasswordVerifier": "AQ==", "Salt": "AQ=="},
        )


def test_moto_error_that_echoes_a_secret_is_scrubbed(emulator: Emulator, pool: Provisioned) -> None:
    admin = emulator.admin_client()
    session = "s3cr3t-session-value-0123456789"
    with pytest.raises(admin.exceptions.ResourceNotFoundException) as raised:
        admin.admin_respond_to_auth_challenge(
            UserPoolId=pool.user_pool_id,
            ClientId=pool.client_id,
            ChallengeName="SMS_MFA",
            Session=session,
            ChallengeResponses={"USERNAME": "x", "SMS_MFA_CODE": "123456"},
        )
    message = raised.value.response["Error"]["Message"]
    assert session not in message
    assert message


def test_scrub_keeps_code_and_useful_message() -> None:
    from fsm_auth.emulator._middleware import scrub

    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert token not in scrub("NotAuthorizedException", token, {"AccessToken": token})
    assert scrub("X", "wrong password hunter22", {"PASSWORD": "hunter22"}) == (
        "wrong password [redacted]"
    )
    assert scrub("X", "User does not exist.", {"PASSWORD": "hunter22"}) == "User does not exist."


def test_id_token_carries_attributes_like_the_real_service(
    pool: Provisioned, tokens: dict[str, Any], user: str
) -> None:
    claims = _claims(tokens["IdToken"])
    assert claims["cognito:username"] == user
    assert claims["email"] == f"{user}@example.com"
    assert claims["email_verified"] is True
    assert claims["aud"] == pool.client_id
    assert _claims(tokens["AccessToken"])["client_id"] == pool.client_id


def test_refreshed_tokens_keep_auth_time(
    idp: Any, pool: Provisioned, tokens: dict[str, Any], clock: FakeClock
) -> None:
    signed_in = _claims(tokens["AccessToken"])
    clock.advance(600)
    fresh = _refresh(idp, pool, tokens["RefreshToken"])
    for token in (fresh["AccessToken"], fresh["IdToken"]):
        claims = _claims(token)
        assert claims["auth_time"] == signed_in["auth_time"]
        assert claims["iat"] >= signed_in["iat"] + 600
