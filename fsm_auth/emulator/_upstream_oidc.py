"""Federation with an upstream OpenID Connect identity provider, as Cognito does it.

The provider is registered on the pool (``CreateIdentityProvider``, ``ProviderType`` OIDC,
``ProviderDetails`` ``client_id``/``client_secret``/``authorize_scopes``/``oidc_issuer``/
``attributes_request_method``). Its endpoints come from
``<issuer>/.well-known/openid-configuration``; its id token is checked against its JWKS with
PyJWT (signature, ``iss``, ``aud``, ``exp``, ``nonce``). Every call is an HTTP request with
``requests``, made without the emulator's lock (the provider may be slow, or be this very
process's other server).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs
import jwt
import requests

from . import _moto
from ._web import with_query

# Signature algorithms accepted from an upstream provider: asymmetric ones only (an HMAC
# "signature" keyed with a public value would prove nothing).
_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
_TIMEOUT = 10.0
# Clock skew tolerated on the upstream's id token (judged by real time: the upstream stamps
# its tokens with real time, whatever the emulator's clock says).
_LEEWAY = 60


class UpstreamError(Exception):
    """The upstream provider failed or answered something unusable; ``description`` is
    what Cognito puts into ``error_description`` (no secret)."""

    def __init__(self, description: str, error: str = "invalid_request") -> None:
        super().__init__(description)
        self.description = description
        self.error = error


@attrs.frozen
class OidcProvider:
    """An OIDC identity provider of a pool, as registered (``ProviderDetails``)."""

    name: str
    issuer: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    scopes: str
    request_method: str
    attribute_mapping: Mapping[str, str]
    identifiers: tuple[str, ...]

    @classmethod
    def of(cls, provider: Any) -> OidcProvider | None:
        """The provider moto keeps, when it is an OIDC one."""
        config = provider.extended_config
        if config.get("ProviderType") != "OIDC":
            return None
        details = config.get("ProviderDetails") or {}
        return cls(
            name=str(provider.name),
            issuer=str(details.get("oidc_issuer", "")).rstrip("/"),
            client_id=str(details.get("client_id", "")),
            client_secret=str(details.get("client_secret", "")),
            scopes=str(details.get("authorize_scopes") or "openid"),
            request_method=str(details.get("attributes_request_method") or "GET").upper(),
            attribute_mapping=dict(config.get("AttributeMapping") or {}),
            identifiers=tuple(config.get("IdpIdentifiers") or ()),
        )


def providers_of(pool: _moto.CognitoIdpUserPool) -> dict[str, OidcProvider]:
    """The pool's OIDC identity providers, by name."""
    found: dict[str, OidcProvider] = {}
    for provider in pool.identity_providers.values():
        oidc = OidcProvider.of(provider)
        if oidc is not None:
            found[oidc.name] = oidc
    return found


@attrs.frozen
class Discovery:
    """The endpoints of an upstream provider's OpenID configuration."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    auth_methods: tuple[str, ...]
    algorithms: tuple[str, ...]


def discover(provider: OidcProvider) -> Discovery:
    """``<issuer>/.well-known/openid-configuration``, checked."""
    url = f"{provider.issuer}/.well-known/openid-configuration"
    try:
        answer = requests.get(url, timeout=_TIMEOUT)
        document = answer.json() if answer.status_code == 200 else None
    except (requests.RequestException, ValueError):
        document = None
    if not isinstance(document, dict):
        raise UpstreamError(f"{provider.name} Error - could not read its OpenID configuration")
    try:
        discovery = Discovery(
            issuer=str(document["issuer"]).rstrip("/"),
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
            userinfo_endpoint=(
                str(document["userinfo_endpoint"]) if document.get("userinfo_endpoint") else None
            ),
            # OpenID Connect Discovery's defaults when the document names none.
            auth_methods=tuple(
                document.get("token_endpoint_auth_methods_supported") or ("client_secret_basic",)
            ),
            algorithms=tuple(document.get("id_token_signing_alg_values_supported") or ("RS256",)),
        )
    except KeyError as missing:
        raise UpstreamError(
            f"{provider.name} Error - its OpenID configuration lacks {missing.args[0]}"
        ) from None
    if discovery.issuer != provider.issuer:
        # OpenID Connect Discovery section 4.3: the document must name the issuer asked.
        raise UpstreamError(
            f"{provider.name} Error - its OpenID configuration names another issuer"
        )
    return discovery


def authorize_url(
    provider: OidcProvider, discovery: Discovery, redirect_uri: str, state: str, nonce: str
) -> str:
    """Where the browser signs in at the provider (authorization code flow)."""
    return with_query(
        discovery.authorization_endpoint,
        {
            "client_id": provider.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": provider.scopes,
            "state": state,
            "nonce": nonce,
        },
    )


def exchange(
    provider: OidcProvider, discovery: Discovery, code: str, redirect_uri: str
) -> Mapping[str, Any]:
    """The upstream code for the provider's tokens (client_secret_basic unless the provider
    takes only client_secret_post)."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    auth: tuple[str, str] | None = None
    if "client_secret_basic" in discovery.auth_methods or not discovery.auth_methods:
        # RFC 6749 section 2.3.1: both parts form-encoded before the Basic encoding.
        auth = (quote(provider.client_id, safe=""), quote(provider.client_secret, safe=""))
    elif "client_secret_post" in discovery.auth_methods:
        data.update(client_id=provider.client_id, client_secret=provider.client_secret)
    else:
        raise UpstreamError(f"{provider.name} Error - no supported client authentication")
    try:
        answer = requests.post(discovery.token_endpoint, data=data, auth=auth, timeout=_TIMEOUT)
    except requests.Timeout:
        raise UpstreamError("Timeout occurred in calling IdP token endpoint") from None
    except requests.RequestException:
        raise UpstreamError("Connection reset") from None
    if answer.status_code != 200:
        raise UpstreamError(f"{provider.name} Error - {answer.status_code} error getting token")
    try:
        document = answer.json()
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("id_token"), str):
        raise UpstreamError(f"{provider.name} Error - the token answer has no id token")
    return document


