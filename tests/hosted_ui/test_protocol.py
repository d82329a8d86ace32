"""The hosted UI's protocol pieces, without a server: the authorization request (PKCE S256,
state, nonce, extra parameters), the redirect's checks, the logout URL, the configuration and
the flow driven step by step."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from fsm_auth import HostedUIError, HostedUIOptions, InvalidParameterError
from fsm_auth.config import load_config
from fsm_auth.errors import ConfigError
from fsm_auth.hosted_ui._config import hosted_ui_config
from fsm_auth.hosted_ui._protocol import (
    authorization_request,
    code_from_redirect,
    logout_url,
    tokens_from_answer,
)
from fsm_auth.signin import ServiceCall, SignedIn

POOL = "us-east-1_abcDEF123"
CLIENT = "client123"
REDIRECT = "http://127.0.0.1:43821/callback"
SIGN_OUT = "http://127.0.0.1:43821/signed-out"


def mobile(**oauth: Any) -> dict[str, Any]:
    section = {
        "WebDomain": "auth.example.com",
        "AppClientId": CLIENT,
        "SignInRedirectURI": REDIRECT,
        "SignOutRedirectURI": SIGN_OUT,
        "Scopes": ["openid", "email"],
        **oauth,
    }
    return {
        "CognitoUserPool": {
            "Default": {"PoolId": POOL, "AppClientId": CLIENT, "Region": "us-east-1"}
        },
        "Auth": {"Default": {"OAuth": {k: v for k, v in section.items() if v is not None}}},
    }


def gen2(**oauth: Any) -> dict[str, Any]:
    return {
        "auth": {
            "aws_region": "us-east-1",
            "user_pool_id": POOL,
            "user_pool_client_id": CLIENT,
            "oauth": {
                "domain": "auth.example.com",
                "scopes": ["openid", "profile"],
                "redirect_sign_in_uri": ["myapp://callback", "http://localhost:5000/cb"],
                "redirect_sign_out_uri": ["http://localhost:5000/out"],
                "response_type": "code",
                **oauth,
            },
        }
    }


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_authorization_request_carries_pkce_s256_state_and_nonce() -> None:
    config = hosted_ui_config(load_config(mobile()))
    request = authorization_request(config, HostedUIOptions())
    assert request.url.startswith("https://auth.example.com/oauth2/authorize?")
    params = query(request.url)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT
    assert params["redirect_uri"] == REDIRECT
    assert params["scope"] == "openid email"
    assert params["state"] == request.state
    assert params["nonce"] == request.nonce
    assert params["code_challenge_method"] == "S256"
    # RFC 7636: 43 to 128 unreserved characters; the challenge is BASE64URL(SHA256(verifier)).
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", request.code_verifier)
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert "code_verifier" not in params
    assert request.code_verifier not in repr(request)


def test_every_request_is_fresh() -> None:
    config = hosted_ui_config(load_config(mobile()))
    one, two = (authorization_request(config, HostedUIOptions()) for _ in range(2))
    assert one.state != two.state
    assert one.code_verifier != two.code_verifier
    assert one.nonce != two.nonce


def test_options_reach_the_authorize_url() -> None:
    config = hosted_ui_config(load_config(mobile()))
    options = HostedUIOptions(
        scopes=["openid", "profile"],
        identity_provider="Google",
        idp_identifier="example.com",
        sign_in_query_parameters={"lang": "fr", "login_hint": "ana", "prompt": "login"},
    )
    params = query(authorization_request(config, options).url)
    assert params["scope"] == "openid profile"
    assert params["identity_provider"] == "Google"
    assert params["idp_identifier"] == "example.com"
    assert (params["lang"], params["login_hint"], params["prompt"]) == ("fr", "ana", "login")


def test_the_protocols_own_parameters_cannot_be_replaced() -> None:
    with pytest.raises(InvalidParameterError, match="state"):
        HostedUIOptions(sign_in_query_parameters={"state": "fixed"})
    with pytest.raises(InvalidParameterError, match="redirect_uri"):
        HostedUIOptions(sign_in_query_parameters={"redirect_uri": "http://evil.example"})
    with pytest.raises(InvalidParameterError, match="logout_uri"):
        HostedUIOptions(sign_out_query_parameters={"logout_uri": "http://evil.example"})
    with pytest.raises(InvalidParameterError, match="timeout"):
        HostedUIOptions(timeout=-1)
    with pytest.raises(InvalidParameterError, match="open_browser"):
        HostedUIOptions(open_browser="firefox")  # type: ignore[arg-type]


def test_a_sign_in_without_openid_is_refused_before_any_request() -> None:
    config = hosted_ui_config(load_config(mobile()))
    with pytest.raises(InvalidParameterError, match="openid"):
        authorization_request(config, HostedUIOptions(scopes=["email"]))


def test_the_redirect_checks_state_before_anything_else() -> None:
    config = hosted_ui_config(load_config(mobile()))
    request = authorization_request(config, HostedUIOptions())
    assert code_from_redirect({"code": "abc", "state": request.state}, request) == "abc"
    with pytest.raises(HostedUIError) as wrong:
        code_from_redirect({"code": "abc", "state": "forged"}, request)
    assert wrong.value.code == "state_mismatch"
    # A forged error is not believed either.
    with pytest.raises(HostedUIError) as forged:
        code_from_redirect({"error": "access_denied", "state": "forged"}, request)
    assert forged.value.code == "state_mismatch"
    with pytest.raises(HostedUIError) as denied:
        code_from_redirect({"error": "access_denied", "state": request.state}, request)
    assert denied.value.code == "access_denied"
    with pytest.raises(HostedUIError) as missing:
        code_from_redirect({"state": request.state}, request)
    assert missing.value.code == "invalid_request"
    with pytest.raises(HostedUIError) as none:
        code_from_redirect({}, request)
    assert none.value.code == "state_mismatch"


def test_token_answers_need_both_tokens() -> None:
    raw = tokens_from_answer({"id_token": "i", "access_token": "a", "refresh_token": "r"})
    assert (raw.id_token, raw.access_token, raw.refresh_token) == ("i", "a", "r")
    assert tokens_from_answer({"id_token": "i", "access_token": "a"}).refresh_token is None
    with pytest.raises(HostedUIError) as bad:
        tokens_from_answer({"access_token": "a"})
    assert bad.value.code == "invalid_response"


def test_the_logout_url_names_the_client_and_the_sign_out_uri() -> None:
    config = hosted_ui_config(load_config(mobile()))
    url = logout_url(config, HostedUIOptions(sign_out_query_parameters={"lang": "de"}))
    assert url is not None
    assert url.startswith("https://auth.example.com/logout?")
    assert query(url) == {"client_id": CLIENT, "logout_uri": SIGN_OUT, "lang": "de"}
    no_sign_out = hosted_ui_config(load_config(mobile(SignOutRedirectURI=None)))
    assert logout_url(no_sign_out, None) is None


def test_gen2_picks_the_loopback_redirect_uri() -> None:
    config = hosted_ui_config(load_config(gen2()))
    assert config.redirect_uri == "http://localhost:5000/cb"
    assert config.sign_out_uri == "http://localhost:5000/out"
    assert config.scopes == ("openid", "profile")
    assert config.client_id == CLIENT


def test_a_local_domain_is_a_full_url() -> None:
    config = hosted_ui_config(load_config(mobile(WebDomain="http://127.0.0.1:4566/")))
    assert config.authorize_url == "http://127.0.0.1:4566/oauth2/authorize"


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"CognitoUserPool": mobile()["CognitoUserPool"]}, "Auth.Default.OAuth"),
        (mobile(WebDomain=None), "WebDomain"),
        (mobile(SignInRedirectURI="myapp://callback"), "SignInRedirectURI"),
        (mobile(SignInRedirectURI="https://app.example.com/cb"), "SignInRedirectURI"),
        (mobile(SignInRedirectURI="http://127.0.0.1/cb"), "SignInRedirectURI"),
        (mobile(AppClientId="another"), "AppClientId"),
        (mobile(WebDomain="http://auth.example.com"), "WebDomain"),
        (mobile(Scopes="openid"), None),
        (mobile(Scopes=[1]), "Scopes"),
        (gen2(redirect_sign_in_uri=["myapp://callback"]), "redirect_sign_in_uri"),
    ],
)
def test_an_unusable_oauth_section_names_its_key(document: dict[str, Any], key: str | None) -> None:
    config = load_config(document)
    if key is None:  # a space-separated string is accepted, as Amplify writes it
        assert hosted_ui_config(config).scopes == ("openid",)
        return
    with pytest.raises(ConfigError, match=re.escape(key)):
        hosted_ui_config(config)


def test_the_flow_without_io() -> None:
    from fsm_auth.plugins import default_registry
    from fsm_auth.provider import ProviderContext
    from fsm_auth.transport import RetryPolicy
    from fsm_auth_providers.hostedui import HostedUIProvider

    config = load_config(mobile())
    provider = HostedUIProvider(ProviderContext(config, lambda: 0.0, RetryPolicy(), None))
    assert default_registry() is not None
    flow = provider.sign_in(HostedUIOptions())
    authorize = next(flow)
    assert isinstance(authorize, ServiceCall)
    assert authorize.operation == "authorize"
    request = authorize.params["request"]
    assert request.state in authorize.secrets
    assert request.code_verifier in authorize.secrets
    token = flow.send({"code": "the-code", "state": request.state})
    assert isinstance(token, ServiceCall)
    assert token.operation == "token"
    assert token.params["code"] == "the-code"
    assert "the-code" in token.secrets
    with pytest.raises(StopIteration) as done:
        flow.send({"id_token": "i", "access_token": "a", "refresh_token": "r"})
    outcome = done.value.value
    assert isinstance(outcome, SignedIn)
    assert outcome.route == "hosted_ui"
    assert outcome.nonce == request.nonce
    # A wrong state ends the flow before the exchange.
    flow = provider.sign_in(HostedUIOptions())
    next(flow)
    with pytest.raises(HostedUIError, match="state"):
        flow.send({"code": "the-code", "state": "forged"})
