"""Identity-pool behaviour through ``AuthClient`` on the emulator, ported from the tests of the
former ``IdentitySession``: what is saved and restored, guest identities kept, replaced or used
up, the guest's background refresh, single flight, refusals and network failures.

The identity-id rules themselves are table-tested in ``tests/session/test_identity_ids.py`` and
``tests/session/test_credentials_requests.py``; here they are seen from the outside.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from auth_testkit import Recorder, wait_until

from fsm_auth import (
    AuthClient,
    AWSCredentials,
    GuestAccessNotAllowedError,
    IdentityProvider,
    InvalidParameterError,
    MemorySessionStore,
    NetworkError,
    NotAuthorizedError,
    UserState,
)
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock, Fault
from fsm_auth.transport import RetryPolicy

pytestmark = pytest.mark.timeout(60)

MakeClient = Callable[..., AuthClient]
PASSWORD = "Correct-Horse-9!"
HOUR = 3600.0
ROLE_ARN = "arn:aws:iam::123456789012:role/fsm-auth-custom"
NOT_AUTHORIZED = ("NotAuthorizedException", "Invalid login token.", 400)
NO_RETRY = RetryPolicy(max_attempts=1)

_serial = itertools.count(1)


# -- helpers --------------------------------------------------------------------------------


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` (real time) until true; fail after ``timeout`` seconds."""
    assert wait_until(condition, timeout), "condition not reached in time"


def unique(name: str) -> str:
    """A name no other test of this worker uses (identities outlive a test's pool)."""
    return f"{name}{next(_serial)}"


def provider_token(subject: str) -> str:
    """A fresh JWT-shaped provider token: the emulator keys federated identities by ``sub``."""
    claims = {"sub": subject, "jti": f"t{next(_serial)}"}
    return jwt.encode(claims, "key-the-emulator-never-verifies-0123456789", algorithm="HS256")


def gets(emulator: Emulator) -> tuple[int, int]:
    """(GetId, GetCredentialsForIdentity) requests so far."""
    return emulator.count("GetId"), emulator.count("GetCredentialsForIdentity")


def cognito_requests(emulator: Emulator) -> list[str]:
    """The Cognito operations requested (user pool and identity pool), in order."""
    return [
        r.operation for r in emulator.requests if r.service in ("cognito-idp", "cognito-identity")
    ]


def identity_calls(emulator: Emulator) -> list[dict[str, Any]]:
    """The GetId / GetCredentialsForIdentity requests, each as ``{"operation": ..., **params}``."""
    return [
        {"operation": r.operation, **r.params}
        for r in emulator.requests
        if r.operation in ("GetId", "GetCredentialsForIdentity")
    ]


def register(client: AuthClient, emulator: Emulator, username: str) -> None:
    client.sign_up(username, PASSWORD, attributes={"email": f"{username}@example.com"})
    client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


def guest_warmers() -> list[threading.Thread]:
    """The threads keeping a guest's AWS credentials warm (``RefreshingCache.keep_warm``)."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("fsm-auth-guest") and t.name.endswith("-warm")
    ]


def state_of(client: AuthClient) -> UserState:
    """The client's user state now (a call, so type checkers do not narrow it across calls)."""
    return client.current_user_state


def app_store(config: dict[str, Any], **kwargs: Any) -> MemorySessionStore:
    """A memory store's record of ``config``'s client, as the client scopes it (so the test can
    look into what the client saves)."""
    return MemorySessionStore().scoped(load_config(config, **kwargs).config_key)


def saved(store: MemorySessionStore) -> dict[str, Any]:
    document = store.load()
    assert document is not None, "nothing was saved"
    return document


# -- guest ----------------------------------------------------------------------------------


def test_a_fresh_client_has_no_identity_and_saves_nothing(
    make_client: MakeClient, aws_config: dict[str, Any], emulator: Emulator
) -> None:
    store = app_store(aws_config)
    client = make_client(store=store)
    assert client.current_user_state is UserState.UNKNOWN
    assert "unknown" in repr(client)
    emulator.reset_requests()
    assert client.initialize() is UserState.SIGNED_OUT
    assert client.username is None
    assert store.load() is None  # a restore saves nothing
    assert emulator.requests == []