def verify_id_token(
    provider: OidcProvider, discovery: Discovery, id_token: str, nonce: str
) -> dict[str, Any]:
    """The claims of the upstream id token, once its signature (the provider's JWKS), issuer,
    audience, expiry and nonce are right."""
    try:
        keys = requests.get(discovery.jwks_uri, timeout=_TIMEOUT).json()
        key_set = jwt.PyJWKSet.from_dict(keys)
    except requests.Timeout:
        raise UpstreamError("Timeout in calling jwks uri") from None
    except (requests.RequestException, ValueError, jwt.PyJWTError):
        raise UpstreamError(f"{provider.name} Error - could not read its JWKS") from None
    try:
        header = jwt.get_unverified_header(id_token)
        kid = header.get("kid")
        candidates = [k for k in key_set.keys if kid is None or k.key_id == kid]
        if not candidates:
            raise UpstreamError(f"{provider.name} Error - the id token's key is not in its JWKS")
        algorithms = sorted(_ALGORITHMS & set(discovery.algorithms))
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=candidates[0],
            algorithms=algorithms,
            audience=provider.client_id,
            issuer=discovery.issuer,
            leeway=_LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise UpstreamError(
            f"{provider.name} Error - invalid id token ({type(error).__name__})"
        ) from None
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise UpstreamError(f"{provider.name} Error - the id token does not answer this sign-in")
    return claims


def user_info(
    provider: OidcProvider, discovery: Discovery, access_token: str | None
) -> dict[str, Any]:
    """The provider's userInfo claims (``attributes_request_method`` GET or POST); empty
    when it has no such endpoint or no access token was issued."""
    if discovery.userinfo_endpoint is None or not access_token:
        return {}
    headers = {"Authorization": f"Bearer {access_token}"}
    try:
        if provider.request_method == "POST":
            answer = requests.post(discovery.userinfo_endpoint, headers=headers, timeout=_TIMEOUT)
        else:
            answer = requests.get(discovery.userinfo_endpoint, headers=headers, timeout=_TIMEOUT)
        document = answer.json() if answer.status_code == 200 else {}
    except (requests.RequestException, ValueError):
        raise UpstreamError(f"{provider.name} Error - could not read its userInfo") from None
    return document if isinstance(document, dict) else {}


def mapped_attributes(provider: OidcProvider, claims: Mapping[str, Any]) -> dict[str, str]:
    """The pool attributes ``AttributeMapping`` makes of the provider's claims (``username``
    is not an attribute: a federated user is always named ``<provider>_<sub>``)."""
    attributes: dict[str, str] = {}
    for attribute, claim in provider.attribute_mapping.items():
        if attribute == "username" or claim not in claims:
            continue
        value = claims[claim]
        if isinstance(value, bool):
            attributes[attribute] = "true" if value else "false"
        elif value is not None:
            attributes[attribute] = str(value)
    return attributes
