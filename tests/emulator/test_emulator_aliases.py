"""Pools where users sign in with their e-mail, and SECRET_HASH per operation (pycognito #196).

Cognito's rule, as the emulator keeps it: SignUp, ConfirmSignUp, ResendConfirmationCode,
ForgotPassword, ConfirmForgotPassword and InitiateAuth hash the user name the caller sent (an
e-mail or the internal name); challenge answers and REFRESH_TOKEN_AUTH hash the internal user
name only (``USER_ID_FOR_SRP``, the access token's ``username``), never the e-mail typed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

import jwt
import pytest
from pycognito.aws_srp import AWSSRP

from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Passw0rd!"
EMAIL = "hana@example.com"


def _hash(username: str, pool: Provisioned) -> str:
    """SECRET_HASH computed independently of the emulator."""
    key = (pool.client_secret or "").encode()
    digest = hmac.new(key, (username + pool.client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _srp(idp: Any, pool: Provisioned, username: str) -> AWSSRP:
    return AWSSRP(
        username=username,
        password=PASSWORD,
        pool_id=pool.user_pool_id,
        client_id=pool.client_id,
        client=idp,
        client_secret=pool.client_secret,
    )


def _secret(pool: Provisioned, username: str) -> dict[str, str]:
    return {"SecretHash": _hash(username, pool)} if pool.client_secret else {}


def _sign_up_confirmed(emulator: Emulator, idp: Any, pool: Provisioned, email: str = EMAIL) -> str:
    """Sign up and confirm with the e-mail as user name; the internal user name (UserSub)."""
    answer = idp.sign_up(
        ClientId=pool.client_id, Username=email, Password=PASSWORD, **_secret(pool, email)
    )
    idp.confirm_sign_up(
        ClientId=pool.client_id,
        Username=email,
        ConfirmationCode=emulator.last_code(email, "sign_up"),
        **_secret(pool, email),
    )
    return str(answer["UserSub"])


def _password_auth(idp: Any, pool: Provisioned, username: str, hash_for: str) -> dict[str, Any]:
    params = {"USERNAME": username, "PASSWORD": PASSWORD, "SECRET_HASH": _hash(hash_for, pool)}
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params
    )
    return answer


def _refresh(idp: Any, pool: Provisioned, token: str, hash_for: str | None) -> dict[str, Any]:
    params = {"REFRESH_TOKEN": token}
    if hash_for is not None:
        params["SECRET_HASH"] = _hash(hash_for, pool)
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=params
    )
    return answer


@pytest.fixture
def email_pool(emulator: Emulator) -> Provisioned:
    """Users sign up and in with their e-mail (UsernameAttributes), no client secret."""
    return emulator.provision(username_attributes=("email",), with_identity_pool=False, bucket=None)


@pytest.fixture
def email_secret_pool(emulator: Emulator) -> Provisioned:
    """As ``email_pool``, with an app client secret."""
    return emulator.provision(
        username_attributes=("email",), client_secret=True, with_identity_pool=False, bucket=None
    )


# ---- UsernameAttributes: the e-mail signs in, the user name is a UUID ----


def test_email_sign_up_gives_a_uuid_user_name(
    emulator: Emulator, idp: Any, email_pool: Provisioned
) -> None:
    answer = idp.sign_up(ClientId=email_pool.client_id, Username=EMAIL, Password=PASSWORD)
    sub = answer["UserSub"]
    assert str(uuid.UUID(sub)) == sub
    assert answer["UserConfirmed"] is False
    assert answer["CodeDeliveryDetails"]["AttributeName"] == "email"
    idp.confirm_sign_up(
        ClientId=email_pool.client_id,
        Username=EMAIL,
        ConfirmationCode=emulator.last_code(EMAIL, "sign_up"),
    )
    user = emulator.admin_client().admin_get_user(
        UserPoolId=email_pool.user_pool_id, Username=EMAIL
    )
    assert user["Username"] == sub
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == EMAIL
    assert attributes["sub"] == sub
    assert attributes["email_verified"] == "true"


def test_a_user_name_that_is_not_an_email_is_refused(idp: Any, email_pool: Provisioned) -> None:
    with pytest.raises(idp.exceptions.InvalidParameterException, match="email or a phone"):
        idp.sign_up(ClientId=email_pool.client_id, Username="hana", Password=PASSWORD)


def test_email_password_sign_in_tokens_carry_the_internal_name(
    emulator: Emulator, idp: Any, email_pool: Provisioned
) -> None:
    sub = _sign_up_confirmed(emulator, idp, email_pool)
    answer = idp.initiate_auth(
        ClientId=email_pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": EMAIL, "PASSWORD": PASSWORD},
    )
    result = answer["AuthenticationResult"]
    access, id_claims = _claims(result["AccessToken"]), _claims(result["IdToken"])
    assert access["username"] == sub == access["sub"]
    assert id_claims["cognito:username"] == sub
    assert id_claims["email"] == EMAIL
    assert idp.get_user(AccessToken=result["AccessToken"])["Username"] == sub
    # The internal name signs in too.
    by_name = idp.initiate_auth(
        ClientId=email_pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": sub, "PASSWORD": PASSWORD},
    )
    assert _claims(by_name["AuthenticationResult"]["AccessToken"])["username"] == sub


def test_email_srp_challenge_names_the_internal_user(
    emulator: Emulator, idp: Any, email_pool: Provisioned
) -> None:
    sub = _sign_up_confirmed(emulator, idp, email_pool)
    helper = _srp(idp, email_pool, EMAIL)
    answer = idp.initiate_auth(
        ClientId=email_pool.client_id,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters=helper.get_auth_params(),
    )
    assert answer["ChallengeParameters"]["USER_ID_FOR_SRP"] == sub
    assert answer["ChallengeParameters"]["USERNAME"] == sub
    result = _srp(idp, email_pool, EMAIL).authenticate_user()["AuthenticationResult"]
    assert _claims(result["AccessToken"])["username"] == sub


# ---- SECRET_HASH per operation ----


def test_sign_up_and_confirm_hash_the_name_sent(
    emulator: Emulator, idp: Any, email_secret_pool: Provisioned
) -> None:
    pool = email_secret_pool
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        idp.sign_up(ClientId=pool.client_id, Username=EMAIL, Password=PASSWORD)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        idp.sign_up(
            ClientId=pool.client_id,
            Username=EMAIL,
            Password=PASSWORD,
            SecretHash=_hash("HANA@example.com", pool),
        )
    sub = idp.sign_up(
        ClientId=pool.client_id, Username=EMAIL, Password=PASSWORD, SecretHash=_hash(EMAIL, pool)
    )["UserSub"]
    code = emulator.last_code(EMAIL, "sign_up")
    # The e-mail was sent: a hash of the internal name does not match it.
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        idp.confirm_sign_up(
            ClientId=pool.client_id,
            Username=EMAIL,
            ConfirmationCode=code,
            SecretHash=_hash(sub, pool),
        )
    idp.confirm_sign_up(
        ClientId=pool.client_id,
        Username=EMAIL,
        ConfirmationCode=code,
        SecretHash=_hash(EMAIL, pool),
    )


def test_initiate_auth_hashes_the_name_sent(
    emulator: Emulator, idp: Any, email_secret_pool: Provisioned
) -> None:
    pool = email_secret_pool
    sub = _sign_up_confirmed(emulator, idp, pool)
    assert "AuthenticationResult" in _password_auth(idp, pool, EMAIL, hash_for=EMAIL)
    assert "AuthenticationResult" in _password_auth(idp, pool, sub, hash_for=sub)
    for sent, hashed in ((EMAIL, sub), (sub, EMAIL)):
        with pytest.raises(
            idp.exceptions.NotAuthorizedException,
            match=f"Unable to verify secret hash for client {pool.client_id}",
        ):
            _password_auth(idp, pool, sent, hash_for=hashed)


def test_challenge_answers_hash_the_internal_name(
    emulator: Emulator, idp: Any, email_secret_pool: Provisioned
) -> None:
    pool = email_secret_pool
    sub = _sign_up_confirmed(emulator, idp, pool)

    def verifier(hash_for: str) -> dict[str, Any]:
        helper = _srp(idp, pool, EMAIL)
        auth = helper.get_auth_params()
        challenge = idp.initiate_auth(
            ClientId=pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=auth
        )
        responses = helper.process_challenge(challenge["ChallengeParameters"], auth)
        responses["SECRET_HASH"] = _hash(hash_for, pool)
        answer: dict[str, Any] = idp.respond_to_auth_challenge(
            ClientId=pool.client_id,
            ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses=responses,
        )
        return answer

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        verifier(EMAIL)
    result = verifier(sub)["AuthenticationResult"]
    assert _claims(result["AccessToken"])["username"] == sub


def test_refresh_hashes_the_internal_name_only(
    emulator: Emulator, idp: Any, email_secret_pool: Provisioned
) -> None:
    """pycognito #196: the e-mail typed at sign-in is not the name a refresh is hashed for."""
    pool = email_secret_pool
    sub = _sign_up_confirmed(emulator, idp, pool)
    result = _password_auth(idp, pool, EMAIL, hash_for=EMAIL)["AuthenticationResult"]
    refresh_token = result["RefreshToken"]
    message = f"Unable to verify secret hash for client {pool.client_id}"
    for wrong in (EMAIL, None, "someone-else"):
        with pytest.raises(idp.exceptions.NotAuthorizedException, match=message):
            _refresh(idp, pool, refresh_token, wrong)
    fresh = _refresh(idp, pool, refresh_token, _claims(result["AccessToken"])["username"])
    assert _claims(fresh["AuthenticationResult"]["AccessToken"])["username"] == sub
    assert "RefreshToken" not in fresh["AuthenticationResult"]


