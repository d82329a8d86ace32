"""The saved form of a session record (``fsm_auth.session._document``): schema 2 round trips,
the migration of fsm-auth 0.1's documents, and loading that never raises for a bad document
and never logs a secret."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import jwt
import pytest

from fsm_auth.errors import AuthError
from fsm_auth.provider import RawTokens
from fsm_auth.session._document import SCHEMA, from_document, migrate, to_document
from fsm_auth.session._record import (
    AWSIdentity,
    FederatedSession,
    GuestIdentity,
    SessionRecord,
    UserPoolSession,
)
from fsm_auth.values import AWSCredentials, Tokens

from ._factories import DEV_ID, GUEST_ID, NOW, USER_ID, creds

V0_1 = Path(__file__).parent.parent / "persistence" / "data" / "v0_1_documents.json"
JWKS = {"keys": [{"kid": "k1", "kty": "RSA", "alg": "RS256", "n": "AQAB-n", "e": "AQAB"}]}
EXPIRY = NOW + timedelta(hours=1)
NOW_TS = NOW.timestamp()


class FakeVerify:
    """``verify(raw, keys)``: Tokens from the raw tokens (``id-token-<name>-...``), recording
    what it was asked; raw tokens starting with ``bad`` fail as a real provider's would."""

    def __init__(self) -> None:
        self.calls: list[tuple[RawTokens, Mapping[str, Any] | None]] = []

    def __call__(self, raw: RawTokens, keys: Mapping[str, Any] | None) -> Tokens:
        self.calls.append((raw, keys))
        if raw.id_token.startswith("bad"):
            raise AuthError("The token signature does not verify")
        name = raw.id_token.split("-")[2]
        return Tokens(
            id_token=raw.id_token,
            access_token=raw.access_token,
            refresh_token=raw.refresh_token,
            expiration=EXPIRY,
            id_claims={"cognito:username": name},
            access_claims={"username": name},
        )


def verified(name: str = "ann") -> Tokens:
    raw = RawTokens(f"id-token-{name}-1", f"access-token-{name}-1", f"refresh-token-{name}")
    return FakeVerify()(raw, None)


def unverified_jwt(raw: RawTokens, keys: Mapping[str, Any] | None) -> Tokens:
    """A verify that decodes the JWTs without checking their signature (0.1's tokens were
    signed by an emulator key that is gone)."""
    options = {"verify_signature": False, "verify_exp": False}
    id_claims = jwt.decode(raw.id_token, options=options)
    access_claims = jwt.decode(raw.access_token, options=options)
    expiry = min(id_claims["exp"], access_claims["exp"])
    return Tokens(
        id_token=raw.id_token,
        access_token=raw.access_token,
        refresh_token=raw.refresh_token,
        expiration=datetime.fromtimestamp(expiry, timezone.utc),
        id_claims=id_claims,
        access_claims=access_claims,
    )


def session_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("fsm_auth.session")]


