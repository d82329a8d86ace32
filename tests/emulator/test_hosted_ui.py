"""The emulator's hosted UI at the HTTP level: authorize, login pages, token, userInfo, revoke,
logout, the browser session cookie, faults and records (no fsm_auth client code)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
import requests

from fsm_auth.emulator import Emulator, FakeClock, Fault, HostedUIBrowser, Provisioned

from .hosted_ui_support import (
    PASSWORD,
    claims,
    csrf_of,
    exchange,
    follow,
    login_page,
    params_of,
    pkce,
    sign_in,
    submit,
    tokens_for,
    verified,
)

ALL_SCOPES = "openid email phone profile aws.cognito.signin.user.admin"


@pytest.fixture
def pool(emulator: Emulator) -> Provisioned:
    """A pool whose app client is set up for the hosted UI (no identity pool, no bucket)."""
    return emulator.provision(hosted_ui=True, with_identity_pool=False, bucket=None)


@pytest.fixture
def alice(pool: Provisioned, sign_up_confirmed: Any) -> str:
    """A confirmed user ``alice`` (password ``PASSWORD``, a verified e-mail)."""
    sign_up_confirmed(pool, "alice")
    return "alice"


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    """A cookie-keeping HTTP session: the user's browser."""
    with requests.Session() as session:
        yield session


# ---- provisioning ----


