"""Small, deterministic values for the session-record unit tests (no server, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fsm_auth.session._record import (
    AWSIdentity,
    FederatedSession,
    GuestIdentity,
    SessionRecord,
    User,
    UserPoolSession,
)
from fsm_auth.values import AWSCredentials, Tokens

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)

USER_ID = "us-east-1:00000000-0000-4000-8000-0000000000aa"
GUEST_ID = "us-east-1:00000000-0000-4000-8000-0000000000bb"
MERGED_ID = "us-east-1:00000000-0000-4000-8000-0000000000cc"
NEW_ID = "us-east-1:00000000-0000-4000-8000-0000000000dd"
DEV_ID = "us-east-1:00000000-0000-4000-8000-0000000000ee"
OTHER_GUEST_ID = "us-east-1:00000000-0000-4000-8000-0000000000ff"


def creds(name: str, *, expires_in: float = 3600.0) -> AWSCredentials:
    """Credentials whose every secret names ``name`` (so a test can look for them)."""
    return AWSCredentials(
        access_key_id=f"ASIA{name.upper()}",
        secret_access_key=f"secret-key-of-{name}",
        session_token=f"session-token-of-{name}",
        expiration=NOW + timedelta(seconds=expires_in),
    )


def tokens(name: str = "ann", *, generation: int = 1) -> Tokens:
    return Tokens(
        id_token=f"id-token-{name}-{generation}",
        access_token=f"access-token-{name}-{generation}",
        refresh_token=f"refresh-token-{name}",
        expiration=NOW + timedelta(hours=1),
        id_claims={"cognito:username": name},
        access_claims={"username": name},
    )


def pool_user(
    identity_id: str | None = None,
    credentials: AWSCredentials | None = None,
    *,
    session_id: int = 1,
    name: str = "ann",
) -> UserPoolSession:
    return UserPoolSession(
        username=name,
        tokens=tokens(name),
        identity=AWSIdentity(identity_id, credentials),
        session_id=session_id,
    )


def federated_user(
    identity_id: str | None = None,
    credentials: AWSCredentials | None = None,
    *,
    given: str | None = None,
    session_id: int = 1,
    role: str | None = None,
) -> FederatedSession:
    return FederatedSession(
        provider="accounts.google.com",
        token="google-token-of-ann",
        identity_id=given,
        custom_role_arn=role,
        identity=AWSIdentity(identity_id, credentials),
        session_id=session_id,
    )


def guest(
    identity_id: str | None = None,
    credentials: AWSCredentials | None = None,
    access: bool | None = None,
) -> GuestIdentity:
    return GuestIdentity(identity_id, credentials, access)


def record(
    user: User | None = None, guest_identity: GuestIdentity | None = None, epoch: int = 0
) -> SessionRecord:
    return SessionRecord(user=user, guest=guest_identity or GuestIdentity(), epoch=epoch)
