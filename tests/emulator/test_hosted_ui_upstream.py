"""Federation through the hosted UI with a real upstream OpenID Connect provider
(``oidc-provider-mock`` on a loopback port): the redirect there, the code exchange, the id
token's checks, the federated user (``<provider>_<sub>``) and its tokens' claims."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from fsm_auth.emulator import Emulator, HostedUIBrowser, Provisioned

from .hosted_ui_support import claims, exchange, params_of, pkce, verified

# The upstream provider runs in the shared `upstream` fixture (tests/conftest.py).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_UPSTREAM_CLIENT = "emulator-at-upstream"
_UPSTREAM_SECRET = "upstream-secret-0123"


@pytest.fixture
def pool(emulator: Emulator, upstream: str) -> Provisioned:
    """A hosted-UI pool with the upstream registered as ``Mock`` (e-mail mapped)."""
    pool = emulator.provision(hosted_ui=True, with_identity_pool=False, bucket=None)
    pool.add_oidc_provider(
        "Mock",
        issuer=upstream,
        client_id=_UPSTREAM_CLIENT,
        client_secret=_UPSTREAM_SECRET,
        scopes="openid email",
        attribute_mapping={"email": "email", "email_verified": "email_verified"},
        idp_identifiers=("example.com",),
    )
    return pool


def _set_user(upstream: str, sub: str, **user_claims: Any) -> None:
    answer = requests.put(f"{upstream}/users/{sub}", json=user_claims, timeout=10)
    assert answer.status_code == 204


def _to_upstream(session: requests.Session, pool: Provisioned, **params: str) -> str:
    """Authorize at the emulator; the upstream's authorization URL it redirects to."""
    answer = session.get(pool.authorize_url(**params), allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def _answer_upstream(
    session: requests.Session, pool: Provisioned, upstream_url: str, **form: str
) -> str:
    """Submit the upstream's authorization form; follow to the app's redirect URI."""
    page = session.get(upstream_url, timeout=10)
    assert page.status_code == 200
    assert 'name="sub"' in page.text
    answer = session.post(upstream_url, data=form, allow_redirects=False, timeout=10)
    for _ in range(5):
        assert answer.status_code == 302, answer.text
        location = urljoin(answer.url, answer.headers["Location"])
        if location.split("?", 1)[0] == pool.redirect_uri:
            return location
        answer = session.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("no redirect to the app")


def _federated_sign_in(
    emulator: Emulator, pool: Provisioned, sub: str, **params: str
) -> dict[str, Any]:
    verifier, challenge = pkce()
    with requests.Session() as session:
        upstream_url = _to_upstream(
            session,
            pool,
            code_challenge=challenge,
            code_challenge_method="S256",
            state="fed-state",
            nonce="fed-nonce",
            **params,
        )
        redirect = params_of(_answer_upstream(session, pool, upstream_url, sub=sub))
    assert redirect["state"] == "fed-state", redirect
    assert "code" in redirect, redirect
    answer = exchange(emulator, pool, redirect["code"], verifier)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_authorize_sends_the_browser_to_the_upstream(
    emulator: Emulator, upstream: str, pool: Provisioned
) -> None:
    with requests.Session() as session:
        location = _to_upstream(session, pool, identity_provider="Mock", state="s")
    assert location.startswith(f"{upstream}/oauth2/authorize?")
    asked = params_of(location)
    assert asked["client_id"] == _UPSTREAM_CLIENT
    assert asked["redirect_uri"] == f"{emulator.url}/oauth2/idpresponse"
    assert asked["response_type"] == "code"
    assert asked["scope"] == "openid email"
    assert asked["state"] != "s"
    assert asked["nonce"]
    # idp_identifier names the same provider.
    with requests.Session() as session:
        by_identifier = _to_upstream(session, pool, idp_identifier="example.com")
    assert by_identifier.startswith(f"{upstream}/oauth2/authorize?")


def test_first_sign_in_creates_the_federated_user_and_the_next_finds_it(
    emulator: Emulator, upstream: str, pool: Provisioned
) -> None:
    _set_user(upstream, "fed-1", email="fed@example.com", email_verified=True)
    tokens = _federated_sign_in(emulator, pool, "fed-1", identity_provider="Mock")
    id_claims = verified(emulator, pool, tokens["id_token"])
    assert id_claims["cognito:username"] == "Mock_fed-1"
    assert id_claims["email"] == "fed@example.com"
    assert id_claims["email_verified"] is True
    assert id_claims["nonce"] == "fed-nonce"
    assert id_claims["cognito:groups"] == [f"{pool.user_pool_id}_Mock"]
    [identity] = id_claims["identities"]
    assert identity["userId"] == "fed-1"
    assert identity["providerName"] == "Mock"
    assert identity["providerType"] == "OIDC"
    assert identity["issuer"] is None
    assert identity["primary"] == "true"
    assert identity["dateCreated"].isdigit()
    access = claims(tokens["access_token"])
    assert access["username"] == "Mock_fed-1"
    assert access["cognito:groups"] == [f"{pool.user_pool_id}_Mock"]
    admin = emulator.admin_client()
    user = admin.admin_get_user(UserPoolId=pool.user_pool_id, Username="Mock_fed-1")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    # The second sign-in finds the same user, and updates its mapped attributes.
    _set_user(upstream, "fed-1", email="new@example.com", email_verified=True)
    again = _federated_sign_in(emulator, pool, "fed-1", idp_identifier="example.com")
    assert claims(again["id_token"])["sub"] == id_claims["sub"]
    assert claims(again["id_token"])["email"] == "new@example.com"
    users = admin.list_users(UserPoolId=pool.user_pool_id)["Users"]
    assert [u["Username"] for u in users] == ["Mock_fed-1"]
    # The federated user's tokens refresh like any other.
    refreshed = requests.post(
        f"{emulator.url}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": pool.client_id,
            "refresh_token": again["refresh_token"],
        },
        timeout=10,
    )
    assert refreshed.status_code == 200
    assert claims(refreshed.json()["id_token"])["identities"] == id_claims["identities"]