def test_guest_identity_and_credentials_are_saved_as_they_arrive(
    make_client: MakeClient, aws_config: dict[str, Any], emulator: Emulator
) -> None:
    store = app_store(aws_config)
    client = make_client(store=store)
    client.initialize()
    emulator.reset_requests()
    credentials = client.get_aws_credentials()
    identity_id = client.get_identity_id()
    assert gets(emulator) == (1, 1)
    assert saved(store)["guest"]["identity_id"] == identity_id
    assert saved(store)["guest"]["access"] is True
    assert saved(store)["guest"]["credentials"]["access_key_id"] == credentials.access_key_id
    # Cached: zero requests, the very same credentials.
    for _ in range(100):
        assert client.get_aws_credentials() is credentials
        assert client.get_identity_id() == identity_id
    assert emulator.count() == 2


def test_a_guest_refusal_is_remembered(make_client: MakeClient, emulator: Emulator) -> None:
    # The app's configuration says guests are allowed; the identity pool refuses them.
    pool = emulator.provision(allow_guest=False, bucket=None)
    outputs = pool.amplify_outputs()
    outputs["auth"]["unauthenticated_identities_enabled"] = True
    store = app_store(outputs, endpoint_url=pool.endpoint)
    client = make_client(outputs, endpoint_url=pool.endpoint, store=store)
    assert client.initialize() is UserState.GUEST  # as configured: not known to be off yet
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()
    with pytest.raises(GuestAccessNotAllowedError):
        client.get_aws_credentials()
    with pytest.raises(GuestAccessNotAllowedError):
        client.get_identity_id()
    assert client.current_user_state is UserState.GUEST  # unchanged
    assert recorder.calls == []
    assert cognito_requests(emulator) == ["GetId", "GetId"]  # no identity was kept
    assert saved(store)["guest"] == {"identity_id": None, "access": False, "credentials": None}
    # Remembered: a sign-out lands in signedOut, although the configuration says guest.
    client.sign_out()
    assert state_of(client) is UserState.SIGNED_OUT
    assert recorder.calls == [(UserState.SIGNED_OUT, {})]
    # And so does the next start over the same store.
    restarted = make_client(outputs, endpoint_url=pool.endpoint, store=store)
    assert restarted.initialize() is UserState.SIGNED_OUT


def link_to_a_user(emulator: Emulator, identity_id: str) -> None:
    """Link ``identity_id`` to a Google user, as a sign-in on another device that offered it
    does: from then on it is that user's identity, no longer an unauthenticated one."""
    answer = emulator.admin_client("cognito-identity").get_credentials_for_identity(
        IdentityId=identity_id,
        Logins={IdentityProvider.GOOGLE.value: provider_token(unique("taker"))},
    )
    assert answer["IdentityId"] == identity_id


@pytest.mark.parametrize("how", ["unknown", "linked-to-a-user-since"])
def test_a_kept_guest_id_the_pool_forgot_is_replaced_once(
    make_client: MakeClient,
    aws_config: dict[str, Any],
    emulator: Emulator,
    clock: FakeClock,
    how: str,
) -> None:
    store = app_store(aws_config)
    if how == "unknown":
        gone = "us-east-1:00000000-0000-4000-8000-00000000dead"
        store.save({"schema": 2, "user": None, "guest": {"identity_id": gone, "access": True}})
    else:
        first = make_client(store=store)
        first.get_aws_credentials()
        gone = first.get_identity_id()
        first.close()
        link_to_a_user(emulator, gone)
        clock.advance(HOUR + 60)  # the guest credentials kept with it expired

    client = make_client(store=store)
    assert client.initialize() is UserState.GUEST
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()
    credentials = client.get_aws_credentials()
    new_id = client.get_identity_id()
    assert new_id != gone
    assert credentials.session_token
    calls = [(c["operation"], c.get("IdentityId")) for c in identity_calls(emulator)]
    assert calls == [
        ("GetCredentialsForIdentity", gone),  # refused: not a guest identity of the pool
        ("GetId", None),  # forgotten and replaced, once
        ("GetCredentialsForIdentity", new_id),
    ]
    assert saved(store)["guest"]["identity_id"] == new_id
    assert client.current_user_state is UserState.GUEST
    assert recorder.calls == []


# -- the guest's background refresh ---------------------------------------------------------


