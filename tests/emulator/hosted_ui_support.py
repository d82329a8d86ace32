"""Helpers for the hosted UI's HTTP-level tests: a browser's steps done with ``requests``."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import requests

from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Passw0rd!"


def pkce() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def params_of(url: str) -> dict[str, str]:
    """The query parameters of ``url`` (first values)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def csrf_of(page: str) -> str:
    """The login session field of a hosted-UI page."""
    found = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def follow(
    browser: requests.Session, url: str, stop_at: str, method: str = "GET", **kwargs: Any
) -> tuple[requests.Response | None, str | None]:
    """Request ``url`` and follow redirects until one goes to ``stop_at`` (returned, not
    opened: nobody listens there) or an answer is not a redirect (returned)."""
    answer = browser.request(method, url, allow_redirects=False, timeout=10, **kwargs)
    for _ in range(10):
        if answer.status_code not in (301, 302, 303, 307, 308):
            return answer, None
        location = urljoin(answer.url, answer.headers["Location"])
        if location.split("?", 1)[0] == stop_at:
            return None, location
        answer = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("too many redirects")


def login_page(browser: requests.Session, pool: Provisioned, **params: str) -> requests.Response:
    """The sign-in page the authorize request ``params`` lead to."""
    assert pool.redirect_uri is not None
    page, redirected = follow(browser, pool.authorize_url(**params), pool.redirect_uri)
    assert redirected is None, redirected
    assert page is not None
    assert page.status_code == 200
    assert 'id="username"' in page.text
    return page


def submit(
    browser: requests.Session, pool: Provisioned, page: requests.Response, **fields: str
) -> tuple[requests.Response | None, str | None]:
    """Post a hosted-UI page's form (its _csrf added) and follow to the redirect URI."""
    assert pool.redirect_uri is not None
    data = {"_csrf": csrf_of(page.text), **fields}
    return follow(browser, page.url, pool.redirect_uri, method="POST", data=data)


def sign_in(
    browser: requests.Session,
    pool: Provisioned,
    username: str = "alice",
    password: str = PASSWORD,
    **params: str,
) -> dict[str, str]:
    """The whole sign-in at the hosted UI (the form only when the browser has no session);
    the redirect's parameters (code, state)."""
    assert pool.redirect_uri is not None
    page, redirected = follow(browser, pool.authorize_url(**params), pool.redirect_uri)
    if redirected is not None:
        return params_of(redirected)
    assert page is not None
    assert 'id="username"' in page.text, page.text
    answer, redirected = submit(browser, pool, page, username=username, password=password)
    assert redirected is not None, answer.text if answer is not None else None
    return params_of(redirected)


def exchange(
    emulator: Emulator,
    pool: Provisioned,
    code: str,
    verifier: str | None = None,
    auth: tuple[str, str] | None = None,
    **fields: str,
) -> requests.Response:
    """``POST /oauth2/token`` for ``code`` (grant, client id and redirect URI filled in)."""
    data: dict[str, str] = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": pool.client_id,
        "redirect_uri": str(pool.redirect_uri),
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(fields)
    return requests.post(f"{emulator.url}/oauth2/token", data=data, auth=auth, timeout=10)


def tokens_for(
    emulator: Emulator, pool: Provisioned, browser: requests.Session, **params: str
) -> dict[str, Any]:
    """Sign ``alice`` in with PKCE and a nonce; the token endpoint's answer."""
    verifier, challenge = pkce()
    redirect = sign_in(
        browser,
        pool,
        code_challenge=challenge,
        code_challenge_method="S256",
        state="st",
        nonce="nonce-1",
        **params,
    )
    answer = exchange(emulator, pool, redirect["code"], verifier)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def verified(emulator: Emulator, pool: Provisioned, token: str, **options: Any) -> dict[str, Any]:
    """A JWT's claims, verified against the pool's own JWKS (as the client does)."""
    jwks = requests.get(
        f"{emulator.url}/{pool.user_pool_id}/.well-known/jwks.json", timeout=10
    ).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid)
    decoded: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False, "verify_aud": False, **options},
    )
    return decoded
