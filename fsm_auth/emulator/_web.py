"""Small HTTP pieces for the hosted UI's endpoints: answers, parameters, cookies, URLs."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

HOSTED_UI = "hosted-ui"
# Cognito's hosted UI answers are never cached: they carry codes, tokens or one-time forms.
_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
# The pages are the emulator's own: no framing (clickjacking of the password form).
_PAGE_HEADERS = (
    *_NO_STORE,
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action *"),
)
# Request parameters a request record may keep: none is a secret (no password, code, code
# verifier, token, client secret, CSRF value or nonce).
_RECORDED = frozenset(
    {
        "client_id", "redirect_uri", "response_type", "scope", "state", "identity_provider",
        "idp_identifier", "lang", "login_hint", "prompt", "code_challenge_method",
        "grant_type", "logout_uri", "token_type_hint", "error", "username",
    }
)  # fmt: skip


@attrs.frozen
class Response:
    """A complete HTTP answer."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = attrs.field(repr=False)


def html(status: int, markup: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """An HTML page."""
    return Response(
        status,
        (("Content-Type", "text/html; charset=utf-8"), *_PAGE_HEADERS, *headers),
        markup.encode(),
    )


def redirect(location: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A ``302 Found`` to ``location``."""
    return Response(302, (("Location", location), *_NO_STORE, *headers), b"")


def json_answer(
    status: int, document: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """A JSON document (never cached, as RFC 6749 section 5.1 asks of token answers)."""
    body = json.dumps(dict(document)).encode()
    return Response(
        status, (("Content-Type", "application/json;charset=UTF-8"), *_NO_STORE, *headers), body
    )


def oauth_error(
    status: int,
    error: str,
    description: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> Response:
    """An OAuth error document ``{"error": ..., "error_description": ...}``."""
    document = {"error": error}
    if description:
        document["error_description"] = description
    return json_answer(status, document, headers)


def empty(status: int = 200) -> Response:
    """An answer with an empty body (the revocation endpoint's success)."""
    return Response(status, (("Content-Length", "0"), *_NO_STORE), b"")


def method(environ: Mapping[str, Any]) -> str:
    """The request method."""
    return str(environ.get("REQUEST_METHOD", "GET")).upper()


def query(environ: Mapping[str, Any]) -> dict[str, str]:
    """The query parameters (the first value of each)."""
    return _first(str(environ.get("QUERY_STRING", "")))


def form(environ: dict[str, Any]) -> dict[str, str] | None:
    """The ``application/x-www-form-urlencoded`` body (the first value of each field), or
    ``None`` when the body is of another type. The body stays readable."""
    kind = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    try:
        text = read_body(environ).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _first(text)


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body; put back so that whoever comes next can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    return raw


def _first(encoded: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        values.setdefault(key, value)
    return values


def recorded_params(environ: dict[str, Any]) -> dict[str, str]:
    """What a request record keeps of a hosted-UI request: its non-secret parameters."""
    params = query(environ)
    if method(environ) == "POST":
        params.update(form(environ) or {})
    return {k: v for k, v in params.items() if k in _RECORDED}


def cookies(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's cookies (none when the header cannot be parsed)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(str(environ.get("HTTP_COOKIE", "")))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def set_cookie(name: str, value: str) -> tuple[str, str]:
    """A session cookie: HttpOnly (no script reads it), the whole site, sent on top-level
    navigations from the app (SameSite=Lax), as Cognito's hosted-UI cookie is."""
    return ("Set-Cookie", f"{name}={value}; Path=/; HttpOnly; SameSite=Lax")


def clear_cookie(name: str) -> tuple[str, str]:
    """Expire the cookie ``name`` now."""
    return ("Set-Cookie", f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (``None`` values left out)."""
    parts = urlsplit(uri)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs.extend((k, v) for k, v in params.items() if v is not None)
    return urlunsplit(parts._replace(query=urlencode(pairs)))
