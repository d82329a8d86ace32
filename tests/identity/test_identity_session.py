"""IdentitySession on the emulator: ids, caching, single flight, merges, refusals, timers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth.config import AuthConfig
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.errors import (
    GuestAccessNotAllowedError,
    InvalidParameterError,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
)
from fsm_auth.session._identity import IdentitySession
from fsm_auth.values import AWSCredentials, IdentityProvider

pytestmark = pytest.mark.timeout(60)

MakeSession = Callable[..., IdentitySession]
HOUR = 3600.0


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def gets(emulator: Emulator) -> tuple[int, int]:
    """(GetId, GetCredentialsForIdentity) requests so far."""
    return emulator.count("GetId"), emulator.count("GetCredentialsForIdentity")


# -- guest ----------------------------------------------------------------------------------


def test_guest_identity_and_credentials(make_session: MakeSession, emulator: Emulator) -> None:
    changes: list[str | None] = []
    session = make_session(on_change=lambda: changes.append(session.mode))
    assert session.mode is None
    assert session.guest_access_known is None
    with pytest.raises(NotSignedInError):
        session.get_credentials()
    session.use_guest()
    assert session.mode == "guest"
    emulator.reset_requests()
    identity_id = session.get_identity_id()
    credentials = session.get_credentials()
    assert gets(emulator) == (1, 1)
    assert session.identity_id == session.guest_identity_id == identity_id
    assert session.guest_access_known is True
    assert credentials.access_key_id.startswith("ASIA")
    assert changes  # persisted after the id and the credentials arrived
    # Cached: zero requests, the very same credentials.
    for _ in range(100):
        assert session.get_credentials() is credentials
        assert session.get_identity_id() == identity_id
    assert emulator.count() == 2


def test_guest_refused(emulator: Emulator, make_session: MakeSession, make_context: Any) -> None:
    from fsm_auth.config import load_config

    pool = emulator.provision(allow_guest=False)
    session = make_session(load_config(pool.aws_configuration()))
    session.use_guest()
    with pytest.raises(GuestAccessNotAllowedError):
        session.get_credentials()
    with pytest.raises(GuestAccessNotAllowedError):
        session.get_identity_id()
    assert session.guest_identity_id is None
    assert session.guest_access_known is False
    assert session.export()["guest_access_known"] is False


def test_a_kept_guest_id_the_pool_forgot_is_replaced(
    make_session: MakeSession, emulator: Emulator
) -> None:
    session = make_session()
    session.restore(
        {"version": 1, "mode": "guest", "guest_identity_id": "us-east-1:not-a-known-identity"},
        None,
    )
    credentials = session.get_credentials()
    assert credentials.session_token
    assert session.guest_identity_id not in (None, "us-east-1:not-a-known-identity")


def test_background_guest_refresh_and_close(
    make_session: MakeSession, emulator: Emulator, clock: FakeClock
) -> None:
    session = make_session(background_guest_refresh=True, timer_interval=0.02)
    session.use_guest()
    first = session.get_credentials()
    before = emulator.count("GetCredentialsForIdentity")
    # Into the refresh-ahead window (the last ~15 minutes): nobody asks, the timer refreshes.
    clock.advance(HOUR - 10 * 60)
    assert wait_until(lambda: emulator.count("GetCredentialsForIdentity") == before + 1)
    # export() reads what the session holds without fetching anything.
    assert wait_until(
        lambda: session.export()["credentials"]["access_key_id"] != first.access_key_id
    )
    refreshed = session.get_credentials()
    assert refreshed.access_key_id != first.access_key_id
    assert refreshed.expiration > first.expiration
    assert emulator.count("GetCredentialsForIdentity") == before + 1
    session.close()
    assert not [t for t in threading.enumerate() if t.name == "fsm-auth-guest-credentials"]
    clock.advance(HOUR)
    time.sleep(0.2)
    assert emulator.count("GetCredentialsForIdentity") == before + 1
    # Calls still work after close(), refreshing in the caller when they must.
    assert session.get_credentials().access_key_id != refreshed.access_key_id


def test_failed_background_refresh_keeps_serving(
    make_session: MakeSession, emulator: Emulator, clock: FakeClock
) -> None:
    session = make_session(background_guest_refresh=True, timer_interval=0.02)
    session.use_guest()
    first = session.get_credentials()
    fault = emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", status=500))
    clock.advance(HOUR - 10 * 60)
    assert wait_until(lambda: fault.hits >= 1)
    assert session.get_credentials() is first  # still valid: served, no error
    emulator.faults.clear()
    # The failure may still be on its way back: move time on until the back-off has passed.
    assert wait_until(lambda: clock.advance(1) > 0 and session.get_credentials() is not first)


# -- authenticated --------------------------------------------------------------------------


def test_user_pool_login_and_request_counts(
    make_session: MakeSession,
    emulator: Emulator,
    sign_in_user: Callable[[], dict[str, Any]],
    user_pool_key: str,
) -> None:
    tokens = sign_in_user()
    session = make_session()
    emulator.reset_requests()
    session.authenticate(lambda: {user_pool_key: tokens["IdToken"]})
    assert emulator.count() == 0  # no network call
    assert session.mode == "authenticated"
    assert session.identity_id is None
    session.prefetch()
    assert gets(emulator) == (1, 1)  # identity id unknown: GetId + GetCredentialsForIdentity
    identity_id = session.get_identity_id()
    session.get_credentials()
    assert emulator.count() == 2
    assert session.identity_id == identity_id


def test_known_guest_id_saves_get_id_and_is_linked(
    make_session: MakeSession,
    emulator: Emulator,
    sign_in_user: Callable[[], dict[str, Any]],
    user_pool_key: str,
) -> None:
    session = make_session()
    session.use_guest()
    guest_id = session.get_identity_id()
    session.get_credentials()
    tokens = sign_in_user()
    emulator.reset_requests()
    session.authenticate(lambda: {user_pool_key: tokens["IdToken"]})
    session.prefetch()
    assert gets(emulator) == (0, 1)  # the guest id was offered: no GetId
    # A new login takes the offered guest identity over (linked): the guest's data follows.
    assert session.get_identity_id() == guest_id
    # The guest identity is the user's now: the next guest session gets a new one.
    assert session.guest_identity_id is None
    assert session.guest_access_known is True  # what sign-out needs to know
    session.sign_out()
    assert session.mode is None
    with pytest.raises(NotSignedInError):
        session.get_credentials()
    session.use_guest()
    assert session.get_identity_id() != guest_id
    assert session.get_credentials().session_token


def test_offered_guest_id_merged_the_answered_id_wins(
    make_session: MakeSession,
    emulator: Emulator,
    sign_in_user: Callable[[], dict[str, Any]],
    user_pool_key: str,
) -> None:
    tokens = sign_in_user()
    logins = {user_pool_key: tokens["IdToken"]}
    first = make_session()
    first.authenticate(lambda: logins)
    user_identity = first.get_identity_id()
    # Another device: a guest first, then the same user signs in.
    device = make_session()
    device.use_guest()
    guest_id = device.get_identity_id()
    assert guest_id != user_identity
    device.authenticate(lambda: logins)
    emulator.reset_requests()
    assert device.get_identity_id() == user_identity  # asked the pool: the answered id wins
    assert gets(emulator) == (0, 1)
    assert device.identity_id == user_identity
    assert device.export()["identity_id"] == user_identity
    assert device.guest_identity_id is None


def test_logins_follow_the_user(
    make_session: MakeSession,
    emulator: Emulator,
    clock: FakeClock,
    idp: Any,
    pool: Provisioned,
    sign_in_user: Callable[[], dict[str, Any]],
    user_pool_key: str,
) -> None:
    tokens = sign_in_user()
    current = {"id": tokens["IdToken"]}
    calls: list[str] = []

    def logins() -> dict[str, str]:
        calls.append(current["id"])
        return {user_pool_key: current["id"]}

    session = make_session()
    session.authenticate(logins)
    first = session.get_credentials()
    clock.advance(2 * HOUR)  # credentials and the id token expired
    with pytest.raises(NotAuthorizedError):  # the pool refuses the expired id token
        session.get_credentials()
    # The user pool side refreshes its tokens; the next fetch uses them.
    refreshed = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    current["id"] = refreshed["AuthenticationResult"]["IdToken"]
    clock.advance(5)  # past the cache's first back-off
    second = session.get_credentials()
    assert second.access_key_id != first.access_key_id
    assert calls[-1] == current["id"] != calls[0]


def test_thirty_two_threads_after_expiry_make_one_request(
    make_session: MakeSession, emulator: Emulator, clock: FakeClock
) -> None:
    session = make_session()
    session.authenticate(lambda: {"accounts.google.com": "google-token-of-carol"})
    old = session.get_credentials()
    clock.advance(HOUR + 60)
    # Slow the fetch so that every thread arrives while it is in flight.
    emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", delay=0.2, times=1))
    emulator.reset_requests()
    barrier = threading.Barrier(32)
    results: list[AWSCredentials] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        credentials = session.get_credentials()
        with lock:
            results.append(credentials)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 32
    assert emulator.count("GetCredentialsForIdentity") == 1
    assert emulator.count() == 1
    assert len({id(c) for c in results}) == 1
    assert results[0].access_key_id != old.access_key_id


def test_refusal_raises_not_authorized(
    make_session: MakeSession, emulator: Emulator, clock: FakeClock
) -> None:
    session = make_session()
    session.authenticate(lambda: {"graph.facebook.com": "facebook-token-of-dave"})
    emulator.faults.inject(
        Fault(
            operation="GetCredentialsForIdentity",
            error=("NotAuthorizedException", "Invalid login token.", 400),
        )
    )
    with pytest.raises(NotAuthorizedError):
        session.prefetch()
    clock.advance(5)
    with pytest.raises(NotAuthorizedError):
        session.get_credentials()
    emulator.faults.inject(
        Fault(operation="GetId", error=("NotAuthorizedException", "Invalid login token.", 400))
    )
    other = make_session()
    other.authenticate(lambda: {"graph.facebook.com": "facebook-token-of-erin"})
    with pytest.raises(NotAuthorizedError):
        other.get_identity_id()
    assert other.mode == "authenticated"


def test_network_failure_changes_nothing(
    make_session: MakeSession, emulator: Emulator, clock: FakeClock
) -> None:
    session = make_session()
    session.use_guest()
    credentials = session.get_credentials()
    before = session.export()
    emulator.stop()
    assert session.get_credentials() is credentials  # valid: served offline
    clock.advance(HOUR + 1)
    with pytest.raises(NetworkError):
        session.get_credentials()
    assert session.export() == before | {"credentials": None}  # expired, not forgotten
    emulator.start()
    clock.advance(5)
    assert session.get_credentials().access_key_id != credentials.access_key_id
    assert session.guest_identity_id == before["guest_identity_id"]


def test_developer_identity(
    make_session: MakeSession,
    emulator: Emulator,
    developer_token: Callable[[str], tuple[str, str]],
) -> None:
    session = make_session()
    session.use_guest()
    guest_id = session.get_identity_id()
    identity_id, token = developer_token("dev-user-42")
    emulator.reset_requests()
    session.authenticate(lambda: {IdentityProvider.DEVELOPER.value: token}, identity_id=identity_id)
    assert session.get_identity_id() == identity_id
    assert emulator.count() == 0
    session.prefetch()
    assert gets(emulator) == (0, 1)
    assert session.guest_identity_id == guest_id  # not offered: the developer brought an id


def test_developer_identity_without_its_id(make_session: MakeSession, emulator: Emulator) -> None:
    session = make_session()
    session.use_guest()
    session.get_identity_id()
    session.authenticate(lambda: {IdentityProvider.DEVELOPER.value: "open-id-token"})
    emulator.reset_requests()
    with pytest.raises(InvalidParameterError, match="identity_id"):
        session.prefetch()
    assert emulator.count() == 0


def test_switching_identity_drops_credentials(
    make_session: MakeSession, emulator: Emulator
) -> None:
    session = make_session()
    session.use_guest()
    guest_credentials = session.get_credentials()
    session.authenticate(lambda: {"www.amazon.com": "amazon-token-of-frank"})
    user_credentials = session.get_credentials()
    assert user_credentials.access_key_id != guest_credentials.access_key_id
    session.authenticate(lambda: {"www.amazon.com": "amazon-token-of-grace"})
    other = session.get_credentials()
    assert other.access_key_id != user_credentials.access_key_id
    assert session.export()["identity_id"] != session.export()["guest_identity_id"]


# -- persistence ----------------------------------------------------------------------------


def test_export_and_restore(make_session: MakeSession, emulator: Emulator) -> None:
    logins = {"appleid.apple.com": "apple-token-of-heidi"}
    session = make_session()
    session.authenticate(lambda: logins, custom_role_arn=None)
    credentials = session.get_credentials()
    identity_id = session.get_identity_id()
    doc = json.loads(json.dumps(session.export()))  # JSON-able
    assert doc["mode"] == "authenticated"
    assert doc["identity_id"] == identity_id
    restored = make_session()
    restored.restore(doc, lambda: logins)
    emulator.reset_requests()
    assert restored.mode == "authenticated"
    assert restored.get_identity_id() == identity_id
    again = restored.get_credentials()
    assert emulator.count() == 0  # valid stored credentials: no request
    assert again.access_key_id == credentials.access_key_id
    assert again.expiration == credentials.expiration
    # Without logins only the guest id comes back.
    partial = make_session()
    partial.restore(doc, None)
    assert partial.mode is None
    # Garbage is ignored.
    broken = make_session()
    broken.restore({"version": 99}, None)
    broken.restore({"version": 1, "mode": "guest", "credentials": {"access_key_id": 1}}, None)
    assert broken.mode == "guest"
    assert broken.get_credentials().session_token


def test_repr_and_export_of_a_fresh_session(make_session: MakeSession, config: AuthConfig) -> None:
    session = make_session()
    assert config.identity_pool is not None
    assert config.identity_pool.pool_id in repr(session)
    assert session.export()["mode"] is None


def test_sign_out_keeps_an_unused_guest_id(make_session: MakeSession, emulator: Emulator) -> None:
    session = make_session()
    session.use_guest()
    guest_id = session.get_identity_id()
    session.authenticate(lambda: {"accounts.google.com": "google-token-of-judy"})
    session.sign_out()  # signed out before the guest identity was offered to the pool
    assert session.guest_identity_id == guest_id
    session.use_guest()
    emulator.reset_requests()
    assert session.get_identity_id() == guest_id
    session.get_credentials()
    assert gets(emulator) == (0, 1)