def test_refresh_in_a_plain_pool_hashes_the_user_name_not_the_sub(
    emulator: Emulator, idp: Any
) -> None:
    pool = emulator.provision(client_secret=True, with_identity_pool=False, bucket=None)
    sub = _sign_up_confirmed(emulator, idp, pool, "lena")
    result = _password_auth(idp, pool, "lena", hash_for="lena")["AuthenticationResult"]
    for wrong in (sub, "lena@example.com"):
        with pytest.raises(idp.exceptions.NotAuthorizedException, match="secret hash"):
            _refresh(idp, pool, result["RefreshToken"], wrong)
    assert "AuthenticationResult" in _refresh(idp, pool, result["RefreshToken"], "lena")


def test_forgot_password_hashes_the_name_sent(
    emulator: Emulator, idp: Any, email_secret_pool: Provisioned
) -> None:
    pool = email_secret_pool
    sub = _sign_up_confirmed(emulator, idp, pool)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        idp.forgot_password(ClientId=pool.client_id, Username=EMAIL, SecretHash=_hash(sub, pool))
    sent = idp.forgot_password(
        ClientId=pool.client_id, Username=EMAIL, SecretHash=_hash(EMAIL, pool)
    )
    assert sent["CodeDeliveryDetails"]["AttributeName"] == "email"
    idp.confirm_forgot_password(
        ClientId=pool.client_id,
        Username=EMAIL,
        ConfirmationCode=emulator.last_code(EMAIL, "forgot_password"),
        Password="N3w-Passw0rd!",
        SecretHash=_hash(EMAIL, pool),
    )
    answer = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": EMAIL,
            "PASSWORD": "N3w-Passw0rd!",
            "SECRET_HASH": _hash(EMAIL, pool),
        },
    )
    assert "AuthenticationResult" in answer