def assert_no_secret_logged(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> None:
    texts = [caplog.text] + [r.getMessage() for r in caplog.records]
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text


def same_session_id(restored: SessionRecord, original: SessionRecord) -> SessionRecord:
    """``restored`` with the original's in-memory session id (a restore makes a new one)."""
    if restored.user is None or original.user is None:
        return restored
    return attrs.evolve(
        restored, user=attrs.evolve(restored.user, session_id=original.user.session_id)
    )


def round_trip(rec: SessionRecord) -> tuple[dict[str, Any], SessionRecord]:
    document = json.loads(json.dumps(to_document(rec, now=NOW_TS)))
    return document, from_document(document, verify=FakeVerify())


# -- round trips ------------------------------------------------------------------------------

USER_POOL = SessionRecord(
    user=UserPoolSession(
        username="ann",
        tokens=verified("ann"),
        keys=JWKS,
        identity=AWSIdentity(USER_ID, creds("user")),
    ),
    guest=GuestIdentity(None, None, True),
)
FEDERATED = SessionRecord(
    user=FederatedSession(
        provider="cognito-identity.amazonaws.com",
        token="developer-token-of-ann",
        identity_id=DEV_ID,
        custom_role_arn="arn:aws:iam::123456789012:role/dev",
        identity=AWSIdentity(DEV_ID, creds("federated")),
    ),
    guest=GuestIdentity(GUEST_ID, creds("guest"), True),
)
GUEST = SessionRecord(guest=GuestIdentity(GUEST_ID, creds("guest"), True))
GUEST_REFUSED = SessionRecord(guest=GuestIdentity(None, None, False))
NOBODY = SessionRecord()


@pytest.mark.parametrize(
    "rec",
    [
        pytest.param(USER_POOL, id="user_pool"),
        pytest.param(FEDERATED, id="federated"),
        pytest.param(GUEST, id="guest"),
        pytest.param(GUEST_REFUSED, id="guest-refused"),
        pytest.param(NOBODY, id="none"),
    ],
)
def test_round_trip(rec: SessionRecord) -> None:
    document, restored = round_trip(rec)
    assert document["schema"] == SCHEMA == 2
    assert same_session_id(restored, rec) == rec
    assert restored.guest == rec.guest
    if isinstance(rec.user, UserPoolSession):
        assert isinstance(restored.user, UserPoolSession)
        assert restored.user.keys == JWKS  # keys are not part of equality: check them apart
        assert restored.user.tokens.refresh_token == "refresh-token-ann"


def test_user_pool_document_shape_and_verify_call() -> None:
    document = to_document(USER_POOL, now=NOW_TS)
    assert document["user"] == {
        "kind": "user_pool",
        "username": "ann",
        "tokens": {
            "id_token": "id-token-ann-1",
            "access_token": "access-token-ann-1",
            "refresh_token": "refresh-token-ann",
        },
        "keys": JWKS,
        "identity": {
            "identity_id": USER_ID,
            "credentials": {
                "access_key_id": "ASIAUSER",
                "secret_access_key": "secret-key-of-user",
                "session_token": "session-token-of-user",
                "expiration": (NOW + timedelta(hours=1)).isoformat(),
            },
        },
    }
    verify = FakeVerify()
    from_document(document, verify=verify)
    assert verify.calls == [
        (RawTokens("id-token-ann-1", "access-token-ann-1", "refresh-token-ann"), JWKS)
    ]


def test_federated_document_shape() -> None:
    user = to_document(FEDERATED, now=NOW_TS)["user"]
    assert {k: v for k, v in user.items() if k != "identity"} == {
        "kind": "federated",
        "provider": "cognito-identity.amazonaws.com",
        "token": "developer-token-of-ann",
        "identity_id": DEV_ID,
        "custom_role_arn": "arn:aws:iam::123456789012:role/dev",
    }


def test_expired_credentials_are_left_out() -> None:
    rec = SessionRecord(
        user=FederatedSession(
            provider="accounts.google.com",
            token="google-token-of-ann",
            identity=AWSIdentity(USER_ID, creds("user", expires_in=-1)),
        ),
        guest=GuestIdentity(GUEST_ID, creds("guest", expires_in=1), True),
    )
    document, restored = round_trip(rec)
    assert document["user"]["identity"] == {"identity_id": USER_ID, "credentials": None}
    assert document["guest"]["credentials"]["access_key_id"] == "ASIAGUEST"
    assert "secret-key-of-user" not in json.dumps(document)
    assert restored.user is not None
    assert restored.user.identity == AWSIdentity(USER_ID, None)
    assert restored.guest == GuestIdentity(GUEST_ID, creds("guest", expires_in=1), True)


def test_expired_guest_credentials_are_left_out() -> None:
    document = to_document(
        SessionRecord(guest=GuestIdentity(GUEST_ID, creds("guest", expires_in=-60), True)),
        now=NOW_TS,
    )
    assert document["guest"] == {"identity_id": GUEST_ID, "access": True, "credentials": None}


@pytest.mark.parametrize("document", [None, {}])
def test_no_document_is_no_session(document: dict[str, Any] | None) -> None:
    assert from_document(document, verify=FakeVerify()) == SessionRecord()


# -- schema 1 (fsm-auth 0.1) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def v0_1() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = json.loads(V0_1.read_text())
    return documents


def v0_1_credentials(old: Mapping[str, Any]) -> AWSCredentials:
    raw = old["identity"]["credentials"]
    return AWSCredentials(
        access_key_id=raw["access_key_id"],
        secret_access_key=raw["secret_access_key"],
        session_token=raw["session_token"],
        expiration=datetime(2026, 11, 30, 15, 12, 31, 986067, tzinfo=timezone.utc),
    )


def test_v0_1_user_pool_migrates(v0_1: dict[str, dict[str, Any]]) -> None:
    old = v0_1["v0_1_user_pool"]
    restored = from_document(copy.deepcopy(old), verify=unverified_jwt)
    user = restored.user
    assert isinstance(user, UserPoolSession)
    assert user.username == "ann"
    assert user.tokens.id_token == old["tokens"]["id_token"]
    assert user.tokens.access_token == old["tokens"]["access_token"]
    assert user.tokens.refresh_token == "0789626d-6187-40da-a4b5-748eccbfd9f4"
    assert user.tokens.id_claims["email"] == "ann@example.com"
    assert user.keys == old["jwks"]
    assert user.keys is not None
    assert user.keys["keys"][0]["kid"] == "dummy"
    assert user.identity == AWSIdentity(
        "us-east-1:04d6742e-5ff8-4532-8dca-863fdbd7e52b", v0_1_credentials(old)
    )
    assert user.identity.credentials is not None
    assert user.identity.credentials.access_key_id == "ASIA5YRG5TMNRHXLYXJW"
    assert restored.guest == GuestIdentity()


def test_v0_1_federated_migrates(v0_1: dict[str, dict[str, Any]]) -> None:
    old = v0_1["v0_1_federated"]
    restored = from_document(copy.deepcopy(old), verify=FakeVerify())
    user = restored.user
    assert isinstance(user, FederatedSession)
    assert (user.provider, user.token, user.identity_id, user.custom_role_arn) == (
        "accounts.google.com",
        "google-token-of-ann",
        None,
        None,
    )
    assert user.identity == AWSIdentity(
        "us-east-1:44ae824d-c91b-4f03-86c2-967a0b69a276", v0_1_credentials(old)
    )
    assert restored.guest == GuestIdentity()


def test_v0_1_guest_migrates(v0_1: dict[str, dict[str, Any]]) -> None:
    old = v0_1["v0_1_guest"]
    restored = from_document(copy.deepcopy(old), verify=FakeVerify())
    assert restored.user is None
    assert restored.guest == GuestIdentity(
        "us-east-1:f7be845c-cf80-4cf0-a0a3-00f1782eb9cb", v0_1_credentials(old), True
    )
    assert restored.guest.credentials is not None
    assert (
        restored.guest.credentials.secret_access_key
        == old["identity"]["credentials"]["secret_access_key"]
    )


def test_v0_1_migrate_writes_schema_2(v0_1: dict[str, dict[str, Any]]) -> None:
    migrated = migrate(v0_1["v0_1_federated"])
    assert migrated is not None
    assert migrated["schema"] == 2
    assert migrated["user"]["kind"] == "federated"
    assert migrated["user"]["identity"]["identity_id"] == (
        "us-east-1:44ae824d-c91b-4f03-86c2-967a0b69a276"
    )
    assert migrated["guest"] == {"identity_id": None, "access": None, "credentials": None}


def test_a_document_without_schema_is_schema_1(v0_1: dict[str, dict[str, Any]]) -> None:
    old = copy.deepcopy(v0_1["v0_1_guest"])
    del old["schema"]
    restored = from_document(old, verify=FakeVerify())
    assert restored.guest.identity_id == "us-east-1:f7be845c-cf80-4cf0-a0a3-00f1782eb9cb"


def test_v0_1_migration_logs_no_secret(
    v0_1: dict[str, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("v0_1_user_pool", "v0_1_federated", "v0_1_guest"):
        from_document(copy.deepcopy(v0_1[name]), verify=unverified_jwt)
    assert session_log(caplog) == []
    secrets = ["google-token-of-ann", "0789626d-6187-40da-a4b5-748eccbfd9f4"]
    for old in v0_1.values():
        secrets.append(old["identity"]["credentials"]["secret_access_key"])
        secrets.append(old["identity"]["credentials"]["session_token"])
    assert_no_secret_logged(caplog, secrets)


# -- bad documents ----------------------------------------------------------------------------


def test_unknown_schema_is_no_session_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fsm_auth.session")
    document = to_document(FEDERATED, now=NOW_TS)
    document["schema"] = 3
    assert from_document(document, verify=FakeVerify()) == SessionRecord()
    records = session_log(caplog)
    assert [(r.name, r.levelno) for r in records] == [("fsm_auth.session", logging.WARNING)]
    assert "3" in records[0].getMessage()
    assert_no_secret_logged(caplog, ["developer-token-of-ann", "secret-key-of-federated"])


def good_document() -> dict[str, Any]:
    """A user-pool document with a guest part, to be damaged by each test."""
    rec = attrs.evolve(USER_POOL, guest=GuestIdentity(GUEST_ID, creds("guest"), True))
    return json.loads(json.dumps(to_document(rec, now=NOW_TS)))


SECRETS = [
    "id-token-ann-1",
    "access-token-ann-1",
    "refresh-token-ann",
    "bad-id-token",
    "secret-key-of-user",
    "session-token-of-user",
    "secret-key-of-guest",
    "session-token-of-guest",
    "google-token-of-ann",
]


def _user_not_an_object(doc: dict[str, Any]) -> None:
    doc["user"] = ["ann", "id-token-ann-1"]


def _user_text(doc: dict[str, Any]) -> None:
    doc["user"] = "ann"


def _unknown_kind(doc: dict[str, Any]) -> None:
    doc["user"]["kind"] = "saml"


def _tokens_fail_verify(doc: dict[str, Any]) -> None:
    doc["user"]["tokens"]["id_token"] = "bad-id-token"


def _tokens_missing(doc: dict[str, Any]) -> None:
    del doc["user"]["tokens"]["access_token"]


def _tokens_not_an_object(doc: dict[str, Any]) -> None:
    doc["user"]["tokens"] = "id-token-ann-1"


def _keys_not_an_object(doc: dict[str, Any]) -> None:
    doc["user"]["keys"] = ["k1"]


def _federated_without_token(doc: dict[str, Any]) -> None:
    doc["user"] = {"kind": "federated", "provider": "accounts.google.com", "token": ""}


@pytest.mark.parametrize(
    "damage",
    [
        _user_not_an_object,
        _user_text,
        _unknown_kind,
        _tokens_fail_verify,
        _tokens_missing,
        _tokens_not_an_object,
        _keys_not_an_object,
        _federated_without_token,
    ],
)
def test_a_bad_user_is_dropped_with_a_warning_and_the_guest_kept(
    damage: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fsm_auth.session")
    document = good_document()
    damage(document)
    restored = from_document(document, verify=FakeVerify())
    assert restored.user is None
    assert restored.guest == GuestIdentity(GUEST_ID, creds("guest"), True)
    records = session_log(caplog)
    assert [r.levelno for r in records] == [logging.WARNING]
    assert_no_secret_logged(caplog, SECRETS)


def test_a_verify_failure_is_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fsm_auth.session")
    document = good_document()
    document["user"]["tokens"]["id_token"] = "bad-id-token"
    from_document(document, verify=FakeVerify())
    (warning,) = session_log(caplog)
    assert "does not verify" in warning.getMessage()
    assert_no_secret_logged(caplog, SECRETS)


def _bad_user_credentials(doc: dict[str, Any]) -> None:
    del doc["user"]["identity"]["credentials"]["session_token"]


def _bad_user_expiration(doc: dict[str, Any]) -> None:
    doc["user"]["identity"]["credentials"]["expiration"] = "next tuesday"


def _user_credentials_not_an_object(doc: dict[str, Any]) -> None:
    doc["user"]["identity"]["credentials"] = "secret-key-of-user"


@pytest.mark.parametrize(
    "damage", [_bad_user_credentials, _bad_user_expiration, _user_credentials_not_an_object]
)
def test_bad_user_credentials_are_dropped_and_the_rest_kept(
    damage: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fsm_auth.session")
    document = good_document()
    damage(document)
    restored = from_document(document, verify=FakeVerify())
    user = restored.user
    assert isinstance(user, UserPoolSession)
    assert user.username == "ann"
    assert user.tokens == verified("ann")
    assert user.identity == AWSIdentity(USER_ID, None)
    assert restored.guest == GuestIdentity(GUEST_ID, creds("guest"), True)
    assert_no_secret_logged(caplog, SECRETS)


@pytest.mark.parametrize("damage", [_bad_user_credentials, _bad_user_expiration])
def test_bad_credentials_are_dropped_with_a_warning(
    damage: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fsm_auth.session")
    document = good_document()
    damage(document)
    from_document(document, verify=FakeVerify())
    assert [r.levelno for r in session_log(caplog)] == [logging.WARNING]


def test_bad_guest_credentials_are_dropped_and_the_rest_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="fsm_auth.session")
    document = good_document()
    document["guest"]["credentials"]["expiration"] = 17
    restored = from_document(document, verify=FakeVerify())
    assert restored.guest == GuestIdentity(GUEST_ID, None, True)
    assert isinstance(restored.user, UserPoolSession)
    assert restored.user.identity == AWSIdentity(USER_ID, creds("user"))
    assert_no_secret_logged(caplog, SECRETS)


@pytest.mark.parametrize(
    ("guest", "expected"),
    [
        pytest.param(
            {"identity_id": GUEST_ID, "access": None}, GuestIdentity(GUEST_ID, None, True)
        ),
        pytest.param(
            {"identity_id": GUEST_ID, "access": "yes"}, GuestIdentity(GUEST_ID, None, True)
        ),
        pytest.param({"identity_id": None, "access": False}, GuestIdentity(None, None, False)),
        pytest.param({"identity_id": "", "access": None}, GuestIdentity(None, None, None)),
        pytest.param("guest", GuestIdentity()),
    ],
)
def test_guest_part(guest: Any, expected: GuestIdentity) -> None:
    document = {"schema": 2, "user": None, "guest": guest}
    assert from_document(document, verify=FakeVerify()) == SessionRecord(guest=expected)


def test_user_name_falls_back_to_the_saved_one() -> None:
    document = good_document()

    def nameless(raw: RawTokens, keys: Mapping[str, Any] | None) -> Tokens:
        return attrs.evolve(FakeVerify()(raw, keys), id_claims={}, access_claims={})

    restored = from_document(document, verify=nameless)
    assert isinstance(restored.user, UserPoolSession)
    assert restored.user.username == "ann"

    del document["user"]["username"]
    assert from_document(document, verify=nameless).user is None


@pytest.mark.parametrize(
    ("identity_id", "access"), [(None, None), (None, True), (GUEST_ID, False), (None, False)]
)
def test_guest_credentials_of_no_allowed_identity_are_dropped(
    identity_id: str | None, access: bool | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Kept, they would answer a signed-out client's try for guest credentials without the
    pool being asked, and the state could never become `guest` (a busy loop, found by
    tests/cli/test_saved_credentials.py)."""
    saved = creds("guest")
    document = {
        "schema": 2,
        "user": None,
        "guest": {
            "identity_id": identity_id,
            "access": access,
            "credentials": to_document(
                SessionRecord(guest=GuestIdentity(GUEST_ID, saved, True)), now=NOW_TS - 60
            )["guest"]["credentials"],
        },
    }
    with caplog.at_level(logging.WARNING, "fsm_auth.session"):
        record = from_document(document, verify=FakeVerify())
    assert record.guest.credentials is None
    assert record.guest.identity_id == identity_id
    assert "no allowed guest identity" in caplog.text
    assert saved.secret_access_key not in caplog.text
    # An allowed identity's credentials are kept.
    document["guest"].update(identity_id=GUEST_ID, access=True)
    assert from_document(document, verify=FakeVerify()).guest.credentials == saved
