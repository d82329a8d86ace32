"""Choice-based and passwordless sign-in (InitiateAuth ``USER_AUTH``) over HTTP, with boto3:
the pool's first factors, SELECT_CHALLENGE, each first factor to tokens, one-time codes,
passwordless sign-up and the sessions that sign a just-confirmed user in."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from pycognito.aws_srp import AWSSRP

from fsm_auth.emulator import Emulator, FakeClock, Provisioned

PASSWORD = "Passw0rd!"
ALL = ("PASSWORD", "EMAIL_OTP", "SMS_OTP")
PHONE = "+15555550123"


@pytest.fixture
def pool(emulator: Emulator) -> Provisioned:
    return emulator.provision(first_factors=ALL, with_identity_pool=False, bucket=None)


def _user(
    emulator: Emulator,
    idp: Any,
    pool: Provisioned,
    username: str,
    *,
    phone: bool = True,
    phone_verified: bool = True,
) -> str:
    """A confirmed user with a verified e-mail (and a phone, verified unless told)."""
    attributes = [{"Name": "email", "Value": f"{username}@example.com"}]
    if phone:
        attributes.append({"Name": "phone_number", "Value": PHONE})
    idp.sign_up(
        ClientId=pool.client_id, Username=username, Password=PASSWORD, UserAttributes=attributes
    )
    code = emulator.last_code(username, "sign_up")
    idp.confirm_sign_up(ClientId=pool.client_id, Username=username, ConfirmationCode=code)
    if phone and phone_verified:
        emulator.admin_client().admin_update_user_attributes(
            UserPoolId=pool.user_pool_id,
            Username=username,
            UserAttributes=[{"Name": "phone_number_verified", "Value": "true"}],
        )
    return username


def _start(idp: Any, pool: Provisioned, username: str, **auth: str) -> dict[str, Any]:
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_AUTH",
        AuthParameters={"USERNAME": username, **auth},
    )
    return answer


def _respond(
    idp: Any, pool: Provisioned, challenge: dict[str, Any], username: str, **responses: str
) -> dict[str, Any]:
    answer: dict[str, Any] = idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName=challenge["ChallengeName"],
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, **responses},
    )
    return answer


def _srp(idp: Any, pool: Provisioned, username: str, password: str = PASSWORD) -> AWSSRP:
    return AWSSRP(
        username=username,
        password=password,
        pool_id=pool.user_pool_id,
        client_id=pool.client_id,
        client=idp,
    )


def _signed_in(answer: dict[str, Any], username: str | None) -> None:
    """The answer carries tokens (no further challenge), ``username``'s when one is named."""
    assert "ChallengeName" not in answer
    result = answer["AuthenticationResult"]
    assert {"AccessToken", "IdToken", "RefreshToken"} <= set(result)
    claims = jwt.decode(result["AccessToken"], options={"verify_signature": False})
    assert claims["token_use"] == "access"
    if username is not None:
        assert claims["username"] == username


def _wrong(code: str) -> str:
    return "0" * len(code) if code != "0" * len(code) else "1" * len(code)


# ---- provisioning ----
def test_the_pool_shows_its_sign_in_policy_and_the_client_allows_user_auth(
    emulator: Emulator, pool: Provisioned
) -> None:
    admin = emulator.admin_client()
    described = admin.describe_user_pool(UserPoolId=pool.user_pool_id)["UserPool"]
    assert described["Policies"]["SignInPolicy"] == {"AllowedFirstAuthFactors": list(ALL)}
    client = admin.describe_user_pool_client(UserPoolId=pool.user_pool_id, ClientId=pool.client_id)[
        "UserPoolClient"
    ]
    assert "ALLOW_USER_AUTH" in client["ExplicitAuthFlows"]


