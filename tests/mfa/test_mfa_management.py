"""MFA management through ``AuthClient``: TOTP set up after sign-in, preferences read and
changed, e-mail codes as MFA, MFA_SETUP offering TOTP or e-mail, wrong answers asked again,
bad arguments refused by name, and no secret in any repr or error."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyotp
import pytest
from auth_testkit import confirmed_user

from fsm_auth import (
    AuthClient,
    CodeMismatchError,
    InvalidParameterError,
    MFAPreference,
    MFAPreferences,
    NotSignedInError,
    SignInState,
    TOTPSetup,
    UnableToSignInError,
)
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD, client_on, user_with_phone


def totp_code(setup: TOTPSetup, clock: FakeClock) -> str:
    return pyotp.TOTP(setup.secret_code).at(clock.now)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def set_up_totp(client: AuthClient, clock: FakeClock) -> TOTPSetup:
    setup = client.set_up_totp()
    client.verify_totp_setup(totp_code(setup, clock), friendly_device_name="phone")
    return setup


def test_totp_set_up_after_sign_in_then_preferred_then_asked_at_sign_in(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    optional_pool: Provisioned,
    clock: FakeClock,
) -> None:
    client = client_on(make_client, optional_pool)
    confirmed_user(emulator, optional_pool, "tina", PASSWORD)
    assert client.sign_in("tina", PASSWORD).state is SignInState.DONE
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset(), None)

    setup = client.set_up_totp()
    assert setup.secret_code
    assert setup.secret_code not in repr(setup)
    assert setup.secret_code not in str(setup)
    uri = setup.uri("My App")
    assert uri.startswith("otpauth://totp/My%20App:tina?")
    assert f"secret={setup.secret_code}" in uri
    assert "issuer=My%20App" in uri
    assert setup.uri("My App", "tina@example.com").startswith(
        "otpauth://totp/My%20App:tina@example.com?"
    )

    # A wrong first code is refused and may be tried again.
    with pytest.raises(CodeMismatchError) as refused:
        client.verify_totp_setup(wrong(totp_code(setup, clock)))
    assert setup.secret_code not in str(refused.value)
    client.verify_totp_setup(totp_code(setup, clock))
    # Set up, not yet on.
    assert client.fetch_mfa_preference().enabled == frozenset()

    client.update_mfa_preference(totp=MFAPreference.PREFERRED)
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset({"TOTP"}), "TOTP")

    client.sign_out()
    result = client.sign_in("tina", PASSWORD)
    assert result.state is SignInState.SOFTWARE_TOKEN_MFA
    clock.advance(30)  # a fresh TOTP window
    with pytest.raises(CodeMismatchError):
        client.confirm_sign_in(wrong(totp_code(setup, clock)))
    assert client.confirm_sign_in(totp_code(setup, clock)).state is SignInState.DONE


def test_switching_the_preference_to_sms_and_off(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    optional_pool: Provisioned,
    clock: FakeClock,
) -> None:
    client = client_on(make_client, optional_pool)
    user_with_phone(emulator, optional_pool, "sam")
    client.sign_in("sam", PASSWORD)
    set_up_totp(client, clock)
    client.update_mfa_preference(totp=MFAPreference.PREFERRED, sms=MFAPreference.ENABLED)
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset({"SMS", "TOTP"}), "TOTP")

    client.update_mfa_preference(sms=MFAPreference.PREFERRED, totp="not_preferred")
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset({"SMS", "TOTP"}), "SMS")
    client.sign_out()
    result = client.sign_in("sam", PASSWORD)
    assert result.state is SignInState.SMS_MFA
    assert client.confirm_sign_in(emulator.last_code("sam", "sms_mfa")).state is SignInState.DONE

    # Neither preferred, both on: the user chooses.
    client.update_mfa_preference(sms=MFAPreference.NOT_PREFERRED)
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset({"SMS", "TOTP"}), None)
    client.sign_out()
    result = client.sign_in("sam", PASSWORD)
    assert result.state is SignInState.SELECT_MFA_TYPE
    assert result.parameters["MFAS_CAN_CHOOSE"] == '["SMS_MFA","SOFTWARE_TOKEN_MFA"]'
    assert client.confirm_sign_in("SMS_MFA").state is SignInState.SMS_MFA
    assert client.confirm_sign_in(emulator.last_code("sam", "sms_mfa")).state is SignInState.DONE

    # Everything off: no MFA at sign-in.
    client.update_mfa_preference(sms=MFAPreference.DISABLED, totp=MFAPreference.DISABLED)
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset(), None)
    client.sign_out()
    assert client.sign_in("sam", PASSWORD).state is SignInState.DONE


def test_email_mfa_sign_in(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    optional_pool: Provisioned,
) -> None:
    client = client_on(make_client, optional_pool)
    confirmed_user(emulator, optional_pool, "erin", PASSWORD)
    client.sign_in("erin", PASSWORD)
    client.update_mfa_preference(email=MFAPreference.PREFERRED)
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset({"EMAIL"}), "EMAIL")
    client.sign_out()

    result = client.sign_in("erin", PASSWORD)
    assert result.state is SignInState.EMAIL_OTP
    assert result.code_delivery is not None
    assert result.code_delivery.delivery_medium == "EMAIL"
    assert result.code_delivery.destination != "erin@example.com"  # masked
    code = emulator.last_code("erin", "email_mfa")
    with pytest.raises(CodeMismatchError):
        client.confirm_sign_in(wrong(code))
    assert client.confirm_sign_in(code).state is SignInState.DONE
    assert client.is_signed_in

    client.update_mfa_preference(email=MFAPreference.DISABLED)
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset(), None)
    client.sign_out()
    assert client.sign_in("erin", PASSWORD).state is SignInState.DONE


def test_select_mfa_type_offers_email(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    optional_pool: Provisioned,
) -> None:
    client = client_on(make_client, optional_pool)
    user_with_phone(emulator, optional_pool, "sel")
    client.sign_in("sel", PASSWORD)
    client.update_mfa_preference(sms=MFAPreference.ENABLED, email=MFAPreference.ENABLED)
    client.sign_out()
    result = client.sign_in("sel", PASSWORD)
    assert result.state is SignInState.SELECT_MFA_TYPE
    assert result.parameters["MFAS_CAN_CHOOSE"] == '["SMS_MFA","EMAIL_OTP"]'
    result = client.confirm_sign_in("EMAIL_OTP")
    assert result.state is SignInState.EMAIL_OTP
    code = emulator.last_code("sel", "email_mfa")
    assert client.confirm_sign_in(code).state is SignInState.DONE


@pytest.mark.parametrize("chosen", ["EMAIL_OTP", "SOFTWARE_TOKEN_MFA"])
def test_mfa_setup_offers_totp_or_email(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    chosen: str,
) -> None:
    pool = emulator.provision(
        mfa="ON", mfa_types=("TOTP", "EMAIL"), with_identity_pool=False, bucket=None
    )
    client = client_on(make_client, pool)
    confirmed_user(emulator, pool, "newbie", PASSWORD)
    result = client.sign_in("newbie", PASSWORD)
    assert result.state is SignInState.MFA_SETUP
    assert result.parameters["MFAS_CAN_SETUP"] == '["SOFTWARE_TOKEN_MFA", "EMAIL_OTP"]'
    # Not a choice: asked again, the answer not echoed.
    with pytest.raises(InvalidParameterError) as refused:
        client.confirm_sign_in("SMS_MFA")
    assert "SMS_MFA" not in str(refused.value).split("one of")[0]

    result = client.confirm_sign_in(chosen)
    assert result.state is SignInState.MFA_SETUP
    assert result.parameters["MFAS_CAN_SETUP"] == f'["{chosen}"]'
    if chosen == "EMAIL_OTP":
        assert "SECRET_CODE" not in result.parameters
        with pytest.raises(InvalidParameterError):
            client.confirm_sign_in("not an address")
        result = client.confirm_sign_in("newbie.mfa@example.com")
        assert result.state is SignInState.EMAIL_OTP
        code = emulator.last_code("newbie", "email_mfa")
        with pytest.raises(CodeMismatchError):
            client.confirm_sign_in(wrong(code))
        assert client.confirm_sign_in(code).state is SignInState.DONE
        assert client.get_user_attributes()["email"] == "newbie.mfa@example.com"
        expected = MFAPreferences(frozenset({"EMAIL"}), None)
    else:
        secret = result.parameters["SECRET_CODE"]
        assert secret not in repr(result)
        code = pyotp.TOTP(secret).at(clock.now)
        # A wrong first code asks again, in the same sign-in (Cognito keeps the session).
        with pytest.raises(CodeMismatchError):
            client.confirm_sign_in(wrong(code))
        assert client.confirm_sign_in(code).state is SignInState.DONE
        expected = MFAPreferences(frozenset({"TOTP"}), None)
    assert client.fetch_mfa_preference() == expected

    # The next sign-in asks the type just set up.
    client.sign_out()
    result = client.sign_in("newbie", PASSWORD)
    assert result.state is (
        SignInState.EMAIL_OTP if chosen == "EMAIL_OTP" else SignInState.SOFTWARE_TOKEN_MFA
    )


def test_bad_arguments_are_refused_by_name_before_any_request(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    optional_pool: Provisioned,
) -> None:
    client = client_on(make_client, optional_pool)
    confirmed_user(emulator, optional_pool, "bad", PASSWORD)
    client.sign_in("bad", PASSWORD)
    before = emulator.count()
    with pytest.raises(InvalidParameterError, match="totp") as caught:
        client.update_mfa_preference(totp="SOMETIMES")
    assert "SOMETIMES" in str(caught.value)
    with pytest.raises(InvalidParameterError, match="sms"):
        client.update_mfa_preference(sms=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="needs sms, totp or email"):
        client.update_mfa_preference()
    with pytest.raises(InvalidParameterError, match="Only one"):
        client.update_mfa_preference(sms="PREFERRED", email="PREFERRED")
    with pytest.raises(InvalidParameterError, match="code"):
        client.verify_totp_setup("")
    with pytest.raises(TypeError):
        client.update_mfa_preference(fax=MFAPreference.ENABLED)  # type: ignore[call-arg]
    assert emulator.count() == before

    # The service's refusals name what is missing.
    with pytest.raises(InvalidParameterError, match="software token"):
        client.update_mfa_preference(totp=MFAPreference.ENABLED)
    with pytest.raises(InvalidParameterError, match="SMS_MFA"):
        client.update_mfa_preference(sms=MFAPreference.ENABLED)
    assert client.fetch_mfa_preference() == MFAPreferences(frozenset(), None)


def test_mfa_calls_need_a_signed_in_user(
    make_client: Callable[..., AuthClient], optional_pool: Provisioned
) -> None:
    client = client_on(make_client, optional_pool)
    for call in (
        client.set_up_totp,
        client.fetch_mfa_preference,
        lambda: client.update_mfa_preference(totp=MFAPreference.ENABLED),
        lambda: client.verify_totp_setup("123456"),
    ):
        with pytest.raises((NotSignedInError, UnableToSignInError)):
            call()


def test_no_secret_reaches_a_log_or_an_error(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    optional_pool: Provisioned,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_on(make_client, optional_pool)
    confirmed_user(emulator, optional_pool, "quiet", PASSWORD)
    client.sign_in("quiet", PASSWORD)
    setup = client.set_up_totp()
    code = totp_code(setup, clock)
    errors = []
    for attempt in (wrong(code), code):
        try:
            client.verify_totp_setup(attempt)
        except CodeMismatchError as exc:
            errors.append(f"{exc!s} {exc!r}")
    assert errors
    client.update_mfa_preference(totp=MFAPreference.PREFERRED)
    access = client.get_tokens().access_token
    for text in (caplog.text, *errors, repr(setup), repr(client.fetch_mfa_preference())):
        assert setup.secret_code not in text
        assert access not in text
        assert code not in text
