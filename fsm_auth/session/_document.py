"""The saved form of a :class:`SessionRecord`: one JSON document, one schema version.

This module is the only place that knows the document's shape. Schema 2 (this release)::

    {"schema": 2,
     "user": null
           | {"kind": "user_pool", "username": ..., "tokens": {"id_token", "access_token",
              "refresh_token"}, "keys": {JWKS}, "identity": IDENTITY,
              "hosted_ui": true (only for a hosted-UI sign-in)}
           | {"kind": "federated", "provider": ..., "token": ..., "identity_id": ...,
              "custom_role_arn": ..., "identity": IDENTITY},
     "guest": {"identity_id": ..., "access": true | false | null, "credentials": CREDENTIALS},
     "devices": {username: {"key", "group_key", "password", "remembered", "login"}}}

``devices`` (this device as each user confirmed it; kept across sign-out) is optional: a
document without it (0.2's) has no device, and a release without devices ignores it.

    IDENTITY = {"identity_id": ..., "credentials": CREDENTIALS}
    CREDENTIALS = null | {"access_key_id", "secret_access_key", "session_token", "expiration"}

Schema 1 (fsm-auth 0.1: ``method``, ``username``, ``federation``, ``tokens``, ``jwks`` and an
``identity`` part with its own version) is migrated on load. The document holds secrets: it
is only ever written to an encrypted store.

Loading never raises for a bad document: an unknown schema means no session, and a malformed
or unverifiable part is dropped with a warning (the rest is kept), as AWSMobileClient drops a
corrupt keychain entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from fsm_auth._devices import DeviceSecret
from fsm_auth.errors import AuthError
from fsm_auth.provider import RawTokens
from fsm_auth.values import AWSCredentials, Tokens

from ._guest_rules import keeps_guest_credentials, saved_guest_access
from ._record import AWSIdentity, FederatedSession, GuestIdentity, SessionRecord, UserPoolSession

__all__ = ["SCHEMA", "Verify", "from_document", "migrate", "to_document"]

SCHEMA = 2
"""The schema version this release writes."""

Verify = Callable[[RawTokens, "Mapping[str, Any] | None"], Tokens]
"""``verify(raw, keys)``: the user-pool provider's check of saved tokens (expiry not checked:
expired tokens that the refresh token renews are still the session)."""

_log = logging.getLogger("fsm_auth.session")


# -- writing ----------------------------------------------------------------------------------


def to_document(record: SessionRecord, *, now: float) -> dict[str, Any]:
    """The document for ``record``; credentials that expired before ``now`` are left out."""
    return {
        "schema": SCHEMA,
        "user": _user_document(record, now),
        "guest": {
            "identity_id": record.guest.identity_id,
            "access": record.guest.access,
            "credentials": _credentials_document(record.guest.credentials, now),
        },
        **_devices_document(record),
    }


def _devices_document(record: SessionRecord) -> dict[str, Any]:
    """The ``devices`` part, only when there is a device (else the document is 0.2's)."""
    if not record.devices:
        return {}
    return {
        "devices": {
            username: {
                "key": device.key,
                "group_key": device.group_key,
                "password": device.password,
                "remembered": device.remembered,
                "login": device.login,
            }
            for username, device in record.devices.items()
        }
    }


def _user_document(record: SessionRecord, now: float) -> dict[str, Any] | None:
    user = record.user
    if user is None:
        return None
    identity = {
        "identity_id": user.identity.identity_id,
        "credentials": _credentials_document(user.identity.credentials, now),
    }
    if isinstance(user, UserPoolSession):
        # `hosted_ui` only when true: a password session's document is what 0.2 wrote.
        hosted: dict[str, Any] = {"hosted_ui": True} if user.hosted_ui else {}
        return {
            "kind": user.kind,
            "username": user.username,
            "tokens": {
                "id_token": user.tokens.id_token,
                "access_token": user.tokens.access_token,
                "refresh_token": user.tokens.refresh_token,
            },
            "keys": dict(user.keys) if user.keys is not None else None,
            "identity": identity,
            **hosted,
        }
    return {
        "kind": user.kind,
        "provider": user.provider,
        "token": user.token,
        "identity_id": user.identity_id,
        "custom_role_arn": user.custom_role_arn,
        "identity": identity,
    }


def _credentials_document(credentials: AWSCredentials | None, now: float) -> dict[str, str] | None:
    if credentials is None or credentials.expiration.timestamp() <= now:
        return None
    return {
        "access_key_id": credentials.access_key_id,
        "secret_access_key": credentials.secret_access_key,
        "session_token": credentials.session_token,
        "expiration": credentials.expiration.isoformat(),
    }


# -- reading ----------------------------------------------------------------------------------


def from_document(document: Mapping[str, Any] | None, *, verify: Verify) -> SessionRecord:
    """The record a saved document describes (migrated if older); an empty record when there
    is none or it cannot be read. ``verify`` checks saved user-pool tokens."""
    if not document:
        return SessionRecord()
    if not isinstance(document, Mapping):
        _log.warning("Ignoring a saved session that is not an object")
        return SessionRecord()
    migrated = migrate(document)
    if migrated is None:
        return SessionRecord()
    return SessionRecord(
        user=_user(migrated.get("user"), verify),
        guest=_guest(migrated.get("guest")),
        devices=_devices(migrated.get("devices")),
    )


def migrate(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """``document`` in this release's schema, or ``None`` (with a warning) when its schema is
    unknown. Schema 1 is fsm-auth 0.1's; a document without a schema is schema 1."""
    schema = document.get("schema", 1)
    if schema == SCHEMA:
        return dict(document)
    if schema in (1, None):
        return _from_schema_1(document)
    _log.warning("Ignoring a saved session of unknown schema %r", schema)
    return None


def _from_schema_1(old: Mapping[str, Any]) -> dict[str, Any]:
    identity = old.get("identity")
    if not isinstance(identity, Mapping) or identity.get("version") != 1:
        identity = {}
    mode = identity.get("mode")
    credentials = identity.get("credentials")
    user: dict[str, Any] | None = None
    method = old.get("method")
    if mode == "authenticated":
        user_identity = {"identity_id": identity.get("identity_id"), "credentials": credentials}
    else:
        user_identity = {"identity_id": None, "credentials": None}
    if method == "user_pool" and old.get("tokens"):
        user = {
            "kind": "user_pool",
            "username": old.get("username"),
            "tokens": old.get("tokens"),
            "keys": old.get("jwks"),
            "identity": user_identity,
        }
    elif method == "federated" and isinstance(old.get("federation"), Mapping):
        federation = old["federation"]
        user = {
            "kind": "federated",
            "provider": federation.get("provider"),
            "token": federation.get("token"),
            # 0.1 kept a developer-authenticated identity's own id here; the answered id is
            # the identity part's.
            "identity_id": federation.get("identity_id"),
            "custom_role_arn": federation.get("custom_role_arn"),
            "identity": user_identity,
        }
    return {
        "schema": SCHEMA,
        "user": user,
        "guest": {
            "identity_id": identity.get("guest_identity_id"),
            "access": identity.get("guest_access_known"),
            "credentials": credentials if mode == "guest" else None,
        },
    }


def _user(raw: Any, verify: Verify) -> UserPoolSession | FederatedSession | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        _log.warning("Ignoring the saved user: not an object")
        return None
    kind = raw.get("kind")
    identity = _identity(raw.get("identity"))
    if kind == "user_pool":
        return _user_pool_session(raw, identity, verify)
    if kind == "federated":
        provider, token = _text(raw.get("provider")), _text(raw.get("token"))
        if provider is None or token is None:
            _log.warning("Ignoring the saved federated session: no provider or token")
            return None
        return FederatedSession(
            provider=provider,
            token=token,
            identity_id=_text(raw.get("identity_id")),
            custom_role_arn=_text(raw.get("custom_role_arn")),
            identity=identity,
        )
    _log.warning("Ignoring a saved user of unknown kind %r", kind)
    return None


def _user_pool_session(
    raw: Mapping[str, Any], identity: AWSIdentity, verify: Verify
) -> UserPoolSession | None:
    tokens = raw.get("tokens")
    keys = raw.get("keys")
    if not isinstance(tokens, Mapping) or (keys is not None and not isinstance(keys, Mapping)):
        _log.warning("Ignoring the saved user-pool session: malformed tokens or keys")
        return None
    try:
        verified = verify(
            RawTokens(
                id_token=str(tokens["id_token"]),
                access_token=str(tokens["access_token"]),
                refresh_token=_text(tokens.get("refresh_token")),
            ),
            keys,
        )
    except Exception as exc:  # a malformed session must never stop a start-up
        # The type only: a verification message may quote a claim, never a token, but a
        # KeyError quotes what was missing.
        _log.warning(
            "The saved session did not verify; starting signed out (%s)",
            exc if isinstance(exc, AuthError) else type(exc).__name__,
        )
        return None
    username = verified.username or _text(raw.get("username"))
    if username is None:
        _log.warning("Ignoring the saved user-pool session: no user name")
        return None
    return UserPoolSession(
        username=username,
        tokens=verified,
        keys=keys,
        identity=identity,
        hosted_ui=raw.get("hosted_ui") is True,
    )


def _devices(raw: Any) -> dict[str, DeviceSecret]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        _log.warning("Ignoring the saved devices: not an object")
        return {}
    devices: dict[str, DeviceSecret] = {}
    for username, entry in raw.items():
        fields = entry if isinstance(entry, Mapping) else {}
        key, group, password = (_text(fields.get(k)) for k in ("key", "group_key", "password"))
        if not isinstance(username, str) or key is None or group is None or password is None:
            # Never the values: they are secrets. The device signs in as a new one next time.
            _log.warning("Ignoring a malformed saved device")
            continue
        devices[username] = DeviceSecret(
            key=key,
            group_key=group,
            password=password,
            remembered=fields.get("remembered") is True,
            login=_text(fields.get("login")),
        )
    return devices


def _identity(raw: Any) -> AWSIdentity:
    if not isinstance(raw, Mapping):
        return AWSIdentity()
    return AWSIdentity(
        identity_id=_text(raw.get("identity_id")),
        credentials=_credentials(raw.get("credentials")),
    )


def _guest(raw: Any) -> GuestIdentity:
    if not isinstance(raw, Mapping):
        return GuestIdentity()
    identity_id = _text(raw.get("identity_id"))
    access = saved_guest_access(identity_id, raw.get("access"))
    credentials = _credentials(raw.get("credentials"))
    if credentials is not None and not keeps_guest_credentials(identity_id, access):
        _log.warning("Ignoring saved guest credentials that belong to no allowed guest identity")
        credentials = None
    return GuestIdentity(identity_id=identity_id, credentials=credentials, access=access)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _credentials(raw: Any) -> AWSCredentials | None:
    if raw is None:
        return None
    try:
        if not isinstance(raw, Mapping):
            raise TypeError("not an object")
        return AWSCredentials(
            access_key_id=str(raw["access_key_id"]),
            secret_access_key=str(raw["secret_access_key"]),
            session_token=str(raw["session_token"]),
            expiration=datetime.fromisoformat(str(raw["expiration"])).astimezone(timezone.utc),
        )
    except (KeyError, TypeError, ValueError) as exc:
        # The kind of fault only: the values are secrets.
        _log.warning("Ignoring saved AWS credentials: %s", type(exc).__name__)
        return None
