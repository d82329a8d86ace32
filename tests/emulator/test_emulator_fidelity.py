"""The emulator as AWS's own SDKs see it: Cognito's claim set, error messages and signing keys
(issue 9, item 13)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import jwt
import pytest

from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD

# The claims AWS documents for each token (Cognito developer guide, "Understanding the
# identity (ID) token" / "Understanding the access token"), user attributes aside.
ID_CLAIMS = {
    "sub", "aud", "email_verified", "iss", "cognito:username", "origin_jti", "event_id",
    "token_use", "auth_time", "exp", "iat", "jti",
}  # fmt: skip
ACCESS_CLAIMS = {
    "sub", "iss", "client_id", "origin_jti", "event_id", "token_use", "scope", "auth_time",
    "exp", "iat", "jti", "username",
}  # fmt: skip


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _jwks(emulator: Emulator, pool_id: str) -> dict[str, Any]:
    url = f"{emulator.url}/{pool_id}/.well-known/jwks.json"
    with urllib.request.urlopen(url, timeout=10) as answer:
        document: dict[str, Any] = json.loads(answer.read())
    return document


def _refresh(idp: Any, pool: Provisioned, refresh_token: str) -> dict[str, Any]:
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )["AuthenticationResult"]
    return answer


def _sign_up(idp: Any, pool: Provisioned, username: str, password: str = PASSWORD) -> Any:
    return idp.sign_up(
        ClientId=pool.client_id,
        Username=username,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
    )


# ---- claims ----


def test_tokens_carry_the_documented_claim_set(
    pool: Provisioned, tokens: dict[str, Any], user: str
) -> None:
    id_claims, access = _claims(tokens["IdToken"]), _claims(tokens["AccessToken"])
    assert set(id_claims) >= ID_CLAIMS, ID_CLAIMS - set(id_claims)
    assert set(access) >= ACCESS_CLAIMS, ACCESS_CLAIMS - set(access)
    assert id_claims["email_verified"] is True  # a boolean, not moto's "true"
    assert id_claims["email"] == f"{user}@example.com"
    assert (id_claims["token_use"], access["token_use"]) == ("id", "access")
    assert id_claims["aud"] == access["client_id"] == pool.client_id
    assert id_claims["cognito:username"] == access["username"] == user
    assert access["scope"] == "aws.cognito.signin.user.admin"
    # One sign-in: one event and one refresh-token session; every token has its own jti.
    assert id_claims["event_id"] == access["event_id"]
    assert id_claims["origin_jti"] == access["origin_jti"]
    assert id_claims["jti"] != access["jti"]
    for claims in (id_claims, access):
        assert claims["auth_time"] == claims["iat"]
        assert all(isinstance(claims[n], int) for n in ("auth_time", "iat", "exp"))
    # Cognito's header is the key id and the algorithm, nothing else.
    for token in (tokens["IdToken"], tokens["AccessToken"]):
        assert set(jwt.get_unverified_header(token)) == {"kid", "alg"}


def test_refreshed_tokens_keep_the_sign_in_event_and_get_new_ids(
    idp: Any, pool: Provisioned, tokens: dict[str, Any], clock: FakeClock
) -> None:
    first = _claims(tokens["IdToken"])
    clock.advance(120)
    fresh = _refresh(idp, pool, tokens["RefreshToken"])
    for token in (fresh["IdToken"], fresh["AccessToken"]):
        claims = _claims(token)
        assert (claims["event_id"], claims["origin_jti"], claims["auth_time"]) == (
            first["event_id"],
            first["origin_jti"],
            first["auth_time"],
        )
        assert claims["jti"] not in (first["jti"], _claims(tokens["AccessToken"])["jti"])
        assert claims["iat"] >= first["iat"] + 120


def test_each_sign_in_is_a_new_event(
    pool: Provisioned, tokens: dict[str, Any], password_sign_in: Any, user: str
) -> None:
    again = password_sign_in(pool, user)["AuthenticationResult"]
    first, second = _claims(tokens["AccessToken"]), _claims(again["AccessToken"])
    assert first["event_id"] != second["event_id"]
    assert first["origin_jti"] != second["origin_jti"]


def test_phone_number_verified_is_a_boolean(
    idp: Any, pool: Provisioned, sign_up_confirmed: Any, password_sign_in: Any, emulator: Emulator
) -> None:
    sign_up_confirmed(pool, "phil", {"phone_number": "+15555550100"})
    emulator.admin_client().admin_update_user_attributes(
        UserPoolId=pool.user_pool_id,
        Username="phil",
        UserAttributes=[{"Name": "phone_number_verified", "Value": "false"}],
    )
    claims = _claims(password_sign_in(pool, "phil")["AuthenticationResult"]["IdToken"])
    assert claims["phone_number"] == "+15555550100"
    assert claims["phone_number_verified"] is False


# ---- error messages ----


def test_a_taken_user_name_answers_user_already_exists(
    idp: Any, pool: Provisioned, user: str
) -> None:
    with pytest.raises(idp.exceptions.UsernameExistsException) as raised:
        _sign_up(idp, pool, user)
    assert raised.value.response["Error"]["Message"] == "User already exists"


def test_a_taken_e_mail_in_an_e_mail_pool_names_the_attribute(emulator: Emulator, idp: Any) -> None:
    pool = emulator.provision(username_attributes=("email",), with_identity_pool=False, bucket=None)
    idp.sign_up(ClientId=pool.client_id, Username="eve@example.com", Password=PASSWORD)
    with pytest.raises(idp.exceptions.UsernameExistsException) as raised:
        idp.sign_up(ClientId=pool.client_id, Username="eve@example.com", Password=PASSWORD)
    assert raised.value.response["Error"]["Message"] == (
        "An account with the given email already exists."
    )


def test_admin_create_user_of_a_taken_name(
    emulator: Emulator, pool: Provisioned, user: str
) -> None:
    admin = emulator.admin_client()
    with pytest.raises(admin.exceptions.UsernameExistsException) as raised:
        admin.admin_create_user(UserPoolId=pool.user_pool_id, Username=user)
    assert raised.value.response["Error"]["Message"] == "User account already exists"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Pa1!", "Password not long enough"),
        ("Ab1!xyz", "Password not long enough"),  # 7: moto's own minimum (5) would accept it
        ("PASSWORD1!", "Password must have lowercase characters"),
        ("password1!", "Password must have uppercase characters"),
        ("Password!!", "Password must have numeric characters"),
        ("Password11", "Password must have symbol characters"),
    ],
)
def test_a_weak_password_names_the_rule_it_breaks(
    idp: Any, pool: Provisioned, password: str, rule: str
) -> None:
    with pytest.raises(idp.exceptions.InvalidPasswordException) as raised:
        _sign_up(idp, pool, "weakling", password)
    assert raised.value.response["Error"]["Message"] == (
        f"Password did not conform with policy: {rule}"
    )


def test_every_password_check_speaks_as_cognito(
    emulator: Emulator, idp: Any, pool: Provisioned, tokens: dict[str, Any], user: str
) -> None:
    expected = "Password did not conform with policy: Password must have symbol characters"
    # moto's own handler (AdminSetUserPassword) and the emulator's (ChangePassword).
    admin = emulator.admin_client()
    with pytest.raises(admin.exceptions.InvalidPasswordException, match=expected):
        admin.admin_set_user_password(
            UserPoolId=pool.user_pool_id, Username=user, Password="Password11", Permanent=True
        )
    with pytest.raises(idp.exceptions.InvalidPasswordException, match=expected):
        idp.change_password(
            AccessToken=tokens["AccessToken"],
            PreviousPassword=PASSWORD,
            ProposedPassword="Password11",
        )


def test_pools_have_cognitos_default_password_policy(emulator: Emulator, pool: Provisioned) -> None:
    described = emulator.admin_client().describe_user_pool(UserPoolId=pool.user_pool_id)
    policy = described["UserPool"]["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] == 8
    assert all(policy[f"Require{kind}"] for kind in ("Uppercase", "Lowercase", "Numbers"))
    assert policy["RequireSymbols"] is True


def test_password_rules_follow_the_pool_policy() -> None:
    from fsm_auth.emulator._moto import password_policy_problem

    relaxed = {"MinimumLength": 6, "RequireSymbols": False, "RequireUppercase": False}
    assert password_policy_problem(relaxed, "abc123") is None
    assert password_policy_problem(relaxed, "abc12") == "Password not long enough"
    assert password_policy_problem({}, "Pass word1") is None  # an inner space is a symbol
    assert password_policy_problem({}, PASSWORD) is None


# ---- signing keys ----


def test_each_pool_signs_with_its_own_keys_and_serves_them(
    emulator: Emulator,
    pool: Provisioned,
    tokens: dict[str, Any],
    sign_up_confirmed: Any,
    password_sign_in: Any,
) -> None:
    other = emulator.provision(with_identity_pool=False, bucket=None)
    sign_up_confirmed(other, "olga")
    foreign = password_sign_in(other, "olga")["AuthenticationResult"]

    mine, theirs = _jwks(emulator, pool.user_pool_id), _jwks(emulator, other.user_pool_id)
    my_kids = {key["kid"] for key in mine["keys"]}
    their_kids = {key["kid"] for key in theirs["keys"]}
    # Two keys per pool (id and access tokens), none shared, none of moto's fixed "dummy".
    assert len(my_kids) == len(their_kids) == 2
    assert not my_kids & their_kids
    assert "dummy" not in my_kids | their_kids
    for key in mine["keys"]:
        assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "RS256", "sig", "AQAB")
        assert set(key) == {"alg", "e", "kid", "kty", "n", "use"}  # public members only

    id_kid = jwt.get_unverified_header(tokens["IdToken"])["kid"]
    access_kid = jwt.get_unverified_header(tokens["AccessToken"])["kid"]
    assert id_kid != access_kid
    assert {id_kid, access_kid} == my_kids
    keys = {key["kid"]: jwt.PyJWK(key) for key in mine["keys"]}
    issuer = f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.user_pool_id}"
    claims = jwt.decode(
        tokens["IdToken"],
        keys[id_kid],
        algorithms=["RS256"],
        audience=pool.client_id,
        issuer=issuer,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["token_use"] == "id"
    jwt.decode(
        tokens["AccessToken"],
        keys[access_kid],
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    # A token of the other pool names a key this pool does not have.
    for token in (foreign["IdToken"], foreign["AccessToken"]):
        assert jwt.get_unverified_header(token)["kid"] not in my_kids
    # Even given the other pool's kid, this pool's keys do not verify its signature.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(foreign["IdToken"], keys[id_kid], algorithms=["RS256"], audience=other.client_id)


def test_the_keys_stay_the_same_for_the_life_of_the_pool(
    emulator: Emulator, pool: Provisioned, tokens: dict[str, Any], clock: FakeClock, idp: Any
) -> None:
    before = _jwks(emulator, pool.user_pool_id)
    clock.advance(600)
    fresh = _refresh(idp, pool, tokens["RefreshToken"])
    assert _jwks(emulator, pool.user_pool_id) == before
    assert (
        jwt.get_unverified_header(fresh["IdToken"])["kid"]
        == (jwt.get_unverified_header(tokens["IdToken"])["kid"])
    )


def test_keys_are_made_ahead_and_never_waited_for() -> None:
    from fsm_auth.emulator._keys import KeyStock

    stock = KeyStock(size=2)
    made_on_the_spot = stock.take()  # not started: an empty stock never makes a caller wait
    assert stock.ready == 0
    stock.start()
    for _ in range(3000):  # generous: two keys take ~0.1 s of CPU
        if stock.ready == 2:
            break
        time.sleep(0.01)
    assert stock.ready == 2
    kids = {made_on_the_spot.kid, stock.take().kid, stock.take().kid}
    assert len(kids) == 3


def test_an_unknown_pool_has_no_jwks(emulator: Emulator) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        _jwks(emulator, "us-east-1_doesnotexist")
    assert raised.value.code == 404


def test_the_identity_pool_refuses_a_token_of_another_user_pool(
    emulator: Emulator,
    identity: Any,
    pool: Provisioned,
    sign_up_confirmed: Any,
    password_sign_in: Any,
) -> None:
    other = emulator.provision(with_identity_pool=False, bucket=None)
    sign_up_confirmed(other, "olga")
    foreign = password_sign_in(other, "olga")["AuthenticationResult"]["IdToken"]
    provider = f"cognito-idp.{pool.region}.amazonaws.com/{pool.user_pool_id}"
    with pytest.raises(identity.exceptions.NotAuthorizedException):
        identity.get_id(IdentityPoolId=pool.identity_pool_id, Logins={provider: foreign})