def test_upstream_refusal_reaches_the_app_with_its_state(upstream: str, pool: Provisioned) -> None:
    with requests.Session() as session:
        upstream_url = _to_upstream(session, pool, identity_provider="Mock", state="deny-me")
        location = _answer_upstream(session, pool, upstream_url, action="deny")
    answer = params_of(location)
    assert answer["error"] == "access_denied"
    assert answer["state"] == "deny-me"
    assert "code" not in answer


def test_an_unknown_upstream_state_is_refused(emulator: Emulator, pool: Provisioned) -> None:
    answer = requests.get(
        f"{emulator.url}/oauth2/idpresponse", params={"code": "x", "state": "forged"}, timeout=10
    )
    assert answer.status_code == 400


def test_an_unreachable_upstream_is_an_error_for_the_app(
    emulator: Emulator, pool: Provisioned
) -> None:
    pool.add_oidc_provider("Gone", issuer="http://127.0.0.1:9", client_id="c", client_secret="s")
    with requests.Session() as session:
        location = _to_upstream(session, pool, identity_provider="Gone", state="g")
    assert location.startswith(str(pool.redirect_uri))
    answer = params_of(location)
    assert answer["error"] == "invalid_request"
    assert answer["state"] == "g"


def test_login_page_offers_the_provider_and_the_browser_signs_in_there(
    emulator: Emulator, upstream: str, pool: Provisioned
) -> None:
    with requests.Session() as session:
        page = session.get(pool.authorize_url(), timeout=10)
    assert "Sign in with Mock" in page.text
    browser = HostedUIBrowser(fields={"sub": "fed-2"})
    assert browser(pool.authorize_url(identity_provider="Mock", state="b")) is True
    assert browser.delivered is not None
    redirect = params_of(browser.delivered)
    assert redirect["state"] == "b"
    tokens = exchange(emulator, pool, redirect["code"]).json()
    assert claims(tokens["id_token"])["cognito:username"] == "Mock_fed-2"
    # The federated sign-in left a hosted-UI session: the next authorize needs no provider.
    assert browser(pool.authorize_url(state="c")) is True
    assert urlsplit(str(browser.delivered)).path == "/callback"