def test_without_first_factors_user_auth_is_refused_like_a_disabled_flow(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any
) -> None:
    plain = emulator.provision(with_identity_pool=False, bucket=None)
    sign_up_confirmed(plain, "ned")
    described = emulator.admin_client().describe_user_pool(UserPoolId=plain.user_pool_id)
    assert "SignInPolicy" not in described["UserPool"]["Policies"]
    with pytest.raises(
        idp.exceptions.InvalidParameterException, match="USER_AUTH flow not enabled for this client"
    ):
        _start(idp, plain, "ned", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"first_factors": ("EMAIL_OTP",)}, "must include PASSWORD"),
        ({"first_factors": ("PASSWORD", "WEB_AUTHN")}, "passkeys are not emulated"),
        ({"first_factors": ("PASSWORD", "MAGIC_LINK")}, "unknown: 'MAGIC_LINK'"),
        ({"first_factors": "PASSWORD"}, "not a string"),
        ({"first_factors": ("PASSWORD", "PASSWORD")}, "twice"),
        ({"first_factors": ("PASSWORD", "SMS_OTP"), "mfa": "ON"}, "MFA is required"),
        ({"auth_flows": ("ALLOW_USER_AUTH",)}, "first_factors is None"),
        ({"custom_challenges": {"parameters": {}, "answer": "x"}}, "must be a sequence"),
        ({"custom_challenges": []}, "at least one round"),
        ({"custom_challenges": [{"parameters": {}}]}, r"custom_challenges\[0\] must be"),
        (
            {
                "custom_challenges": [
                    {"parameters": {}, "answer": None},
                    {"parameters": {"q": 1}, "answer": "a"},
                ]
            },
            r"custom_challenges\[1\]: parameters must map strings",
        ),
        (
            {"custom_challenges": [{"parameters": {}, "answer": ""}]},
            r"custom_challenges\[0\]: answer must be a non-empty string",
        ),
        (
            {"custom_challenges": [{"parameters": {"USERNAME": "x"}, "answer": "a"}]},
            "may not set USERNAME",
        ),
    ],
)
def test_provision_refuses_what_cognito_refuses(
    emulator: Emulator, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        emulator.provision(with_identity_pool=False, bucket=None, **options)


def test_password_only_first_factors_go_with_required_mfa(emulator: Emulator) -> None:
    pool = emulator.provision(
        first_factors=("PASSWORD",), mfa="ON", with_identity_pool=False, bucket=None
    )
    described = emulator.admin_client().describe_user_pool(UserPoolId=pool.user_pool_id)
    assert described["UserPool"]["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"] == [
        "PASSWORD"
    ]


# ---- SELECT_CHALLENGE ----
def test_select_challenge_lists_what_each_user_can_answer(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    _user(emulator, idp, pool, "ann")
    _user(emulator, idp, pool, "bob", phone=False)
    _user(emulator, idp, pool, "cal", phone_verified=False)
    answers = {name: _start(idp, pool, name) for name in ("ann", "bob", "cal")}
    for answer in answers.values():
        assert answer["ChallengeName"] == "SELECT_CHALLENGE"
        assert answer["ChallengeParameters"] == {}
        assert answer["Session"]
    assert answers["ann"]["AvailableChallenges"] == [
        "PASSWORD_SRP",
        "PASSWORD",
        "EMAIL_OTP",
        "SMS_OTP",
    ]
    assert answers["bob"]["AvailableChallenges"] == ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP"]
    assert answers["cal"]["AvailableChallenges"] == ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP"]


def test_only_the_pools_first_factors_are_offered(emulator: Emulator, idp: Any) -> None:
    pool = emulator.provision(
        first_factors=("PASSWORD", "EMAIL_OTP"), with_identity_pool=False, bucket=None
    )
    _user(emulator, idp, pool, "ann")
    assert _start(idp, pool, "ann")["AvailableChallenges"] == [
        "PASSWORD_SRP",
        "PASSWORD",
        "EMAIL_OTP",
    ]
    # SMS_OTP is a first factor's name, but not this pool's: the choice is asked.
    assert _start(idp, pool, "ann", PREFERRED_CHALLENGE="SMS_OTP")["ChallengeName"] == (
        "SELECT_CHALLENGE"
    )


def test_preferred_challenge_unknown_or_unavailable(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    _user(emulator, idp, pool, "bob", phone=False)
    with pytest.raises(idp.exceptions.InvalidParameterException, match="PREFERRED_CHALLENGE"):
        _start(idp, pool, "bob", PREFERRED_CHALLENGE="CARRIER_PIGEON")
    for preferred in ("SMS_OTP", "WEB_AUTHN"):
        answer = _start(idp, pool, "bob", PREFERRED_CHALLENGE=preferred)
        assert answer["ChallengeName"] == "SELECT_CHALLENGE"
        assert answer["AvailableChallenges"] == ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP"]
    assert not [c for c in emulator.codes if c.kind in ("email_otp", "sms_otp")]


def test_user_auth_refuses_what_every_flow_refuses(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    _user(emulator, idp, pool, "ann")
    with pytest.raises(idp.exceptions.InvalidParameterException, match="USERNAME"):
        idp.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_AUTH", AuthParameters={})
    with pytest.raises(idp.exceptions.UserNotFoundException):
        _start(idp, pool, "nobody")
    emulator.admin_client().admin_disable_user(UserPoolId=pool.user_pool_id, Username="ann")
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="User is disabled"):
        _start(idp, pool, "ann", PREFERRED_CHALLENGE="EMAIL_OTP")


def test_select_challenge_answers(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    _user(emulator, idp, pool, "ann", phone=False)
    select = _start(idp, pool, "ann")
    # Not among the choices, or a choice without its parameter: refused, the choice stays open.
    with pytest.raises(idp.exceptions.InvalidParameterException, match="SMS_OTP"):
        _respond(idp, pool, select, "ann", ANSWER="SMS_OTP")
    with pytest.raises(idp.exceptions.InvalidParameterException, match="PASSWORD"):
        _respond(idp, pool, select, "ann", ANSWER="PASSWORD")
    with pytest.raises(idp.exceptions.InvalidParameterException, match="SRP_A"):
        _respond(idp, pool, select, "ann", ANSWER="PASSWORD_SRP")
    _signed_in(_respond(idp, pool, select, "ann", ANSWER="PASSWORD", PASSWORD=PASSWORD), "ann")
    # The session was used up by the sign-in.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _respond(idp, pool, select, "ann", ANSWER="PASSWORD", PASSWORD=PASSWORD)
    # A wrong password ends the attempt.
    select = _start(idp, pool, "ann")
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Incorrect username or"):
        _respond(idp, pool, select, "ann", ANSWER="PASSWORD", PASSWORD="Wr0ng!pass")


def test_select_email_otp_then_the_code(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    _user(emulator, idp, pool, "ann")
    chosen = _respond(idp, pool, _start(idp, pool, "ann"), "ann", ANSWER="EMAIL_OTP")
    assert chosen["ChallengeName"] == "EMAIL_OTP"
    assert chosen["ChallengeParameters"] == {
        "CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
        "CODE_DELIVERY_DESTINATION": "a***@e***",
    }
    code = emulator.last_code("ann", "email_otp")
    _signed_in(_respond(idp, pool, chosen, "ann", EMAIL_OTP_CODE=code), "ann")


def test_select_password_srp(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    _user(emulator, idp, pool, "ann")
    helper = _srp(idp, pool, "ann")
    srp_a = helper.get_auth_params()["SRP_A"]
    verifier = _respond(
        idp, pool, _start(idp, pool, "ann"), "ann", ANSWER="PASSWORD_SRP", SRP_A=srp_a
    )
    assert verifier["ChallengeName"] == "PASSWORD_VERIFIER"
    proof = helper.process_challenge(verifier["ChallengeParameters"], {"USERNAME": "ann"})
    _signed_in(
        idp.respond_to_auth_challenge(
            ClientId=pool.client_id,
            ChallengeName="PASSWORD_VERIFIER",
            Session=verifier["Session"],
            ChallengeResponses=proof,
        ),
        "ann",
    )


# ---- each preferred first factor ----
def test_preferred_password(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    _user(emulator, idp, pool, "ann")
    with pytest.raises(
        idp.exceptions.InvalidParameterException, match="Missing required parameter PASSWORD"
    ):
        _start(idp, pool, "ann", PREFERRED_CHALLENGE="PASSWORD")
    with pytest.raises(
        idp.exceptions.NotAuthorizedException, match=r"Incorrect username or password\."
    ):
        _start(idp, pool, "ann", PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Wr0ng!pass")
    answer = _start(idp, pool, "ann", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    _signed_in(answer, "ann")


def test_preferred_password_of_an_unconfirmed_user(idp: Any, pool: Provisioned) -> None:
    idp.sign_up(ClientId=pool.client_id, Username="una", Password=PASSWORD)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _start(idp, pool, "una", PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Wr0ng!pass")
    with pytest.raises(idp.exceptions.UserNotConfirmedException):
        _start(idp, pool, "una", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)


def test_preferred_password_srp(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    _user(emulator, idp, pool, "ann")
    with pytest.raises(
        idp.exceptions.InvalidParameterException, match="Missing required parameter SRP_A"
    ):
        _start(idp, pool, "ann", PREFERRED_CHALLENGE="PASSWORD_SRP")
    for password, signs_in in (("Wr0ng!pass", False), (PASSWORD, True)):
        helper = _srp(idp, pool, "ann", password)
        verifier = _start(
            idp,
            pool,
            "ann",
            PREFERRED_CHALLENGE="PASSWORD_SRP",
            SRP_A=helper.get_auth_params()["SRP_A"],
        )
        assert verifier["ChallengeName"] == "PASSWORD_VERIFIER"
        assert verifier["ChallengeParameters"]["USER_ID_FOR_SRP"] == "ann"
        proof = helper.process_challenge(verifier["ChallengeParameters"], {"USERNAME": "ann"})
        respond = {
            "ClientId": pool.client_id,
            "ChallengeName": "PASSWORD_VERIFIER",
            "Session": verifier["Session"],
            "ChallengeResponses": proof,
        }
        if signs_in:
            _signed_in(idp.respond_to_auth_challenge(**respond), "ann")
        else:
            with pytest.raises(idp.exceptions.NotAuthorizedException, match="Incorrect"):
                idp.respond_to_auth_challenge(**respond)


@pytest.mark.parametrize(
    ("factor", "kind", "medium", "destination", "key"),
    [
        ("EMAIL_OTP", "email_otp", "EMAIL", "a***@e***", "EMAIL_OTP_CODE"),
        ("SMS_OTP", "sms_otp", "SMS", "+*******0123", "SMS_OTP_CODE"),
    ],
)
def test_preferred_one_time_code(
    emulator: Emulator,
    idp: Any,
    pool: Provisioned,
    factor: str,
    kind: str,
    medium: str,
    destination: str,
    key: str,
) -> None:
    _user(emulator, idp, pool, "ann")
    challenge = _start(idp, pool, "ann", PREFERRED_CHALLENGE=factor)
    assert challenge["ChallengeName"] == factor
    assert challenge["ChallengeParameters"] == {
        "CODE_DELIVERY_DELIVERY_MEDIUM": medium,
        "CODE_DELIVERY_DESTINATION": destination,
    }
    sent = emulator.codes[-1]
    assert (sent.username, sent.kind) == ("ann", kind)
    assert sent.destination == ("ann@example.com" if factor == "EMAIL_OTP" else PHONE)
    assert len(sent.code) == 8
    assert sent.code.isdigit()
    # A wrong code may be followed by the right one, in the same session.
    with pytest.raises(idp.exceptions.CodeMismatchException):
        _respond(idp, pool, challenge, "ann", **{key: _wrong(sent.code)})
    answer = _respond(idp, pool, challenge, "ann", **{key: sent.code})
    _signed_in(answer, "ann")
    # Used once.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _respond(idp, pool, challenge, "ann", **{key: sent.code})


def test_a_one_time_code_session_expires(
    emulator: Emulator, idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    _user(emulator, idp, pool, "ann")
    challenge = _start(idp, pool, "ann", PREFERRED_CHALLENGE="EMAIL_OTP")
    code = emulator.last_code("ann", "email_otp")
    clock.advance(181)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="session is expired"):
        _respond(idp, pool, challenge, "ann", EMAIL_OTP_CODE=code)


def test_starting_again_sends_a_new_code(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    _user(emulator, idp, pool, "ann")
    _start(idp, pool, "ann", PREFERRED_CHALLENGE="EMAIL_OTP")
    first = emulator.last_code("ann", "email_otp")
    again = _start(idp, pool, "ann", PREFERRED_CHALLENGE="EMAIL_OTP")
    second = emulator.last_code("ann", "email_otp")
    assert len([c for c in emulator.codes if c.kind == "email_otp"]) == 2
    if first != second:
        with pytest.raises(idp.exceptions.CodeMismatchException):
            _respond(idp, pool, again, "ann", EMAIL_OTP_CODE=first)
    _signed_in(_respond(idp, pool, again, "ann", EMAIL_OTP_CODE=second), "ann")


def test_an_unconfirmed_user_gets_no_code(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    idp.sign_up(
        ClientId=pool.client_id,
        Username="una",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "una@example.com"}],
    )
    with pytest.raises(idp.exceptions.UserNotConfirmedException):
        _start(idp, pool, "una", PREFERRED_CHALLENGE="EMAIL_OTP")
    assert [c.kind for c in emulator.codes] == ["sign_up"]


def test_no_mfa_after_a_code_and_email_mfa_still_works(emulator: Emulator, idp: Any) -> None:
    pool = emulator.provision(
        first_factors=ALL,
        mfa="OPTIONAL",
        mfa_types=("TOTP", "EMAIL"),
        with_identity_pool=False,
        bucket=None,
    )
    _user(emulator, idp, pool, "ann", phone=False)
    emulator.admin_client().admin_set_user_mfa_preference(
        UserPoolId=pool.user_pool_id,
        Username="ann",
        EmailMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    # The password first factor is followed by e-mail MFA (its challenge is named EMAIL_OTP).
    mfa = _start(idp, pool, "ann", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    assert mfa["ChallengeName"] == "EMAIL_OTP"
    assert emulator.codes[-1].kind == "email_mfa"
    mfa_code = emulator.last_code("ann", "email_mfa")
    _signed_in(_respond(idp, pool, mfa, "ann", EMAIL_OTP_CODE=mfa_code), "ann")
    # The one-time-code first factor signs in alone.
    otp = _start(idp, pool, "ann", PREFERRED_CHALLENGE="EMAIL_OTP")
    assert emulator.codes[-1].kind == "email_otp"
    code = emulator.last_code("ann", "email_otp")
    _signed_in(_respond(idp, pool, otp, "ann", EMAIL_OTP_CODE=code), "ann")


def test_a_code_sign_in_registers_the_device(emulator: Emulator, idp: Any) -> None:
    pool = emulator.provision(
        first_factors=ALL, device_tracking="always", with_identity_pool=False, bucket=None
    )
    _user(emulator, idp, pool, "ann")
    challenge = _start(idp, pool, "ann", PREFERRED_CHALLENGE="SMS_OTP")
    answer = _respond(
        idp, pool, challenge, "ann", SMS_OTP_CODE=emulator.last_code("ann", "sms_otp")
    )
    assert answer["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"]


def test_secret_hash_is_for_the_name_the_sign_in_started_with(emulator: Emulator, idp: Any) -> None:
    pool = emulator.provision(
        first_factors=ALL,
        client_secret=True,
        username_attributes=("email",),
        with_identity_pool=False,
        bucket=None,
    )
    assert pool.client_secret is not None
    email = "ema@example.com"

    def hashed(name: str) -> str:
        assert pool.client_secret is not None
        return str(AWSSRP.get_secret_hash(name, pool.client_id, pool.client_secret))

    idp.sign_up(
        ClientId=pool.client_id, Username=email, Password=PASSWORD, SecretHash=hashed(email)
    )
    idp.confirm_sign_up(
        ClientId=pool.client_id,
        Username=email,
        ConfirmationCode=emulator.last_code(email, "sign_up"),
        SecretHash=hashed(email),
    )
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="secret hash"):
        _start(idp, pool, email)
    select = _start(idp, pool, email, SECRET_HASH=hashed(email))
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="secret hash"):
        _respond(idp, pool, select, email, ANSWER="EMAIL_OTP", SECRET_HASH=hashed("other"))
    select = _start(idp, pool, email, SECRET_HASH=hashed(email))
    chosen = _respond(idp, pool, select, email, ANSWER="EMAIL_OTP", SECRET_HASH=hashed(email))
    code = emulator.last_code(email, "email_otp")
    answer = _respond(idp, pool, chosen, email, EMAIL_OTP_CODE=code, SECRET_HASH=hashed(email))
    _signed_in(answer, None)


# ---- sign-up ----
def test_passwordless_sign_up_then_sign_in_with_the_confirmation_session(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    signed_up = idp.sign_up(
        ClientId=pool.client_id,
        Username="pia",
        UserAttributes=[{"Name": "email", "Value": "pia@example.com"}],
    )
    assert signed_up["UserConfirmed"] is False
    assert signed_up["Session"]
    assert signed_up["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    confirmed = idp.confirm_sign_up(
        ClientId=pool.client_id,
        Username="pia",
        ConfirmationCode=emulator.last_code("pia", "sign_up"),
        Session=signed_up["Session"],
    )
    session = confirmed["Session"]
    answer = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_AUTH",
        AuthParameters={"USERNAME": "pia"},
        Session=session,
    )
    _signed_in(answer, "pia")
    # Once only.
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid session"):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_AUTH",
            AuthParameters={"USERNAME": "pia"},
            Session=session,
        )
    # The user has no password: only the code is offered, and no password signs them in.
    select = _start(idp, pool, "pia", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    assert select["AvailableChallenges"] == ["EMAIL_OTP"]
    for password in ("", PASSWORD):
        with pytest.raises(idp.exceptions.NotAuthorizedException):
            idp.initiate_auth(
                ClientId=pool.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "pia", "PASSWORD": password},
            )
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _srp(idp, pool, "pia", "").authenticate_user()


def test_the_confirmation_session_expires_and_is_the_users_own(
    emulator: Emulator, idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    _user(emulator, idp, pool, "ann")
    idp.sign_up(
        ClientId=pool.client_id,
        Username="pia",
        UserAttributes=[{"Name": "email", "Value": "pia@example.com"}],
    )
    # Confirmed without SignUp's session: the answer still carries one.
    session = idp.confirm_sign_up(
        ClientId=pool.client_id,
        Username="pia",
        ConfirmationCode=emulator.last_code("pia", "sign_up"),
    )["Session"]

    def sign_in(username: str) -> Any:
        return idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_AUTH",
            AuthParameters={"USERNAME": username},
            Session=session,
        )

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid session"):
        sign_in("ann")
    # Nor is it a challenge's session.
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid session"):
        idp.respond_to_auth_challenge(
            ClientId=pool.client_id,
            ChallengeName="EMAIL_OTP",
            Session=session,
            ChallengeResponses={"USERNAME": "pia", "EMAIL_OTP_CODE": "12345678"},
        )
    clock.advance(181)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="session is expired"):
        sign_in("pia")


def test_confirm_sign_up_checks_the_sign_up_session(
    emulator: Emulator, idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    sessions = {}
    for name in ("pia", "quin", "rae"):
        sessions[name] = idp.sign_up(
            ClientId=pool.client_id,
            Username=name,
            UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
        )["Session"]

    def confirm(name: str, session: str) -> Any:
        return idp.confirm_sign_up(
            ClientId=pool.client_id,
            Username=name,
            ConfirmationCode=emulator.last_code(name, "sign_up"),
            Session=session,
        )

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid session"):
        confirm("pia", sessions["quin"])
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_sign_up(
            ClientId=pool.client_id,
            Username="pia",
            ConfirmationCode=_wrong(emulator.last_code("pia", "sign_up")),
            Session=sessions["pia"],
        )
    # Neither refusal used the session up or confirmed anyone.
    assert confirm("pia", sessions["pia"])["Session"]
    admin = emulator.admin_client()
    status = admin.admin_get_user(UserPoolId=pool.user_pool_id, Username="quin")["UserStatus"]
    assert status == "UNCONFIRMED"
    clock.advance(181)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="session is expired"):
        confirm("rae", sessions["rae"])


def test_sign_up_without_a_password_needs_a_passwordless_pool(emulator: Emulator, idp: Any) -> None:
    for first_factors in (None, ("PASSWORD",)):
        pool = emulator.provision(
            first_factors=first_factors, with_identity_pool=False, bucket=None
        )
        for password in ({}, {"Password": ""}):
            with pytest.raises(
                idp.exceptions.InvalidParameterException,
                match="Missing required parameter Password",
            ):
                idp.sign_up(ClientId=pool.client_id, Username="pia", **password)
        assert emulator.admin_client().list_users(UserPoolId=pool.user_pool_id)["Users"] == []


def test_sign_up_sessions_only_for_clients_allowing_user_auth(emulator: Emulator, idp: Any) -> None:
    plain = emulator.provision(with_identity_pool=False, bucket=None)
    signed_up = idp.sign_up(ClientId=plain.client_id, Username="pia", Password=PASSWORD)
    assert "Session" not in signed_up
    confirmed = idp.confirm_sign_up(
        ClientId=plain.client_id,
        Username="pia",
        ConfirmationCode=emulator.last_code("pia", "sign_up"),
    )
    assert "Session" not in confirmed


def test_a_passwordless_user_with_nothing_to_answer(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    idp.sign_up(
        ClientId=pool.client_id,
        Username="pia",
        UserAttributes=[{"Name": "email", "Value": "pia@example.com"}],
    )
    with pytest.raises(idp.exceptions.UserNotConfirmedException):
        _start(idp, pool, "pia")
    idp.confirm_sign_up(
        ClientId=pool.client_id, Username="pia", ConfirmationCode=emulator.last_code("pia")
    )
    assert _start(idp, pool, "pia")["AvailableChallenges"] == ["EMAIL_OTP"]
    emulator.admin_client().admin_update_user_attributes(
        UserPoolId=pool.user_pool_id,
        Username="pia",
        UserAttributes=[{"Name": "email_verified", "Value": "false"}],
    )
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="no available sign-in"):
        _start(idp, pool, "pia")
