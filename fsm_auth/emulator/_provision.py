"""Provisioning: a user pool, app client, identity pool and bucket, straight into moto."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlencode

import attrs

from . import _moto

MfaMode = Literal["OFF", "OPTIONAL", "ON"]
DEFAULT_FLOWS = (
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_CUSTOM_AUTH",
)
# What provision(hosted_ui=True) allows the app client (AllowedOAuthScopes) ...
OAUTH_SCOPES = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")
# ... and what the written configuration asks for (Amplify's usual set).
CONFIG_SCOPES = ("openid", "email", "profile", "aws.cognito.signin.user.admin")
# The app client settings UpdateUserPoolClient takes (it resets any it is not given).
_CLIENT_SETTINGS = (
    "ClientName", "RefreshTokenValidity", "AccessTokenValidity", "IdTokenValidity",
    "TokenValidityUnits", "ReadAttributes", "WriteAttributes", "ExplicitAuthFlows",
    "SupportedIdentityProviders", "CallbackURLs", "LogoutURLs", "DefaultRedirectURI",
    "AllowedOAuthFlows", "AllowedOAuthScopes", "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration", "PreventUserExistenceErrors", "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData", "AuthSessionValidity", "RefreshTokenRotation",
)  # fmt: skip
_counter = itertools.count(1)
_READABLE = (
    "address",
    "birthdate",
    "email",
    "email_verified",
    "family_name",
    "gender",
    "given_name",
    "locale",
    "middle_name",
    "name",
    "nickname",
    "phone_number",
    "phone_number_verified",
    "picture",
    "preferred_username",
    "profile",
    "updated_at",
    "website",
    "zoneinfo",
)


@attrs.frozen
class Provisioned:
    """What :meth:`Emulator.provision` created, and the client configuration for it."""

    region: str
    user_pool_id: str
    client_id: str
    client_secret: str | None = attrs.field(repr=False)
    identity_pool_id: str | None
    bucket: str | None
    endpoint: str
    allow_guest: bool = True
    redirect_uri: str | None = None
    """The app client's sign-in callback URL (``hosted_ui=True``): a loopback
    ``http://127.0.0.1:<port>/callback`` on a port that was free at provision time."""
    sign_out_uri: str | None = None
    """The app client's sign-out URL (``hosted_ui=True``), on the same port."""

    @property
    def hosted_ui(self) -> bool:
        """Whether the app client is set up for the hosted UI."""
        return self.redirect_uri is not None

    @property
    def hosted_ui_domain(self) -> str:
        """Where the hosted UI lives: the emulator's own URL (Cognito's user pool domain)."""
        return self.endpoint

    def authorize_url(self, **params: str) -> str:
        """``/oauth2/authorize`` for this app client: ``client_id``, ``response_type=code``
        and (when set up) ``redirect_uri``, plus ``params`` (which may replace them)."""
        query: dict[str, str] = {"client_id": self.client_id, "response_type": "code"}
        if self.redirect_uri is not None:
            query["redirect_uri"] = self.redirect_uri
        query.update(params)
        return f"{self.endpoint}/oauth2/authorize?{urlencode(query)}"

    def add_oidc_provider(
        self,
        name: str,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: str = "openid email",
        attribute_mapping: Mapping[str, str] | None = None,
        idp_identifiers: Sequence[str] = (),
        attributes_request_method: str = "GET",
    ) -> None:
        """Register an upstream OpenID Connect provider on the pool and let the app client
        use it, with the admin calls one would make against Cognito: CreateIdentityProvider
        (``ProviderType`` OIDC), then UpdateUserPoolClient with ``name`` added to
        ``SupportedIdentityProviders`` (every other setting given again, since the update
        resets what it is not given). ``attribute_mapping``: pool attribute -> provider claim
        (default ``{"email": "email"}``); ``idp_identifiers``: names that ``idp_identifier``
        may use for it; ``attributes_request_method``: how its userInfo is asked (GET/POST).
        """
        idp = admin_client(self.endpoint)
        provider: dict[str, Any] = {
            "UserPoolId": self.user_pool_id,
            "ProviderName": name,
            "ProviderType": "OIDC",
            "ProviderDetails": {
                "client_id": client_id,
                "client_secret": client_secret,
                "authorize_scopes": scopes,
                "oidc_issuer": issuer,
                "attributes_request_method": attributes_request_method,
            },
            "AttributeMapping": dict(attribute_mapping or {"email": "email"}),
        }
        if idp_identifiers:
            provider["IdpIdentifiers"] = list(idp_identifiers)
        idp.create_identity_provider(**provider)
        described = idp.describe_user_pool_client(
            UserPoolId=self.user_pool_id, ClientId=self.client_id
        )["UserPoolClient"]
        settings = {k: described[k] for k in _CLIENT_SETTINGS if k in described}
        supported = list(settings.get("SupportedIdentityProviders") or [])
        if name not in supported:
            supported.append(name)
        settings["SupportedIdentityProviders"] = supported
        idp.update_user_pool_client(
            UserPoolId=self.user_pool_id, ClientId=self.client_id, **settings
        )

    def aws_configuration(self, flow: str = "USER_SRP_AUTH") -> dict[str, Any]:
        """An ``awsconfiguration.json`` document pointing at the emulator."""
        user_pool: dict[str, Any] = {
            "PoolId": self.user_pool_id,
            "AppClientId": self.client_id,
            "Region": self.region,
            "Endpoint": self.endpoint,
        }
        if self.client_secret is not None:
            user_pool["AppClientSecret"] = self.client_secret
        auth: dict[str, Any] = {"authenticationFlowType": flow}
        if self.redirect_uri is not None:
            oauth: dict[str, Any] = {
                "WebDomain": self.hosted_ui_domain,
                "AppClientId": self.client_id,
                "SignInRedirectURI": self.redirect_uri,
                "Scopes": list(CONFIG_SCOPES),
            }
            if self.sign_out_uri is not None:
                oauth["SignOutRedirectURI"] = self.sign_out_uri
            auth["OAuth"] = oauth
        config: dict[str, Any] = {
            "UserAgent": "aws-amplify/cli",
            "Version": "0.1.0",
            "IdentityManager": {"Default": {}},
            "CognitoUserPool": {"Default": user_pool},
            "Auth": {"Default": auth},
        }
        if self.identity_pool_id is not None:
            config["CredentialsProvider"] = {
                "CognitoIdentity": {
                    "Default": {
                        "PoolId": self.identity_pool_id,
                        "Region": self.region,
                        "Endpoint": self.endpoint,
                    }
                }
            }
        if self.bucket is not None:
            config["S3TransferUtility"] = {
                "Default": {"Bucket": self.bucket, "Region": self.region}
            }
        return config

    def amplify_outputs(self) -> dict[str, Any]:
        """An ``amplify_outputs.json`` (Gen 2) document; Gen 2 has no endpoint field, so the
        emulator's URL is under ``custom.fsm_auth_endpoint`` (pass it as ``endpoint_url``)."""
        auth: dict[str, Any] = {
            "aws_region": self.region,
            "user_pool_id": self.user_pool_id,
            "user_pool_client_id": self.client_id,
            "unauthenticated_identities_enabled": self.allow_guest,
        }
        if self.identity_pool_id is not None:
            auth["identity_pool_id"] = self.identity_pool_id
        if self.redirect_uri is not None:
            auth["oauth"] = {
                "domain": self.hosted_ui_domain,
                "scopes": list(CONFIG_SCOPES),
                "redirect_sign_in_uri": [self.redirect_uri],
                "redirect_sign_out_uri": [self.sign_out_uri] if self.sign_out_uri else [],
                "response_type": "code",
                # Gen 2 lists only the social providers here (GOOGLE, FACEBOOK...); an OIDC
                # provider is named in the sign-in request instead.
                "identity_providers": [],
            }
        outputs: dict[str, Any] = {
            "version": "1.3",
            "auth": auth,
            "custom": {"fsm_auth_endpoint": self.endpoint},
        }
        if self.bucket is not None:
            outputs["storage"] = {"aws_region": self.region, "bucket_name": self.bucket}
        return outputs