def test_provision_sets_up_the_client_in_moto_and_the_configuration(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    client = idp.describe_user_pool_client(UserPoolId=pool.user_pool_id, ClientId=pool.client_id)[
        "UserPoolClient"
    ]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthScopes"] == ALL_SCOPES.split()
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert pool.redirect_uri is not None
    assert pool.sign_out_uri is not None
    assert client["CallbackURLs"] == [pool.redirect_uri]
    assert client["LogoutURLs"] == [pool.sign_out_uri]
    port = urlsplit(pool.redirect_uri).port
    assert pool.redirect_uri == f"http://127.0.0.1:{port}/callback"
    assert pool.sign_out_uri == f"http://127.0.0.1:{port}/signed-out"
    other = emulator.provision(hosted_ui=True, with_identity_pool=False, bucket=None)
    assert urlsplit(str(other.redirect_uri)).port != port

    auth = pool.aws_configuration()["Auth"]["Default"]
    assert auth["authenticationFlowType"] == "USER_SRP_AUTH"
    assert auth["OAuth"] == {
        "WebDomain": emulator.url,
        "AppClientId": pool.client_id,
        "SignInRedirectURI": pool.redirect_uri,
        "SignOutRedirectURI": pool.sign_out_uri,
        "Scopes": ["openid", "email", "profile", "aws.cognito.signin.user.admin"],
    }
    assert pool.amplify_outputs()["auth"]["oauth"] == {
        "domain": emulator.url,
        "scopes": ["openid", "email", "profile", "aws.cognito.signin.user.admin"],
        "redirect_sign_in_uri": [pool.redirect_uri],
        "redirect_sign_out_uri": [pool.sign_out_uri],
        "response_type": "code",
        "identity_providers": [],
    }


def test_a_pool_without_hosted_ui_has_no_oauth_section(emulator: Emulator) -> None:
    plain = emulator.provision(with_identity_pool=False, bucket=None)
    assert "OAuth" not in plain.aws_configuration()["Auth"]["Default"]
    assert "oauth" not in plain.amplify_outputs()["auth"]
    assert plain.redirect_uri is None
    assert not plain.hosted_ui


# ---- the authorize request and the login page ----


def test_authorize_goes_to_the_login_page_with_its_form(
    emulator: Emulator, pool: Provisioned, browser: requests.Session
) -> None:
    url = pool.authorize_url(state="s1", login_hint='<b>"bob"</b>', lang="fr")
    answer = browser.get(url, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?" + url.split("?", 1)[1]
    page = login_page(browser, pool, state="s1", login_hint='<b>"bob"</b>', lang="fr")
    text = page.text
    for element in ('id="username"', 'id="password"', 'id="signin"', 'id="cancel"'):
        assert element in text
    assert 'type="password"' in text
    assert 'method="post"' in text
    assert csrf_of(text)
    # The hint fills the user name field, escaped (never markup of the request's making).
    assert 'value="&lt;b&gt;&quot;bob&quot;&lt;/b&gt;"' in text
    assert "<b>" not in text
    assert '<html lang="fr">' in text
    assert emulator.count("oauth2/authorize", service="hosted-ui") >= 1
    assert emulator.count("login", service="hosted-ui") >= 1


def test_redirect_uri_not_registered_goes_to_the_error_page_never_there(
    emulator: Emulator, pool: Provisioned, browser: requests.Session
) -> None:
    evil = "http://127.0.0.1:1/steal"
    answer = browser.get(pool.authorize_url(redirect_uri=evil, state="s"), allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/error?error=redirect_mismatch")
    page = browser.get(emulator.url + answer.headers["Location"])
    assert page.status_code == 400
    assert "redirect_mismatch" in page.text
    # Even an otherwise wrong request is not redirected to an unregistered URI.
    wrong = browser.get(
        pool.authorize_url(redirect_uri=evil, response_type="token"), allow_redirects=False
    )
    assert "steal" not in wrong.headers["Location"]


def test_unknown_client_gets_the_error_page(emulator: Emulator, browser: requests.Session) -> None:
    answer = browser.get(
        f"{emulator.url}/oauth2/authorize?client_id=nope&response_type=code"
        "&redirect_uri=http://127.0.0.1:9/callback"
    )
    assert answer.status_code == 400
    assert "An error was encountered" in answer.text


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unauthorized_client"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"response_type": ""}, "invalid_request"),
        ({"scope": "openid admin:everything"}, "invalid_scope"),
        ({"scope": "email"}, "invalid_scope"),
        ({"code_challenge": "abc", "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "abc"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
        ({"prompt": "sometimes"}, "invalid_request"),
        ({"identity_provider": "Nobody"}, "invalid_request"),
        ({"idp_identifier": "example.com"}, "invalid_request"),
    ],
)
def test_authorize_errors_go_back_to_the_app_with_the_state(
    pool: Provisioned, browser: requests.Session, params: dict[str, str], error: str
) -> None:
    answer = browser.get(pool.authorize_url(state="keep-me", **params), allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(str(pool.redirect_uri) + "?")
    assert params_of(location)["error"] == error
    assert params_of(location)["state"] == "keep-me"
    assert "code" not in params_of(location)


def test_cancel_answers_access_denied(pool: Provisioned, browser: requests.Session) -> None:
    page = login_page(browser, pool, state="s-cancel")
    _, redirected = submit(browser, pool, page, cancel="cancel")
    assert redirected is not None
    assert params_of(redirected) == {"error": "access_denied", "state": "s-cancel"}


def test_wrong_password_or_unknown_user_shows_the_page_again(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    page = login_page(browser, pool)
    for username, password in (("alice", "Wr0ng-password!"), ("nobody", PASSWORD)):
        answer, redirected = submit(browser, pool, page, username=username, password=password)
        assert redirected is None
        assert answer is not None
        assert answer.status_code == 200
        assert "Incorrect username or password." in answer.text
        assert 'id="password"' in answer.text
        assert password not in answer.text
        assert password not in answer.url
    # The same page still signs in with the right password.
    _, redirected = submit(browser, pool, page, username="alice", password=PASSWORD)
    assert redirected is not None
    assert "code" in params_of(redirected)
    records = [r for r in emulator.requests if r.service == "hosted-ui"]
    assert records
    assert all(PASSWORD not in json.dumps(dict(r.params)) for r in records)


def test_unconfirmed_user_gets_a_page_saying_so_and_no_code(
    idp: Any, pool: Provisioned, browser: requests.Session
) -> None:
    idp.sign_up(ClientId=pool.client_id, Username="newbie", Password=PASSWORD)
    page = login_page(browser, pool)
    answer, redirected = submit(browser, pool, page, username="newbie", password=PASSWORD)
    assert redirected is None
    assert answer is not None
    assert "User is not confirmed" in answer.text
    assert 'id="password"' not in answer.text


def test_temporary_password_asks_for_a_new_one_under_the_policy(
    emulator: Emulator, idp: Any, pool: Provisioned, browser: requests.Session
) -> None:
    admin = emulator.admin_client()
    admin.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="temp",
        TemporaryPassword="Temp0rary!",
        MessageAction="SUPPRESS",
    )
    page = login_page(browser, pool)
    form, redirected = submit(browser, pool, page, username="temp", password="Temp0rary!")
    assert redirected is None
    assert form is not None
    assert 'id="new_password"' in form.text
    assert 'id="confirm_password"' in form.text
    again, _ = submit(
        browser, pool, form, new_password="N3w-passw0rd", confirm_password="Other-passw0rd1"
    )
    assert again is not None
    assert "Passwords do not match." in again.text
    weak, _ = submit(browser, pool, form, new_password="weakpassword", confirm_password="weak")
    assert weak is not None
    assert "Passwords do not match." in weak.text
    weak, _ = submit(
        browser, pool, form, new_password="weakpassword", confirm_password="weakpassword"
    )
    assert weak is not None
    assert "Password does not conform to policy: Password must have uppercase" in weak.text
    _, redirected = submit(
        browser, pool, form, new_password="N3w-passw0rd", confirm_password="N3w-passw0rd"
    )
    assert redirected is not None
    assert "code" in params_of(redirected)
    user = admin.admin_get_user(UserPoolId=pool.user_pool_id, Username="temp")
    assert user["UserStatus"] == "CONFIRMED"
    idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "temp", "PASSWORD": "N3w-passw0rd"},
    )


def test_sms_mfa_asks_for_the_code_that_was_sent(
    emulator: Emulator, sign_up_confirmed: Any, browser: requests.Session
) -> None:
    pool = emulator.provision(hosted_ui=True, mfa="ON", with_identity_pool=False, bucket=None)
    sign_up_confirmed(pool, "mfa-user", {"phone_number": "+15555550123"})
    page = login_page(browser, pool)
    form, redirected = submit(browser, pool, page, username="mfa-user", password=PASSWORD)
    assert redirected is None
    assert form is not None
    assert 'id="code"' in form.text
    assert "0123" in form.text
    assert "+15555550123" not in form.text
    wrong, _ = submit(browser, pool, form, code="000000")
    code = emulator.last_code("mfa-user", kind="sms_mfa")
    if code != "000000":
        assert wrong is not None
        assert "Invalid code received for user" in wrong.text
    _, redirected = submit(browser, pool, form, code=code)
    assert redirected is not None
    assert "code" in params_of(redirected)


def test_totp_mfa_asks_for_the_authenticator_code(
    emulator: Emulator,
    idp: Any,
    sign_up_confirmed: Any,
    password_sign_in: Any,
    browser: requests.Session,
    clock: FakeClock,
) -> None:
    pool = emulator.provision(hosted_ui=True, mfa="OPTIONAL", with_identity_pool=False, bucket=None)
    sign_up_confirmed(pool, "totp-user")
    access = password_sign_in(pool, "totp-user")["AuthenticationResult"]["AccessToken"]
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    totp = pyotp.TOTP(secret)
    idp.verify_software_token(AccessToken=access, UserCode=totp.at(clock.now))
    idp.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    page = login_page(browser, pool)
    form, redirected = submit(browser, pool, page, username="totp-user", password=PASSWORD)
    assert redirected is None
    assert form is not None
    assert "authenticator app" in form.text
    wrong, _ = submit(browser, pool, form, code="12345")
    assert wrong is not None
    assert "Invalid code received for user" in wrong.text
    _, redirected = submit(browser, pool, form, code=totp.at(clock.now))
    assert redirected is not None
    assert "code" in params_of(redirected)


def test_mfa_required_but_not_set_up_is_refused_on_a_page(
    emulator: Emulator, sign_up_confirmed: Any, browser: requests.Session
) -> None:
    pool = emulator.provision(hosted_ui=True, mfa="ON", with_identity_pool=False, bucket=None)
    sign_up_confirmed(pool, "no-mfa")
    page = login_page(browser, pool)
    answer, redirected = submit(browser, pool, page, username="no-mfa", password=PASSWORD)
    assert redirected is None
    assert answer is not None
    assert "MFA setup required" in answer.text
    assert 'id="code"' not in answer.text


def test_a_form_of_no_login_session_is_refused(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session, clock: FakeClock
) -> None:
    page = login_page(browser, pool)
    forged = browser.post(
        page.url, data={"_csrf": "forged", "username": "alice", "password": PASSWORD}
    )
    assert forged.status_code == 400
    assert "session_expired" in forged.text
    clock.advance(3601)
    expired, redirected = submit(browser, pool, page, username="alice", password=PASSWORD)
    assert redirected is None
    assert expired is not None
    assert expired.status_code == 400


# ---- the code and the tokens ----


def test_code_flow_gives_the_pools_own_tokens(
    emulator: Emulator,
    idp: Any,
    pool: Provisioned,
    alice: str,
    browser: requests.Session,
    password_sign_in: Any,
) -> None:
    answer = tokens_for(emulator, pool, browser)
    assert set(answer) == {"id_token", "access_token", "refresh_token", "expires_in", "token_type"}
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 3600
    id_claims = verified(emulator, pool, answer["id_token"])
    access = verified(emulator, pool, answer["access_token"])
    assert id_claims["nonce"] == "nonce-1"
    assert id_claims["aud"] == pool.client_id
    assert id_claims["token_use"] == "id"
    assert id_claims["cognito:username"] == "alice"
    assert id_claims["email"] == "alice@example.com"
    assert id_claims["email_verified"] is True
    assert access["scope"] == ALL_SCOPES
    assert access["username"] == "alice"
    assert access["client_id"] == pool.client_id
    assert id_claims["origin_jti"] == access["origin_jti"]
    # The same claims as a user-pool API sign-in's tokens (plus the nonce).
    api = password_sign_in(pool, "alice")["AuthenticationResult"]
    assert set(id_claims) - {"nonce"} == set(claims(api["IdToken"]))
    assert set(access) == set(claims(api["AccessToken"]))
    # The access token works with the user-pool API (it has the admin scope).
    user = idp.get_user(AccessToken=answer["access_token"])
    assert user["Username"] == "alice"


def test_scopes_asked_for_are_the_access_tokens_and_no_openid_means_no_id_token(
    emulator: Emulator, idp: Any, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    answer = tokens_for(emulator, pool, browser, scope="openid email")
    assert claims(answer["access_token"])["scope"] == "openid email"
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="required scopes"):
        idp.get_user(AccessToken=answer["access_token"])
    browser.cookies.clear()
    answer = tokens_for(emulator, pool, browser, scope="aws.cognito.signin.user.admin")
    assert "id_token" not in answer
    assert "refresh_token" in answer


def test_replayed_code_is_refused_and_revokes_what_it_gave(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    verifier, challenge = pkce()
    code = sign_in(browser, pool, code_challenge=challenge, code_challenge_method="S256")["code"]
    first = exchange(emulator, pool, code, verifier)
    assert first.status_code == 200
    again = exchange(emulator, pool, code, verifier)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}
    refresh = requests.post(
        f"{emulator.url}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": pool.client_id,
            "refresh_token": first.json()["refresh_token"],
        },
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


def test_expired_code_is_refused(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session, clock: FakeClock
) -> None:
    verifier, challenge = pkce()
    code = sign_in(browser, pool, code_challenge=challenge, code_challenge_method="S256")["code"]
    clock.advance(301)
    answer = exchange(emulator, pool, code, verifier)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_code_just_within_five_minutes_is_taken(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session, clock: FakeClock
) -> None:
    code = sign_in(browser, pool)["code"]
    clock.advance(299)
    assert exchange(emulator, pool, code).status_code == 200


def test_pkce_verifier_is_required_and_must_match(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    verifier, challenge = pkce()
    pkce_params = {"code_challenge": challenge, "code_challenge_method": "S256"}
    code = sign_in(browser, pool, **pkce_params)["code"]
    missing = exchange(emulator, pool, code)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    code = sign_in(browser, pool, **pkce_params)["code"]
    wrong = exchange(emulator, pool, code, pkce()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    # A failed exchange spent the code.
    assert exchange(emulator, pool, code, verifier).json()["error"] == "invalid_grant"


def test_token_redirect_uri_must_be_the_authorize_one(
    emulator: Emulator, idp: Any, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    second = "http://127.0.0.1:9/other"
    idp_admin = emulator.admin_client()
    described = idp_admin.describe_user_pool_client(
        UserPoolId=pool.user_pool_id, ClientId=pool.client_id
    )["UserPoolClient"]
    idp_admin.update_user_pool_client(
        UserPoolId=pool.user_pool_id,
        ClientId=pool.client_id,
        CallbackURLs=[*described["CallbackURLs"], second],
    )
    code = sign_in(browser, pool)["code"]
    unregistered = exchange(emulator, pool, code, redirect_uri="http://127.0.0.1:9/nope")
    assert unregistered.json() == {"error": "unauthorized_client"}
    code = sign_in(browser, pool)["code"]
    other = exchange(emulator, pool, code, redirect_uri=second)
    assert other.status_code == 400
    assert other.json() == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unauthorized_client"),
        ({"grant_type": "authorization_code", "client_id": "nope"}, "invalid_client"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "made-up"}, "invalid_request"),
    ],
)
def test_token_endpoint_errors(
    emulator: Emulator, pool: Provisioned, data: dict[str, str], error: str
) -> None:
    if data.get("client_id") != "nope" and data:
        data = {"client_id": pool.client_id, **data}
    answer = requests.post(f"{emulator.url}/oauth2/token", data=data)
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert answer.headers["Cache-Control"] == "no-store"


def test_token_endpoint_wants_a_form(emulator: Emulator, pool: Provisioned) -> None:
    answer = requests.post(
        f"{emulator.url}/oauth2/token",
        json={"grant_type": "authorization_code", "client_id": pool.client_id},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_made_up_code_is_invalid_grant(emulator: Emulator, pool: Provisioned) -> None:
    answer = exchange(emulator, pool, "made-up")
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant"}


def test_client_with_a_secret_must_authenticate(
    emulator: Emulator, browser: requests.Session
) -> None:
    pool = emulator.provision(
        hosted_ui=True, client_secret=True, with_identity_pool=False, bucket=None
    )
    assert pool.client_secret is not None
    admin = emulator.admin_client()
    admin.admin_create_user(
        UserPoolId=pool.user_pool_id, Username="alice", MessageAction="SUPPRESS"
    )
    admin.admin_set_user_password(
        UserPoolId=pool.user_pool_id, Username="alice", Password=PASSWORD, Permanent=True
    )
    for auth, fields in (
        (None, {}),
        ((pool.client_id, "wrong-secret"), {}),
        (None, {"client_secret": "wrong-secret"}),
    ):
        code = sign_in(browser, pool)["code"]
        browser.cookies.clear()
        answer = exchange(emulator, pool, code, auth=auth, **fields)
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_client"
    code = sign_in(browser, pool)["code"]
    browser.cookies.clear()
    basic = exchange(emulator, pool, code, auth=(pool.client_id, pool.client_secret))
    assert basic.status_code == 200, basic.text
    code = sign_in(browser, pool)["code"]
    post = exchange(emulator, pool, code, client_secret=pool.client_secret)
    assert post.status_code == 200, post.text
    # Refresh and revocation authenticate the same way.
    refresh = {"grant_type": "refresh_token", "refresh_token": post.json()["refresh_token"]}
    refused = requests.post(f"{emulator.url}/oauth2/token", data=refresh)
    assert refused.json()["error"] == "invalid_request"  # no client_id at all
    refused = requests.post(
        f"{emulator.url}/oauth2/token", data={**refresh, "client_id": pool.client_id}
    )
    assert refused.json()["error"] == "invalid_client"
    taken = requests.post(
        f"{emulator.url}/oauth2/token", data=refresh, auth=(pool.client_id, pool.client_secret)
    )
    assert taken.status_code == 200
    revoke = requests.post(
        f"{emulator.url}/oauth2/revoke",
        data={"token": refresh["refresh_token"], "client_id": pool.client_id},
    )
    assert revoke.status_code == 401
    assert revoke.json()["error"] == "invalid_client"
    header = base64.b64encode(f"{pool.client_id}:{pool.client_secret}".encode()).decode()
    revoke = requests.post(
        f"{emulator.url}/oauth2/revoke",
        data={"token": refresh["refresh_token"]},
        headers={"Authorization": f"Basic {header}"},
    )
    assert revoke.status_code == 200
    assert revoke.content == b""


# ---- refresh, revocation, userInfo ----


def _refresh(emulator: Emulator, pool: Provisioned, token: str) -> requests.Response:
    return requests.post(
        f"{emulator.url}/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": pool.client_id, "refresh_token": token},
    )


def test_refresh_at_the_token_endpoint_and_through_initiate_auth(
    emulator: Emulator,
    idp: Any,
    pool: Provisioned,
    alice: str,
    browser: requests.Session,
    password_sign_in: Any,
) -> None:
    first = tokens_for(emulator, pool, browser, scope="openid email aws.cognito.signin.user.admin")
    answer = _refresh(emulator, pool, first["refresh_token"])
    assert answer.status_code == 200
    refreshed = answer.json()
    assert set(refreshed) == {"id_token", "access_token", "expires_in", "token_type"}
    access = verified(emulator, pool, refreshed["access_token"])
    assert access["scope"] == "openid email aws.cognito.signin.user.admin"
    assert access["origin_jti"] == claims(first["access_token"])["origin_jti"]
    assert "nonce" not in claims(refreshed["id_token"])
    # The hosted UI's refresh token is the pool's: the user-pool API refreshes it too.
    api = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": first["refresh_token"]},
    )["AuthenticationResult"]
    assert claims(api["AccessToken"])["scope"] == "openid email aws.cognito.signin.user.admin"
    verified(emulator, pool, api["IdToken"])
    # And a refresh token of the user-pool API works at the token endpoint.
    api_refresh = password_sign_in(pool, "alice")["AuthenticationResult"]["RefreshToken"]
    answer = _refresh(emulator, pool, api_refresh)
    assert answer.status_code == 200
    assert claims(answer.json()["access_token"])["scope"] == "aws.cognito.signin.user.admin"
    # RevokeToken (the user-pool API) ends a hosted-UI refresh token too.
    idp.revoke_token(Token=first["refresh_token"], ClientId=pool.client_id)
    assert _refresh(emulator, pool, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_stops_refresh_and_the_access_tokens(
    emulator: Emulator, idp: Any, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    tokens = tokens_for(emulator, pool, browser)
    revoke_url = f"{emulator.url}/oauth2/revoke"
    as_access = requests.post(
        revoke_url, data={"token": tokens["access_token"], "client_id": pool.client_id}
    )
    assert as_access.status_code == 400
    assert as_access.json()["error"] == "unsupported_token_type"
    missing = requests.post(revoke_url, data={"client_id": pool.client_id})
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    unknown = requests.post(revoke_url, data={"token": "made-up", "client_id": pool.client_id})
    assert unknown.status_code == 200
    answer = requests.post(
        revoke_url, data={"token": tokens["refresh_token"], "client_id": pool.client_id}
    )
    assert answer.status_code == 200
    assert answer.content == b""
    assert _refresh(emulator, pool, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="revoked"):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["refresh_token"]},
        )
    info = requests.get(
        f"{emulator.url}/oauth2/userInfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert info.status_code == 401
    assert 'error="invalid_token"' in info.headers["WWW-Authenticate"]


def test_user_info_answers_the_users_attributes(
    emulator: Emulator,
    pool: Provisioned,
    alice: str,
    browser: requests.Session,
    password_sign_in: Any,
    clock: FakeClock,
) -> None:
    tokens = tokens_for(emulator, pool, browser)
    url = f"{emulator.url}/oauth2/userInfo"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = requests.get(url, headers=bearer)
    assert info.status_code == 200
    document = info.json()
    assert document["sub"] == claims(tokens["id_token"])["sub"]
    assert document["username"] == "alice"
    assert document["email"] == "alice@example.com"
    assert document["email_verified"] == "true"
    assert requests.post(url, headers=bearer).json() == document
    browser.cookies.clear()
    narrow = tokens_for(emulator, pool, browser, scope="openid phone")
    only_phone = requests.get(url, headers={"Authorization": f"Bearer {narrow['access_token']}"})
    assert only_phone.json() == {"sub": document["sub"], "username": "alice"}
    # The user-pool API's tokens have no openid scope: refused here, as Cognito does.
    api = password_sign_in(pool, "alice")["AuthenticationResult"]["AccessToken"]
    refused = requests.get(url, headers={"Authorization": f"Bearer {api}"})
    assert refused.status_code == 403
    assert requests.get(url).status_code == 400
    bad = requests.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    clock.advance(3601)
    expired = requests.get(url, headers=bearer)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"


# ---- the browser's session ----


def test_browser_session_skips_the_form_and_prompt_login_forces_it(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    sign_in(browser, pool, state="one")
    cookie = browser.cookies.get(f"cognito-{pool.user_pool_id}")
    assert cookie
    page, redirected = follow(browser, pool.authorize_url(state="two"), str(pool.redirect_uri))
    assert page is None
    assert redirected is not None
    assert params_of(redirected)["state"] == "two"
    assert "code" in params_of(redirected)
    silent, _ = follow(browser, pool.authorize_url(prompt="none"), str(pool.redirect_uri))
    assert silent is None
    # The session's tokens are alice's.
    verifier, challenge = pkce()
    _, redirected = follow(
        browser,
        pool.authorize_url(code_challenge=challenge, code_challenge_method="S256"),
        str(pool.redirect_uri),
    )
    assert redirected is not None
    tokens = exchange(emulator, pool, params_of(redirected)["code"], verifier).json()
    assert claims(tokens["id_token"])["cognito:username"] == "alice"
    login_page(browser, pool, prompt="login")
    # Another pool's session is another cookie: the browser is not signed in there.
    other = emulator.provision(hosted_ui=True, with_identity_pool=False, bucket=None)
    login_page(browser, other)


def test_browser_session_ends_after_an_hour(
    pool: Provisioned, alice: str, browser: requests.Session, clock: FakeClock
) -> None:
    sign_in(browser, pool)
    clock.advance(3601)
    login_page(browser, pool)


def test_logout_ends_the_session_and_goes_to_the_sign_out_uri(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    sign_in(browser, pool)
    name = f"cognito-{pool.user_pool_id}"
    answer = browser.get(
        f"{emulator.url}/logout",
        params={"client_id": pool.client_id, "logout_uri": pool.sign_out_uri, "extra": "x"},
        allow_redirects=False,
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == pool.sign_out_uri
    assert "Max-Age=0" in answer.headers["Set-Cookie"]
    assert browser.cookies.get(name) is None
    login_page(browser, pool)
    assert emulator.count("logout", service="hosted-ui") == 1


def test_logout_keeps_a_stolen_cookie_from_working(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    sign_in(browser, pool)
    name = f"cognito-{pool.user_pool_id}"
    value = str(browser.cookies.get(name))
    browser.get(
        f"{emulator.url}/logout",
        params={"client_id": pool.client_id, "logout_uri": pool.sign_out_uri},
        allow_redirects=False,
    )
    with requests.Session() as thief:
        thief.cookies.set(name, value)
        login_page(thief, pool)


def test_logout_refusals_and_the_sign_in_again_form(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    sign_in(browser, pool)
    mismatch = browser.get(
        f"{emulator.url}/logout",
        params={"client_id": pool.client_id, "logout_uri": "http://127.0.0.1:9/elsewhere"},
    )
    assert mismatch.status_code == 400
    assert "elsewhere" not in mismatch.url
    assert browser.cookies.get(f"cognito-{pool.user_pool_id}")
    nothing = browser.get(f"{emulator.url}/logout", params={"client_id": pool.client_id})
    assert nothing.status_code == 400
    again = browser.get(
        f"{emulator.url}/logout",
        params={
            "client_id": pool.client_id,
            "redirect_uri": pool.redirect_uri,
            "response_type": "code",
            "state": "again",
        },
        allow_redirects=False,
    )
    assert again.status_code == 302
    assert again.headers["Location"].startswith("/login?")
    assert browser.cookies.get(f"cognito-{pool.user_pool_id}") is None


# ---- faults, records, S3 ----


def test_faults_reach_the_token_endpoint(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    code = sign_in(browser, pool)["code"]
    fault = emulator.faults.inject(Fault(operation="oauth2/token", status=500, times=1))
    failed = exchange(emulator, pool, code)
    assert failed.status_code == 500
    assert failed.json()["error"] == "server_error"
    assert fault.hits == 1
    # The fault answered before the endpoint: the code is still good.
    assert exchange(emulator, pool, code).status_code == 200
    emulator.faults.inject(
        Fault(operation="oauth2/token", error=("invalid_grant", "injected", 400), times=1)
    )
    refused = exchange(emulator, pool, "whatever")
    assert refused.json() == {"error": "invalid_grant", "error_description": "injected"}
    statuses = [
        r.status
        for r in emulator.requests
        if r.service == "hosted-ui" and r.operation == "oauth2/token"
    ]
    assert statuses[-3:] == [500, 200, 400]


def test_records_keep_no_secret(
    emulator: Emulator, pool: Provisioned, alice: str, browser: requests.Session
) -> None:
    emulator.reset_requests()
    verifier, challenge = pkce()
    redirect = sign_in(browser, pool, code_challenge=challenge, code_challenge_method="S256")
    tokens = exchange(emulator, pool, redirect["code"], verifier).json()
    requests.post(
        f"{emulator.url}/oauth2/revoke",
        data={"token": tokens["refresh_token"], "client_id": pool.client_id},
    )
    recorded = [r for r in emulator.requests if r.service == "hosted-ui"]
    assert {r.operation for r in recorded} == {
        "oauth2/authorize",
        "login",
        "oauth2/token",
        "oauth2/revoke",
    }
    text = json.dumps([dict(r.params) for r in recorded]) + repr(recorded)
    for secret in (PASSWORD, redirect["code"], verifier, *tokens.values()):
        assert str(secret) not in text
    login_post = next(r for r in recorded if r.operation == "login" and "username" in r.params)
    assert login_post.params["username"] == "alice"


def test_signed_s3_requests_to_login_still_reach_s3(emulator: Emulator) -> None:
    s3 = emulator.admin_client("s3")
    s3.create_bucket(Bucket="login")
    s3.put_object(Bucket="login", Key="k", Body=b"v")
    assert s3.get_object(Bucket="login", Key="k")["Body"].read() == b"v"


# ---- the headless browser ----


class _Listener(BaseHTTPRequestHandler):
    """The app's loopback listener: remembers what it was sent."""

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        body = b"signed in"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def listener(pool: Provisioned) -> Iterator[list[str]]:
    """The app's listener on the pool's redirect port; the paths it was sent."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", int(urlsplit(str(pool.redirect_uri)).port or 0)), _Listener
    )
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.seen  # type: ignore[attr-defined,no-any-return]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_headless_browser_signs_in_keeps_its_session_and_signs_out(
    emulator: Emulator, pool: Provisioned, alice: str, listener: list[str]
) -> None:
    browser = HostedUIBrowser("alice", PASSWORD)
    assert browser(pool.authorize_url(state="b1")) is True
    assert listener[-1].startswith("/callback?code=")
    assert "state=b1" in listener[-1]
    assert browser.last_page is not None
    assert browser.last_page.text == "signed in"
    assert any('id="username"' in page.text for page in browser.pages)
    # Its cookie is kept: the next sign-in needs no form.
    seen = len(browser.pages)
    assert browser(pool.authorize_url(state="b2")) is True
    assert len(browser.pages) == seen + 1
    assert "state=b2" in listener[-1]
    logout = f"{emulator.url}/logout?client_id={pool.client_id}&logout_uri={pool.sign_out_uri}"
    assert browser(logout) is True
    assert listener[-1] == "/signed-out"
    assert browser(pool.authorize_url(state="b3")) is True
    assert any('id="username"' in page.text for page in browser.pages[seen + 2 :])


def test_headless_browser_stops_on_a_wrong_password_and_cancels(
    pool: Provisioned, alice: str, listener: list[str]
) -> None:
    wrong = HostedUIBrowser("alice", "Wr0ng-password!")
    assert wrong(pool.authorize_url()) is False
    assert wrong.last_page is not None
    assert "Incorrect username or password." in wrong.last_page.text
    assert listener == []
    cancel = HostedUIBrowser(cancel=True)
    assert cancel(pool.authorize_url(state="c")) is True
    assert params_of(listener[-1]) == {"error": "access_denied", "state": "c"}


def test_headless_browser_sets_a_new_password_and_enters_an_mfa_code(
    emulator: Emulator,
) -> None:
    # Nobody listens on this pool's redirect port: the browser still delivers (and says so).
    pool = emulator.provision(hosted_ui=True, mfa="ON", with_identity_pool=False, bucket=None)
    emulator.admin_client().admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="carol",
        TemporaryPassword="Temp0rary!",
        UserAttributes=[{"Name": "phone_number", "Value": "+15555550199"}],
        MessageAction="SUPPRESS",
    )
    browser = HostedUIBrowser(
        "carol",
        "Temp0rary!",
        new_password="N3w-passw0rd",
        mfa_code=lambda: emulator.last_code("carol", kind="sms_mfa"),
    )
    assert browser(pool.authorize_url(state="m")) is True
    assert browser.delivered is not None
    assert "code" in params_of(browser.delivered)
    assert [p.status for p in browser.pages][-1] == 0  # nobody listened on that port


def test_headless_browser_never_leaves_loopback(emulator: Emulator, pool: Provisioned) -> None:
    browser = HostedUIBrowser("alice", PASSWORD)
    assert browser("http://example.com/oauth2/authorize") is False
    assert browser.pages == []
