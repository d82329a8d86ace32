"""Provisioning: a user pool, app client, identity pool and bucket, straight into moto."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any, Literal

import attrs

from . import _moto

MfaMode = Literal["OFF", "OPTIONAL", "ON"]
DEFAULT_FLOWS = (
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_CUSTOM_AUTH",
)
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
        config: dict[str, Any] = {
            "UserAgent": "aws-amplify/cli",
            "Version": "0.1.0",
            "IdentityManager": {"Default": {}},
            "CognitoUserPool": {"Default": user_pool},
            "Auth": {"Default": {"authenticationFlowType": flow}},
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
) -> Provisioned:
    """Create the resources in moto's backends directly (no HTTP, nothing recorded)."""
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
    if username_attributes:
        # moto then gives each user a UUID user name (= sub) and finds them by the attribute.
        pool_config["UsernameAttributes"] = list(username_attributes)
    if alias_attributes:
        pool_config["AliasAttributes"] = list(alias_attributes)
    pool = backend.create_user_pool(name, pool_config)
    if mfa != "OFF":
        backend.set_user_pool_mfa_config(
            pool.id,
            {"SmsAuthenticationMessage": "Your code is {####}", "SmsConfiguration": {}},
            {"Enabled": True},
            mfa,
        )
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
        # moto puts only readable attributes into id tokens (the real default: all of them).
        "ReadAttributes": list(_READABLE),
    }
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
