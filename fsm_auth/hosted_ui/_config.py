"""The hosted UI's settings, read from the configuration's OAuth section.

``awsconfiguration.json`` has ``Auth.Default.OAuth = {WebDomain, AppClientId?,
SignInRedirectURI, SignOutRedirectURI?, Scopes}``; ``amplify_outputs.json`` has
``auth.oauth = {domain, scopes, redirect_sign_in_uri: [...], redirect_sign_out_uri: [...],
response_type: "code", identity_providers?}``. Both are read here, when the hosted UI is first
used (a configuration made for a mobile app, with a custom-scheme redirect URI, still loads for
everything else). Every refusal is a :class:`ConfigError` naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from fsm_auth.config import AuthConfig, _is_loopback, _normalize_endpoint
from fsm_auth.errors import ConfigError

__all__ = ["HostedUIConfig", "hosted_ui_config"]


@attrs.frozen(repr=False)
class HostedUIConfig:
    """Where the hosted UI lives and how this app is registered with it."""

    domain: str
    """The hosted UI's base URL (``https://<domain>`` or a local emulator's ``http://...``)."""
    client_id: str
    client_secret: str | None
    redirect_uri: str
    """The loopback URI the client listens on for the sign-in redirect (RFC 8252)."""
    sign_out_uri: str | None
    scopes: tuple[str, ...]

    @property
    def authorize_url(self) -> str:
        """``/oauth2/authorize``."""
        return f"{self.domain}/oauth2/authorize"

    @property
    def token_url(self) -> str:
        """``/oauth2/token``."""
        return f"{self.domain}/oauth2/token"

    @property
    def revoke_url(self) -> str:
        """``/oauth2/revoke``."""
        return f"{self.domain}/oauth2/revoke"

    @property
    def logout_url(self) -> str:
        """``/logout``."""
        return f"{self.domain}/logout"

    def __repr__(self) -> str:
        return (
            f"HostedUIConfig(domain={self.domain!r}, client_id={self.client_id!r}, "
            f"redirect_uri={self.redirect_uri!r}, scopes={self.scopes!r})"
        )


def hosted_ui_config(config: AuthConfig) -> HostedUIConfig:
    """The hosted UI's settings; :class:`ConfigError` naming the key when the OAuth section is
    missing, incomplete or unusable here (a redirect URI that is not loopback ``http``)."""
    source = config.source or "<configuration>"
    oauth = config.oauth
    if oauth is None:
        raise ConfigError(
            f"{source}: the hosted UI is not configured: Auth.Default.OAuth "
            "(awsconfiguration.json) or auth.oauth (amplify_outputs.json) is missing"
        )
    if config.user_pool is None:
        raise ConfigError(f"{source}: the hosted UI needs a user pool (CognitoUserPool.Default)")
    gen2 = "WebDomain" not in oauth and "domain" in oauth
    base = "auth.oauth" if gen2 else "Auth.Default.OAuth"

    def where(key: str) -> str:
        return f"{base}.{key}"

    domain_key = "domain" if gen2 else "WebDomain"
    domain = _normalize_endpoint(_text(oauth, domain_key, source, where), source, where(domain_key))
    assert domain is not None  # _text refused a missing one
    redirect: str | None
    if gen2:
        redirect = _loopback_choice(oauth, "redirect_sign_in_uri", source, where, required=True)
        sign_out = _loopback_choice(oauth, "redirect_sign_out_uri", source, where, required=False)
        client_id = config.user_pool.app_client_id
    else:
        redirect = _redirect(_text(oauth, "SignInRedirectURI", source, where), source, where)
        raw_out = oauth.get("SignOutRedirectURI")
        if raw_out is not None and not isinstance(raw_out, str):
            raise ConfigError(f"{source}: {where('SignOutRedirectURI')} must be text")
        sign_out = raw_out or None
        client_id = oauth.get("AppClientId") or config.user_pool.app_client_id
        if client_id != config.user_pool.app_client_id:
            # Tokens are verified and refreshed as the user pool's app client's: another
            # client's tokens would fail both.
            raise ConfigError(
                f"{source}: {where('AppClientId')} must be the user pool's app client "
                "(CognitoUserPool.Default.AppClientId)"
            )
    scopes_key = "scopes" if gen2 else "Scopes"
    scopes = oauth.get(scopes_key, ["openid"])
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, Sequence) or not all(
        isinstance(s, str) and s and " " not in s for s in scopes
    ):
        raise ConfigError(f"{source}: {where(scopes_key)} must be a list of scope names")
    assert redirect is not None  # required above
    return HostedUIConfig(
        domain=domain,
        client_id=client_id,
        client_secret=config.user_pool.app_client_secret,
        redirect_uri=redirect,
        sign_out_uri=sign_out,
        scopes=tuple(scopes),
    )


def _text(oauth: Mapping[str, Any], key: str, source: str, where: Any) -> str:
    value = oauth.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{source}: {where(key)} is missing or not text")
    return value.strip()


def _redirect(uri: str, source: str, where: Any) -> str:
    """A loopback ``http://localhost:PORT/...`` or ``http://127.0.0.1:PORT/...`` URI."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme != "http" or not _is_loopback(parts.hostname or ""):
        raise ConfigError(
            f"{source}: {where('SignInRedirectURI')} must be a loopback http://localhost:PORT/... "
            f"or http://127.0.0.1:PORT/... URI (RFC 8252) for the client to listen on"
        )
    if port is None:
        raise ConfigError(f"{source}: {where('SignInRedirectURI')} needs an explicit port")
    return uri


def _loopback_choice(
    oauth: Mapping[str, Any], key: str, source: str, where: Any, *, required: bool
) -> str | None:
    """The first loopback URI of a Gen 2 list (an app may also list its web and mobile ones)."""
    values = oauth.get(key)
    if values is None and not required:
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{source}: {where(key)} must be a list of URIs")
    for value in values:
        parts = urlsplit(value)
        if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
            if required:
                return _redirect(value, source, lambda _key: where(key))
            return str(value)
    if required:
        raise ConfigError(
            f"{source}: {where(key)} lists no loopback http://localhost:PORT/... or "
            "http://127.0.0.1:PORT/... URI (RFC 8252) for the client to listen on"
        )
    return str(values[0]) if values else None