# ---- AliasAttributes: a chosen user name, and the verified e-mail as an alias ----


def test_alias_pool_signs_in_with_the_verified_email(emulator: Emulator, idp: Any) -> None:
    pool = emulator.provision(
        alias_attributes=("email",), client_secret=True, with_identity_pool=False, bucket=None
    )
    with pytest.raises(idp.exceptions.InvalidParameterException, match="email format"):
        idp.sign_up(
            ClientId=pool.client_id, Username=EMAIL, Password=PASSWORD, **_secret(pool, EMAIL)
        )
    idp.sign_up(
        ClientId=pool.client_id,
        Username="hana",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": EMAIL}],
        SecretHash=_hash("hana", pool),
    )
    # Not verified yet: the e-mail is no alias.
    with pytest.raises(idp.exceptions.UserNotFoundException):
        _password_auth(idp, pool, EMAIL, hash_for=EMAIL)
    idp.confirm_sign_up(
        ClientId=pool.client_id,
        Username="hana",
        ConfirmationCode=emulator.last_code("hana", "sign_up"),
        SecretHash=_hash("hana", pool),
    )
    result = _password_auth(idp, pool, EMAIL, hash_for=EMAIL)["AuthenticationResult"]
    assert _claims(result["AccessToken"])["username"] == "hana"
    srp = _srp(idp, pool, EMAIL).authenticate_user()["AuthenticationResult"]
    assert _claims(srp["AccessToken"])["username"] == "hana"
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="secret hash"):
        _refresh(idp, pool, result["RefreshToken"], EMAIL)
    assert "AuthenticationResult" in _refresh(idp, pool, result["RefreshToken"], "hana")


def test_username_and_alias_attributes_are_exclusive(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        emulator.provision(username_attributes=("email",), alias_attributes=("phone_number",))
    with pytest.raises(ValueError, match="username_attributes"):
        emulator.provision(username_attributes=("preferred_username",))