def test_guest_credentials_stay_warm_only_while_guest(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    developer_token: Callable[[str], tuple[str, str]],
) -> None:
    client = make_client()
    client.initialize()
    guest = client.get_aws_credentials()
    guest_id = client.get_identity_id()
    until(lambda: len(guest_warmers()) == 1)

    # A developer identity brings its own id: the guest identity and its credentials are kept
    # (not offered), and the guest's refresh stops with the guest state.
    identity_id, token = developer_token(unique("dev-user"))
    client.federated_sign_in(IdentityProvider.DEVELOPER, token, identity_id=identity_id)
    until(lambda: guest_warmers() == [])
    before = emulator.count("GetCredentialsForIdentity")
    clock.advance(HOUR - 10 * 60)  # the guest's credentials would be refreshed ahead now
    time.sleep(1.5)  # longer than the refresh thread's wake-up interval (1 s)
    assert emulator.count("GetCredentialsForIdentity") == before

    # Back to guest: the kept credentials are served and kept warm again.
    client.sign_out()
    assert client.current_user_state is UserState.GUEST
    assert client.get_identity_id() == guest_id
    assert client.get_aws_credentials() == guest
    until(lambda: len(guest_warmers()) == 1)
    assert emulator.count("GetCredentialsForIdentity") == before
    clock.advance(10 * 60 - 60)  # a minute before they expire: nobody asks
    until(lambda: emulator.count("GetCredentialsForIdentity") == before + 1)
    until(lambda: client.get_aws_credentials().access_key_id != guest.access_key_id)
    assert client.get_identity_id() == guest_id
    assert emulator.count("GetCredentialsForIdentity") == before + 1


def test_close_leaves_no_guest_refresh_behind(
    make_client: MakeClient, aws_config: dict[str, Any], emulator: Emulator, clock: FakeClock
) -> None:
    store = app_store(aws_config)
    client = make_client(store=store)
    client.initialize()
    client.get_aws_credentials()
    until(lambda: len(guest_warmers()) == 1)
    fault = emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", delay=0.5, times=1))
    clock.advance(HOUR - 10 * 60)  # the background refresh starts...
    until(lambda: fault.hits == 1)  # ...and is in flight
    client.close()
    after_close = store.version()
    assert guest_warmers() == [], "close() returned with the guest refresh still running"
    time.sleep(1.0)
    assert store.version() == after_close, "the session was saved after close()"