def provision(
    endpoint: str,
    patch: Callable[[_moto.CognitoIdpUserPool], None],
    *,
    client_secret: bool,
    mfa: MfaMode,
    allow_guest: bool,
    auth_flows: tuple[str, ...],
    access_token_minutes: int,
    id_token_minutes: int,
    refresh_token_days: int,
    with_identity_pool: bool,
    bucket: str | None,
    username_attributes: tuple[str, ...] = (),
    alias_attributes: tuple[str, ...] = (),
    hosted_ui: bool = False,
    device_tracking: str | None = None,
    challenge_required_on_new_device: bool = True,
    refresh_token_rotation: bool = False,
    refresh_grace_seconds: int = 60,
    mfa_types: tuple[str, ...] = ("SMS", "TOTP"),
    first_factors: tuple[str, ...] | None = None,
    custom_challenges: Sequence[Mapping[str, Any]] | None = None,
) -> Provisioned:
    """Create the resources in moto's backends directly (no HTTP, nothing recorded)."""
    from . import _custom_auth
    from ._mfa import check_mfa_types, configure_pool
    from ._passwordless import check_first_factors, sign_in_policy

    check_mfa_types(mfa_types)
    factors = check_first_factors(first_factors, mfa)
    if factors is None and "ALLOW_USER_AUTH" in auth_flows:
        raise ValueError(
            "auth_flows allows USER_AUTH but first_factors is None: give the pool's first "
            'factors (e.g. first_factors=("PASSWORD",))'
        )
    if factors is not None and "ALLOW_USER_AUTH" not in auth_flows:
        auth_flows = (*auth_flows, "ALLOW_USER_AUTH")
    rounds = _custom_auth.check_custom_challenges(custom_challenges)
    from ._rotation import rotation_config

    rotation = rotation_config(refresh_token_rotation, refresh_grace_seconds)
    if refresh_token_rotation:
        # AWS: a rotating client must not allow REFRESH_TOKEN_AUTH (GetTokensFromRefreshToken
        # refreshes there).
        auth_flows = tuple(f for f in auth_flows if f != "ALLOW_REFRESH_TOKEN_AUTH")
    from ._devices import device_configuration

    devices = device_configuration(device_tracking, challenge_required_on_new_device)
    if mfa not in ("OFF", "OPTIONAL", "ON"):
        raise ValueError(f"mfa must be OFF, OPTIONAL or ON, not {mfa!r}")
    _check_sign_in_attributes(username_attributes, alias_attributes)
    backend = _moto.idp()
    name = f"fsm-auth-{next(_counter)}"
    pool_config: dict[str, Any] = {
        "AutoVerifiedAttributes": ["email"],
        "MfaConfiguration": mfa,
        "UsernameConfiguration": {"CaseSensitive": False},
        "Policies": {"PasswordPolicy": dict(_moto.DEFAULT_PASSWORD_POLICY)},
    }
    if factors is not None:
        # Choice-based sign-in (USER_AUTH): what DescribeUserPool shows as the sign-in policy.
        pool_config["Policies"]["SignInPolicy"] = sign_in_policy(factors)
    if username_attributes:
        # moto then gives each user a UUID user name (= sub) and finds them by the attribute.
        pool_config["UsernameAttributes"] = list(username_attributes)
    if alias_attributes:
        pool_config["AliasAttributes"] = list(alias_attributes)
    if devices is not None:
        pool_config["DeviceConfiguration"] = devices
    pool = backend.create_user_pool(name, pool_config)
    # The MFA types the pool offers: moto's SMS/TOTP configuration, e-mail beside it (_mfa).
    configure_pool(pool, mfa_types, mfa)
    # What the custom flow's Lambda triggers would ask and expect (_custom_auth).
    _custom_auth.configure_pool(pool, rounds)
    client_config: dict[str, Any] = {
        "ClientName": name,
        "ExplicitAuthFlows": list(auth_flows),
        "AccessTokenValidity": access_token_minutes,
        "IdTokenValidity": id_token_minutes,
        "RefreshTokenValidity": refresh_token_days,
        "TokenValidityUnits": {
            "AccessToken": "minutes",
            "IdToken": "minutes",
            "RefreshToken": "days",
        },
        "EnableTokenRevocation": True,
        "RefreshTokenRotation": rotation,
        # moto puts only readable attributes into id tokens (the real default: all of them).
        "ReadAttributes": list(_READABLE),
    }
    redirect_uri = sign_out_uri = None
    if hosted_ui:
        # The client listens on this port for the redirect (RFC 8252 loopback redirect).
        port = free_loopback_port()
        redirect_uri = f"http://127.0.0.1:{port}/callback"
        sign_out_uri = f"http://127.0.0.1:{port}/signed-out"
        client_config.update(
            AllowedOAuthFlows=["code"],
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=list(OAUTH_SCOPES),
            SupportedIdentityProviders=["COGNITO"],
            CallbackURLs=[redirect_uri],
            LogoutURLs=[sign_out_uri],
        )
    client = backend.create_user_pool_client(pool.id, client_secret, client_config)
    patch(pool)
    identity_pool_id = None
    if with_identity_pool:
        created = _moto.cognitoidentity_backends[_moto.ACCOUNT][_moto.REGION].create_identity_pool(
            identity_pool_name=name,
            allow_unauthenticated_identities=allow_guest,
            supported_login_providers={},
            developer_provider_name="login.fsm-auth.dev",
            open_id_connect_provider_arns=[],
            cognito_identity_providers=[
                {
                    "ProviderName": f"cognito-idp.{_moto.REGION}.amazonaws.com/{pool.id}",
                    "ClientId": client.id,
                    "ServerSideTokenCheck": False,
                }
            ],
            saml_provider_arns=[],
            tags={},
        )
        identity_pool_id = str(json.loads(created)["IdentityPoolId"])
    if bucket is not None:
        _moto.ensure_bucket(bucket)
    return Provisioned(
        region=_moto.REGION,
        user_pool_id=pool.id,
        client_id=client.id,
        client_secret=client.secret if client_secret else None,
        identity_pool_id=identity_pool_id,
        bucket=bucket,
        endpoint=endpoint,
        allow_guest=allow_guest,
        redirect_uri=redirect_uri,
        sign_out_uri=sign_out_uri,
    )


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (each provisioned client gets its own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def admin_client(endpoint: str, service: str = "cognito-idp") -> Any:
    """A boto3 client for ``service`` at ``endpoint``, with dummy credentials."""
    import boto3

    return boto3.client(
        service,
        region_name=_moto.REGION,
        endpoint_url=endpoint,
        aws_access_key_id="AKIAEMULATORADMIN000",
        aws_secret_access_key="emulator-admin-secret",  # not a secret: moto ignores it
    )


_USERNAME_ATTRIBUTES = frozenset({"email", "phone_number"})
_ALIAS_ATTRIBUTES = frozenset({"email", "phone_number", "preferred_username"})


def _check_sign_in_attributes(username: tuple[str, ...], alias: tuple[str, ...]) -> None:
    """Refuse what Cognito refuses: both kinds at once, or attributes it does not allow."""
    if username and alias:
        raise ValueError("username_attributes and alias_attributes are mutually exclusive")
    if not set(username) <= _USERNAME_ATTRIBUTES:
        raise ValueError(f"username_attributes may hold only email and phone_number: {username}")
    if not set(alias) <= _ALIAS_ATTRIBUTES:
        raise ValueError(
            f"alias_attributes may hold only email, phone_number, preferred_username: {alias}"
        )