def test_a_failed_background_refresh_keeps_serving_the_valid_credentials(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = make_client(retry=NO_RETRY)
    client.initialize()
    first = client.get_aws_credentials()
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    fault = emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", status=500))
    clock.advance(HOUR - 10 * 60)  # into the refresh-ahead window: the guest's refresh runs
    until(lambda: fault.hits >= 1)
    assert client.get_aws_credentials() is first  # still valid: served, no error
    assert client.current_user_state is UserState.GUEST
    emulator.faults.clear()
    # The failure backs off: move time on until the refresh has gone through.
    until(lambda: clock.advance(1) > 0 and client.get_aws_credentials() is not first)
    renewed = client.get_aws_credentials()
    assert renewed.expiration > first.expiration
    assert client.current_user_state is UserState.GUEST
    assert recorder.calls == []


# -- signed-in users ------------------------------------------------------------------------


def test_an_offered_guest_id_merged_into_the_users_identity(
    make_client: MakeClient, aws_config: dict[str, Any], emulator: Emulator
) -> None:
    username = unique("merged")
    other = make_client()  # the user's first device: the user's identity
    other.initialize()
    register(other, emulator, username)
    other.sign_in(username, PASSWORD)
    users_id = other.get_identity_id()

    store = app_store(aws_config)
    client = make_client(store=store)
    client.get_aws_credentials()
    guest_id = client.get_identity_id()
    assert guest_id != users_id
    emulator.reset_requests()
    client.sign_in(username, PASSWORD)
    # The guest id is offered (no GetId); the pool merges it into the user's identity, and
    # its answer wins.
    assert cognito_requests(emulator) == [
        "InitiateAuth",
        "RespondToAuthChallenge",
        "GetCredentialsForIdentity",
    ]
    assert identity_calls(emulator)[0]["IdentityId"] == guest_id
    assert client.get_identity_id() == users_id
    document = saved(store)
    assert document["user"]["identity"]["identity_id"] == users_id
    assert document["guest"]["identity_id"] is None  # used up
    assert document["guest"]["access"] is True


def test_thirty_two_threads_after_expiry_make_one_request(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = make_client()
    client.initialize()
    client.federated_sign_in(IdentityProvider.GOOGLE, provider_token(unique("carol")))
    old = client.get_aws_credentials()
    clock.advance(HOUR + 60)
    # Slow the fetch so that every thread arrives while it is in flight.
    emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", delay=0.2, times=1))
    emulator.reset_requests()
    barrier = threading.Barrier(32)
    results: list[AWSCredentials] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        credentials = client.get_aws_credentials()
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


def test_refusals_raise_not_authorized_and_commit_nothing(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = make_client()
    assert client.initialize() is UserState.SIGNED_OUT
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    facebook = IdentityProvider.FACEBOOK

    # A federated login refused by GetId, then by GetCredentialsForIdentity.
    emulator.reset_requests()
    emulator.faults.inject(Fault(operation="GetId", error=NOT_AUTHORIZED, times=1))
    with pytest.raises(NotAuthorizedError):
        client.federated_sign_in(facebook, provider_token(unique("erin")))
    assert cognito_requests(emulator) == ["GetId"]
    emulator.faults.inject(
        Fault(operation="GetCredentialsForIdentity", error=NOT_AUTHORIZED, times=1)
    )
    with pytest.raises(NotAuthorizedError):
        client.federated_sign_in(facebook, provider_token(unique("dave")))
    assert cognito_requests(emulator) == ["GetId", "GetId", "GetCredentialsForIdentity"]
    assert client.current_user_state is UserState.SIGNED_OUT
    assert recorder.calls == []

    # A user pool user's login refused: a refusal of the request only (the user pool, not the
    # identity pool, decides that session), every time it is asked.
    username = unique("frida")
    register(client, emulator, username)
    client.sign_in(username, PASSWORD)
    first = client.get_aws_credentials()
    clock.advance(HOUR + 60)
    emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", error=NOT_AUTHORIZED))
    emulator.reset_requests()
    with pytest.raises(NotAuthorizedError):
        client.get_aws_credentials()
    clock.advance(5)
    with pytest.raises(NotAuthorizedError):
        client.get_aws_credentials(wait=False)
    assert emulator.count("GetCredentialsForIdentity") == 2
    assert (
        emulator.count("GetTokensFromRefreshToken") == 1
    )  # the id token for Logins, refreshed once
    assert state_of(client) is UserState.SIGNED_IN
    emulator.faults.clear()
    assert client.get_aws_credentials().access_key_id != first.access_key_id
    assert recorder.calls == [(UserState.SIGNED_IN, {"username": username})]


def test_a_network_failure_changes_nothing(
    make_client: MakeClient, aws_config: dict[str, Any], emulator: Emulator, clock: FakeClock
) -> None:
    store = app_store(aws_config)
    client = make_client(store=store)
    client.initialize()
    credentials = client.get_aws_credentials()
    identity_id = client.get_identity_id()
    before = saved(store)
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.stop()
    assert client.get_aws_credentials() is credentials  # valid: served offline
    clock.advance(HOUR + 1)
    with pytest.raises(NetworkError):
        client.get_aws_credentials()
    assert client.current_user_state is UserState.GUEST
    assert client.get_identity_id() == identity_id  # expired credentials, not a forgotten id
    assert saved(store) == before
    assert recorder.calls == []
    emulator.start()
    emulator.reset_requests()
    clock.advance(5)  # past the back-off of the failed refresh
    assert client.get_aws_credentials().access_key_id != credentials.access_key_id
    assert gets(emulator) == (0, 1)
    assert client.get_identity_id() == identity_id
    assert saved(store)["guest"]["identity_id"] == identity_id


def test_a_developer_identity_leaves_the_guest_identity_alone(
    make_client: MakeClient,
    emulator: Emulator,
    developer_token: Callable[[str], tuple[str, str]],
) -> None:
    client = make_client()
    client.initialize()
    guest = client.get_aws_credentials()
    guest_id = client.get_identity_id()
    identity_id, token = developer_token(unique("dev-user"))
    emulator.reset_requests()
    client.federated_sign_in(IdentityProvider.DEVELOPER, token, identity_id=identity_id)
    assert client.get_identity_id() == identity_id
    # Its own id, asked for as given: no GetId, and the guest id is not offered.
    assert [(c["operation"], c["IdentityId"]) for c in identity_calls(emulator)] == [
        ("GetCredentialsForIdentity", identity_id)
    ]
    assert client.get_aws_credentials().session_token
    assert gets(emulator) == (0, 1)
    # The guest identity is still the guest's, with its credentials.
    client.sign_out()
    assert client.current_user_state is UserState.GUEST
    emulator.reset_requests()
    assert client.get_identity_id() == guest_id
    assert client.get_aws_credentials() == guest
    assert gets(emulator) == (0, 0)


def test_a_developer_login_without_its_id_is_refused_before_any_request(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    client.initialize()
    guest = client.get_aws_credentials()
    guest_id = client.get_identity_id()  # would be offered with any other login
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()
    with pytest.raises(InvalidParameterError, match="identity_id"):
        client.federated_sign_in(IdentityProvider.DEVELOPER, "open-id-token")
    assert emulator.requests == []
    assert client.current_user_state is UserState.GUEST
    assert recorder.calls == []
    assert client.get_identity_id() == guest_id
    assert client.get_aws_credentials() is guest
    assert emulator.requests == []


def test_switching_identity_drops_the_old_credentials(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    client.initialize()
    guest = client.get_aws_credentials()
    guest_id = client.get_identity_id()
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    amazon = IdentityProvider.AMAZON
    client.federated_sign_in(amazon, provider_token(unique("frank")))
    frank = client.get_aws_credentials()
    frank_id = client.get_identity_id()
    assert frank.access_key_id != guest.access_key_id
    assert frank_id == guest_id  # the guest identity was linked to frank

    emulator.reset_requests()
    client.federated_sign_in(amazon, provider_token(unique("grace")))
    assert gets(emulator) == (1, 1)  # the guest id was used up: grace gets her own
    emulator.reset_requests()
    grace = client.get_aws_credentials()
    grace_id = client.get_identity_id()
    assert emulator.requests == []  # fetched by the sign-in
    assert grace.access_key_id not in (frank.access_key_id, guest.access_key_id)
    assert grace_id not in (frank_id, guest_id)
    # A change of user within signedIn is no change of the user state.
    assert recorder.calls == [(UserState.SIGNED_IN, {"provider": amazon.value})]


def test_a_signed_out_guest_keeps_an_unused_guest_id(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(retry=NO_RETRY)
    client.initialize()
    guest = client.get_aws_credentials()
    guest_id = client.get_identity_id()
    username = unique("judy")
    register(client, emulator, username)
    # The credentials fetched at sign-in fail: the offered guest id was never taken.
    fault = emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", status=500))
    client.sign_in(username, PASSWORD)
    assert client.is_signed_in
    assert fault.hits == 1
    client.sign_out()
    assert client.current_user_state is UserState.GUEST
    emulator.faults.clear()
    emulator.reset_requests()
    assert client.get_identity_id() == guest_id
    assert client.get_aws_credentials() == guest  # kept with the guest identity
    assert gets(emulator) == (0, 0)


# -- a restart over the same store ----------------------------------------------------------


def test_a_restart_restores_identity_and_credentials_with_no_request(
    make_client: MakeClient, aws_config: dict[str, Any], emulator: Emulator, clock: FakeClock
) -> None:
    store = app_store(aws_config)
    client = make_client(store=store)
    client.initialize()
    token = provider_token(unique("heidi"))
    apple = IdentityProvider.APPLE.value
    client.federated_sign_in(apple, token, custom_role_arn=ROLE_ARN)
    credentials = client.get_aws_credentials()
    identity_id = client.get_identity_id()
    client.close()

    emulator.reset_requests()
    restarted = make_client(store=store)
    assert restarted.initialize() is UserState.SIGNED_IN
    assert restarted.get_identity_id() == identity_id
    again = restarted.get_aws_credentials()
    assert emulator.requests == []  # valid saved credentials: no request
    assert again == credentials
    assert again.expiration == credentials.expiration
    # The restored login asks for the same identity, with the same login and role.
    clock.advance(HOUR + 60)
    renewed = restarted.get_aws_credentials()
    assert renewed.access_key_id != credentials.access_key_id
    assert identity_calls(emulator) == [
        {
            "operation": "GetCredentialsForIdentity",
            "IdentityId": identity_id,
            "Logins": {apple: token},
            "CustomRoleArn": ROLE_ARN,
        }
    ]


@pytest.mark.parametrize(
    ("document", "state"),
    [
        pytest.param({"schema": 99, "guest": {"access": True}}, UserState.SIGNED_OUT, id="schema"),
        pytest.param(
            {"schema": 2, "user": None, "guest": {"access": True, "credentials": {"x": 1}}},
            UserState.GUEST,
            id="credentials",
        ),
    ],
)
def test_a_damaged_saved_identity_is_ignored(
    make_client: MakeClient,
    aws_config: dict[str, Any],
    emulator: Emulator,
    document: dict[str, Any],
    state: UserState,
) -> None:
    store = app_store(aws_config)
    store.save(document)
    client = make_client(store=store)
    assert client.initialize() is state
    emulator.reset_requests()
    assert client.get_aws_credentials().session_token
    assert gets(emulator) == (1, 1)
    assert client.current_user_state is UserState.GUEST
