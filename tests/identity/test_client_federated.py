"""Identity pools through ``AuthClient`` on the emulator: guest mode, federated sign-in, refused
federated tokens and the wait for a new sign-in, logins that follow the user, request counts,
guest identities offered at sign-in, and secrets kept out of reprs, errors and logs."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import pytest
from auth_testkit import InThread, Recorder, wait_until

from fsm_auth import (
    AuthClient,
    AWSCredentials,
    GuestAccessNotAllowedError,
    IdentityPoolNotConfiguredError,
    IdentityProvider,
    InvalidParameterError,
    NotAuthorizedError,
    NotSignedInError,
    UnableToSignInError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned

pytestmark = pytest.mark.timeout(60)

PASSWORD = "Correct-Horse-9!"
HOUR = 3600.0
GOOGLE = IdentityProvider.GOOGLE.value
DEVELOPER_PROVIDER = "login.fsm-auth.dev"  # the developer provider the emulator provisions
INVALID = UserState.SIGNED_OUT_FEDERATED_TOKENS_INVALID
OIDC_PROVIDER = "oidc.example.com/realms/fsm-auth"
SAML_PROVIDER = "arn:aws:iam::123456789012:saml-provider/fsm-auth-corp"
ROLE_ARN = "arn:aws:iam::123456789012:role/fsm-auth-custom"

_serial = itertools.count(1)
MakeClient = Callable[..., AuthClient]


# -- helpers --------------------------------------------------------------------------------


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` (real time) until true; fail after ``timeout`` seconds."""
    assert wait_until(condition, timeout), "condition not reached in time"


def provider_token(subject: str) -> str:
    """A fresh JWT-shaped provider token for ``subject``: the emulator keys federated
    identities by the ``sub`` claim, so two tokens of one subject are one identity."""
    claims = {"sub": subject, "jti": f"t{next(_serial)}", "iss": "https://accounts.google.com"}
    return jwt.encode(claims, "key-the-emulator-never-verifies-0123456789", algorithm="HS256")


def unique(name: str) -> str:
    """A name no other test of this worker uses (identities outlive a test's pool)."""
    return f"{name}{next(_serial)}"


def cognito_requests(emulator: Emulator) -> list[str]:
    """The Cognito operations requested (user pool and identity pool), in order."""
    return [
        r.operation for r in emulator.requests if r.service in ("cognito-idp", "cognito-identity")
    ]


def register(client: AuthClient, emulator: Emulator, username: str) -> None:
    """Sign up and confirm ``username`` through the client."""
    client.sign_up(username, PASSWORD, attributes={"email": f"{username}@example.com"})
    client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


def in_threads(count: int, call: Callable[[], AWSCredentials]) -> list[AWSCredentials]:
    """``call()`` in ``count`` threads released together; every result (none may raise)."""
    barrier = threading.Barrier(count)
    results: list[AWSCredentials] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        try:
            credentials = call()
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(credentials)

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(results) == count
    return results


def assert_no_secret(texts: list[str], credentials: list[AWSCredentials]) -> None:
    """No secret key or session token of ``credentials`` appears in any of ``texts``."""
    for creds in credentials:
        for text in texts:
            assert creds.secret_access_key not in text
            assert creds.session_token not in text
            assert creds.session_token[:24] not in text


# -- fixtures -------------------------------------------------------------------------------


IdentityCalls = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def identity_calls(emulator: Emulator) -> IdentityCalls:
    """``identity_calls()``: the GetId / GetCredentialsForIdentity requests the emulator
    recorded since the test began (or the last ``emulator.reset_requests()``), each as
    ``{"operation": ..., **params}``."""
    emulator.reset_requests()

    def calls() -> list[dict[str, Any]]:
        return [
            {"operation": r.operation, **r.params}
            for r in emulator.requests
            if r.operation in ("GetId", "GetCredentialsForIdentity")
        ]

    return calls


def credential_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The GetCredentialsForIdentity requests among ``calls``."""
    return [c for c in calls if c["operation"] == "GetCredentialsForIdentity"]


@pytest.fixture
def signed_out(make_client: MakeClient) -> AuthClient:
    """An initialized client (SIGNED_OUT) with an identity pool, not yet signed in."""
    client = make_client()
    assert client.initialize() is UserState.SIGNED_OUT
    return client


def refuse_federated_token(emulator: Emulator, token: str | None = None) -> Fault:
    """Make the identity pool refuse every credentials request (as for an expired token)."""
    message = "Invalid login token." if token is None else f"Invalid login token: {token}"
    return emulator.faults.inject(
        Fault(operation="GetCredentialsForIdentity", error=("NotAuthorizedException", message, 400))
    )


# -- guest ----------------------------------------------------------------------------------


def test_signed_out_becomes_guest_through_get_aws_credentials(
    signed_out: AuthClient,
    emulator: Emulator,
    clock: FakeClock,
    identity_calls: IdentityCalls,
) -> None:
    client = signed_out
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()

    credentials = client.get_aws_credentials()
    assert client.current_user_state is UserState.GUEST
    assert not client.is_signed_in
    assert recorder.calls == [(UserState.GUEST, {})]
    assert cognito_requests(emulator) == ["GetId", "GetCredentialsForIdentity"]
    # Unauthenticated role: neither request carried a login.
    assert [c["operation"] for c in identity_calls()] == ["GetId", "GetCredentialsForIdentity"]
    assert all("Logins" not in c for c in identity_calls())
    assert credentials.access_key_id.startswith("ASIA")
    assert credentials.secret_access_key
    assert credentials.session_token
    assert credentials.expiration.timestamp() > clock() + HOUR - 60

    identity_id = client.get_identity_id()
    assert identity_calls()[-1]["IdentityId"] == identity_id
    emulator.reset_requests()
    for _ in range(100):
        assert client.get_aws_credentials() is credentials
        assert client.get_identity_id() == identity_id
    assert emulator.requests == []  # cached: zero requests
    assert recorder.calls == [(UserState.GUEST, {})]  # told once


def test_get_identity_id_alone_also_becomes_guest(
    signed_out: AuthClient, emulator: Emulator
) -> None:
    recorder = Recorder()
    signed_out.add_user_state_listener(recorder)
    identity_id = signed_out.get_identity_id()
    assert signed_out.current_user_state is UserState.GUEST
    assert recorder.calls == [(UserState.GUEST, {})]
    emulator.reset_requests()
    assert signed_out.get_identity_id() == identity_id
    assert emulator.requests == []


def test_guest_refused_leaves_the_state_and_tells_nobody(
    emulator: Emulator, make_client: MakeClient
) -> None:
    pool = emulator.provision(allow_guest=False, bucket=None)
    client = make_client(pool.aws_configuration())
    assert client.initialize() is UserState.SIGNED_OUT
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    for _ in range(2):
        with pytest.raises(GuestAccessNotAllowedError) as refused:
            client.get_aws_credentials()
        assert client.current_user_state is UserState.SIGNED_OUT
    with pytest.raises(GuestAccessNotAllowedError):
        client.get_identity_id()
    assert client.current_user_state is UserState.SIGNED_OUT
    assert recorder.calls == []
    assert refused.value.code == "NotAuthorizedException"
    # A sign-out of a refused guest stays signed out (guest access is known to be off).
    client.sign_out()
    assert client.current_user_state is UserState.SIGNED_OUT
    assert recorder.calls == []


def test_guest_credentials_refresh_in_the_background_until_close(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_out
    first = client.get_aws_credentials()
    assert client.current_user_state is UserState.GUEST
    before = emulator.count("GetCredentialsForIdentity")

    # Into the refresh-ahead window (the last 15 minutes before must-refresh): nobody asks.
    clock.advance(HOUR - 10 * 60)
    until(lambda: emulator.count("GetCredentialsForIdentity") == before + 1)
    until(lambda: client.get_aws_credentials().access_key_id != first.access_key_id)
    started = time.monotonic()
    renewed = client.get_aws_credentials()
    assert time.monotonic() - started < 0.5  # served from the cache: the caller never blocked
    assert renewed.access_key_id != first.access_key_id
    assert renewed.expiration > first.expiration
    assert emulator.count("GetCredentialsForIdentity") == before + 1

    assert [t.name for t in threading.enumerate() if t.name.endswith("-warm")] == [
        "fsm-auth-guest AWS credentials-warm"
    ]
    client.close()
    # close() stops the timer without joining it (see test_identity_behaviour's
    # test_close_leaves_no_guest_refresh_behind): it ends at once, with nothing to fetch.
    until(lambda: not [t for t in threading.enumerate() if t.name.endswith("-warm")], 1.0)
    clock.advance(HOUR - 10 * 60)  # due again: nothing may fetch now
    time.sleep(0.3)
    assert emulator.count("GetCredentialsForIdentity") == before + 1


# -- federated sign-in ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider",
    [IdentityProvider.GOOGLE, OIDC_PROVIDER, SAML_PROVIDER],
    ids=["google", "oidc", "saml"],
)
def test_federated_sign_in(
    signed_out: AuthClient,
    emulator: Emulator,
    identity_calls: IdentityCalls,
    provider: IdentityProvider | str,
) -> None:
    client = signed_out
    name = provider.value if isinstance(provider, IdentityProvider) else provider
    token = provider_token(unique("fed"))
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()

    assert client.federated_sign_in(provider, token) is UserState.SIGNED_IN
    assert client.is_signed_in
    assert client.current_user_state is UserState.SIGNED_IN
    assert client.username is None
    assert recorder.calls == [(UserState.SIGNED_IN, {"provider": name})]
    assert cognito_requests(emulator) == ["GetId", "GetCredentialsForIdentity"]
    # Authenticated role: the credentials were asked for with the provider's login.
    asked = credential_calls(identity_calls())

    emulator.reset_requests()
    credentials = client.get_aws_credentials()
    identity_id = client.get_identity_id()
    assert emulator.requests == []  # fetched during the sign-in
    assert len(asked) == 1
    assert asked[0]["Logins"] == {name: token}
    assert asked[0]["IdentityId"] == identity_id
    assert "CustomRoleArn" not in asked[0]
    assert credentials.access_key_id.startswith("ASIA")

    with pytest.raises(NotSignedInError):
        client.get_tokens()
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)
    assert client.current_user_state is UserState.SIGNED_IN
    assert recorder.calls == [(UserState.SIGNED_IN, {"provider": name})]


def test_developer_identity_needs_its_id(
    signed_out: AuthClient, emulator: Emulator, pool: Provisioned
) -> None:
    recorder = Recorder()
    signed_out.add_user_state_listener(recorder)
    emulator.reset_requests()
    with pytest.raises(InvalidParameterError) as missing:
        signed_out.federated_sign_in(IdentityProvider.DEVELOPER, "open-id-token-of-nobody")
    assert "identity_id" in str(missing.value)
    assert emulator.requests == []
    assert signed_out.current_user_state is UserState.SIGNED_OUT
    assert recorder.calls == []


def test_developer_identity_with_its_id(
    signed_out: AuthClient,
    emulator: Emulator,
    pool: Provisioned,
    identity_calls: IdentityCalls,
) -> None:
    admin = emulator.admin_client("cognito-identity")
    issued = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool.identity_pool_id, Logins={DEVELOPER_PROVIDER: unique("dev-user")}
    )
    identity_id, token = str(issued["IdentityId"]), str(issued["Token"])
    recorder = Recorder()
    signed_out.add_user_state_listener(recorder)
    emulator.reset_requests()

    state = signed_out.federated_sign_in(IdentityProvider.DEVELOPER, token, identity_id=identity_id)
    assert state is UserState.SIGNED_IN
    assert recorder.calls == [(UserState.SIGNED_IN, {"provider": IdentityProvider.DEVELOPER.value})]
    # The developer's identity brings its own id: no GetId.
    assert cognito_requests(emulator) == ["GetCredentialsForIdentity"]
    assert signed_out.get_identity_id() == identity_id
    assert signed_out.get_aws_credentials().session_token
    asked = credential_calls(identity_calls())
    assert asked[-1]["IdentityId"] == identity_id
    assert asked[-1]["Logins"] == {IdentityProvider.DEVELOPER.value: token}


def test_custom_role_arn_is_passed_through(
    signed_out: AuthClient,
    emulator: Emulator,
    clock: FakeClock,
    identity_calls: IdentityCalls,
) -> None:
    token = provider_token(unique("role"))
    signed_out.federated_sign_in(IdentityProvider.GOOGLE, token, custom_role_arn=ROLE_ARN)
    first = signed_out.get_aws_credentials()
    clock.advance(HOUR + 60)  # the next credentials ask again, with the same role
    renewed = signed_out.get_aws_credentials()
    assert renewed.access_key_id != first.access_key_id
    asked = credential_calls(identity_calls())
    assert len(asked) == 2
    assert [c.get("CustomRoleArn") for c in asked] == [ROLE_ARN, ROLE_ARN]


def test_no_identity_pool_configured(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client(identity_pool=False)
    assert client.initialize() is UserState.SIGNED_OUT
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()
    with pytest.raises(IdentityPoolNotConfiguredError):
        client.get_identity_id()
    with pytest.raises(IdentityPoolNotConfiguredError):
        client.get_aws_credentials()
    with pytest.raises(IdentityPoolNotConfiguredError):
        client.get_aws_credentials(wait=False)
    with pytest.raises(IdentityPoolNotConfiguredError):
        client.federated_sign_in(IdentityProvider.GOOGLE, provider_token("nobody"))
    with pytest.raises(IdentityPoolNotConfiguredError):
        client.boto3_session()
    assert emulator.requests == []
    assert client.current_user_state is UserState.SIGNED_OUT
    assert recorder.calls == []


# -- a refused federated token ------------------------------------------------------------------


def _federated_then_refused(
    client: AuthClient, emulator: Emulator, clock: FakeClock, subject: str
) -> tuple[AWSCredentials, Recorder]:
    """Sign ``client`` in with Google as ``subject``, then make the pool refuse the token
    and move past the credentials' expiry. Returns the old credentials and a listener."""
    client.federated_sign_in(IdentityProvider.GOOGLE, provider_token(subject))
    old = client.get_aws_credentials()
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    refuse_federated_token(emulator)
    clock.advance(HOUR + 60)
    return old, recorder


def test_refused_federated_token_moves_to_invalid(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_out
    _, recorder = _federated_then_refused(client, emulator, clock, unique("refused"))
    emulator.reset_requests()

    started = time.monotonic()
    with pytest.raises(UnableToSignInError):
        client.get_aws_credentials(wait=False)
    assert time.monotonic() - started < 1.0
    assert client.current_user_state is INVALID
    assert not client.is_signed_in
    assert recorder.calls == [(INVALID, {"provider": GOOGLE})]
    assert emulator.count("GetCredentialsForIdentity") == 1

    # Later calls in that state: refused at once, no request, no further event.
    for _ in range(3):
        with pytest.raises(UnableToSignInError):
            client.get_aws_credentials(wait=False)
    started = time.monotonic()
    with pytest.raises(UnableToSignInError):
        client.get_aws_credentials(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.5
    assert emulator.count("GetCredentialsForIdentity") == 1
    assert recorder.calls == [(INVALID, {"provider": GOOGLE})]
    with pytest.raises(UnableToSignInError):
        client.get_tokens(wait=False)  # in that state get_tokens waits too (API.md)


def test_the_discovering_call_waits_too(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    _, recorder = _federated_then_refused(signed_out, emulator, clock, unique("discover"))
    started = time.monotonic()
    with pytest.raises(UnableToSignInError):
        signed_out.get_aws_credentials(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.5
    assert signed_out.current_user_state is INVALID
    assert recorder.calls == [(INVALID, {"provider": GOOGLE})]


def test_a_new_federated_sign_in_releases_the_waiting_call(
    signed_out: AuthClient,
    emulator: Emulator,
    clock: FakeClock,
    identity_calls: IdentityCalls,
) -> None:
    client = signed_out
    subject = unique("again")
    old, recorder = _federated_then_refused(client, emulator, clock, subject)
    identity_id = client.get_identity_id()
    waiter = InThread(client.get_aws_credentials, timeout=10)
    waiter.start()  # discovers the refusal itself, then waits
    until(lambda: client.current_user_state is INVALID)
    time.sleep(0.05)
    assert waiter.is_alive(), "get_aws_credentials() did not wait for a new sign-in"

    emulator.faults.clear()
    fresh = provider_token(subject)
    assert client.federated_sign_in(IdentityProvider.GOOGLE, fresh) is UserState.SIGNED_IN
    waiter.join(5)
    assert not waiter.is_alive(), "get_aws_credentials() still waiting after the sign-in"
    assert waiter.error is None, repr(waiter.error)
    assert waiter.result is not None
    assert waiter.result.access_key_id != old.access_key_id
    assert waiter.result == client.get_aws_credentials()
    assert client.get_identity_id() == identity_id  # the same user: the same identity
    assert credential_calls(identity_calls())[-1]["Logins"] == {GOOGLE: fresh}
    assert recorder.calls == [
        (INVALID, {"provider": GOOGLE}),
        (UserState.SIGNED_IN, {"provider": GOOGLE}),
    ]


def test_a_federated_sign_in_from_inside_the_listener_releases_the_waiting_call(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_out
    subject = unique("listener")
    old, recorder = _federated_then_refused(client, emulator, clock, subject)
    signed_in_again: list[UserState] = []

    def federate_again(state: UserState, info: Mapping[str, str]) -> None:
        if state is INVALID:  # as in the seed's example: get a fresh token, sign in again
            emulator.faults.clear()
            token = provider_token(subject)
            signed_in_again.append(client.federated_sign_in(info["provider"], token))

    client.add_user_state_listener(federate_again)
    call = InThread(client.get_aws_credentials, timeout=10)
    call.start()
    call.join(8)
    assert not call.is_alive(), "deadlock: get_aws_credentials() never returned"
    assert call.error is None, repr(call.error)
    assert call.result is not None
    assert call.result.access_key_id != old.access_key_id
    assert signed_in_again == [UserState.SIGNED_IN]
    assert client.current_user_state is UserState.SIGNED_IN
    assert recorder.calls == [
        (INVALID, {"provider": GOOGLE}),
        (UserState.SIGNED_IN, {"provider": GOOGLE}),
    ]


def test_release_sign_in_wait_ends_the_wait(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_out
    _federated_then_refused(client, emulator, clock, unique("release"))
    waiter = InThread(client.get_aws_credentials, timeout=5)
    started = time.monotonic()
    waiter.start()
    until(lambda: client.current_user_state is INVALID)
    # Release until the waiter is out: a release before it starts waiting does not count.
    while waiter.is_alive() and time.monotonic() - started < 4:
        client.release_sign_in_wait()
        waiter.join(0.02)
    assert not waiter.is_alive()
    assert isinstance(waiter.error, UnableToSignInError), repr(waiter.error)
    assert "released" in str(waiter.error)
    assert time.monotonic() - started < 2
    assert client.current_user_state is INVALID


def test_a_refusal_met_by_a_refresh_ahead_surfaces_when_the_credentials_run_out(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_out
    client.federated_sign_in(IdentityProvider.GOOGLE, provider_token(unique("ahead")))
    first = client.get_aws_credentials()
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    fault = refuse_federated_token(emulator)
    # In the refresh-ahead window: the still-valid credentials are served at once while the
    # refresh (refused) runs in the background; the user is still signed in.
    clock.advance(HOUR - 10 * 60)
    assert client.get_aws_credentials() is first
    until(lambda: fault.hits >= 1)
    time.sleep(0.3)  # the refused refresh has come back
    # wait=False: the same answer while signed in, and no hang should the state have moved.
    assert client.get_aws_credentials(wait=False) is first
    assert client.current_user_state is UserState.SIGNED_IN
    assert recorder.calls == []
    # Once they run out, the refusal is the user's state.
    clock.advance(10 * 60)
    with pytest.raises(UnableToSignInError):
        client.get_aws_credentials(wait=False)
    assert client.current_user_state is INVALID
    assert recorder.calls == [(INVALID, {"provider": GOOGLE})]


def test_boto3_calls_fail_at_once_while_the_federated_token_is_refused(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock, pool: Provisioned
) -> None:
    client = signed_out
    s3 = client.boto3_session().client("s3", endpoint_url=emulator.url)
    client.federated_sign_in(IdentityProvider.GOOGLE, provider_token(unique("boto")))
    s3.put_object(Bucket=pool.bucket, Key="mine.txt", Body=b"mine")
    refuse_federated_token(emulator)
    clock.advance(HOUR + 60)
    started = time.monotonic()
    with pytest.raises(UnableToSignInError):
        s3.get_object(Bucket=pool.bucket, Key="mine.txt")
    assert time.monotonic() - started < 1.0  # botocore's call does not wait for a sign-in
    assert client.current_user_state is INVALID
    emulator.faults.clear()
    client.federated_sign_in(IdentityProvider.GOOGLE, provider_token(unique("boto")))
    assert s3.get_object(Bucket=pool.bucket, Key="mine.txt")["Body"].read() == b"mine"


@pytest.mark.parametrize("guest_first", [False, True], ids=["signed-out", "guest"])
def test_sign_out_from_invalid(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock, guest_first: bool
) -> None:
    client = signed_out
    if guest_first:
        client.get_aws_credentials()  # guest access is now known to be on
        assert client.current_user_state is UserState.GUEST
    _, recorder = _federated_then_refused(client, emulator, clock, unique("out"))
    with pytest.raises(UnableToSignInError):
        client.get_aws_credentials(wait=False)
    assert client.current_user_state is INVALID

    client.sign_out()
    expected = UserState.GUEST if guest_first else UserState.SIGNED_OUT
    assert client.current_user_state is expected
    assert client.username is None
    assert recorder.calls == [(INVALID, {"provider": GOOGLE}), (expected, {})]
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)
    # Credentials again: the guest's (the fault refuses the token, not guest access).
    emulator.faults.clear()
    client.get_aws_credentials()
    assert client.current_user_state is UserState.GUEST


def test_a_sign_out_ends_the_wait(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_out
    _federated_then_refused(client, emulator, clock, unique("out"))
    waiter = InThread(client.get_aws_credentials, timeout=5)
    waiter.start()
    until(lambda: client.current_user_state is INVALID)
    time.sleep(0.05)
    assert waiter.is_alive()
    emulator.faults.clear()
    client.sign_out()
    waiter.join(3)
    assert not waiter.is_alive(), "a sign-out left get_aws_credentials() waiting"
    # Like any call made after the sign-out: guest credentials (this pool allows guests),
    # or an error saying nobody signed in; never the refused user's credentials.
    if waiter.error is not None:
        assert isinstance(waiter.error, (UnableToSignInError, NotSignedInError)), waiter.error
    else:
        assert client.current_user_state is UserState.GUEST
        assert waiter.result == client.get_aws_credentials()


# -- logins follow the user -----------------------------------------------------------------


def test_refreshed_user_pool_tokens_are_the_next_logins(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    pool: Provisioned,
    identity_calls: IdentityCalls,
) -> None:
    client = make_client()
    client.initialize()
    username = unique("follow")
    register(client, emulator, username)
    client.sign_in(username, PASSWORD)
    login_key = f"cognito-idp.{pool.region}.amazonaws.com/{pool.user_pool_id}"
    old_tokens = client.get_tokens()
    old = client.get_aws_credentials()
    assert credential_calls(identity_calls())[-1]["Logins"] == {login_key: old_tokens.id_token}
    identity_id = client.get_identity_id()

    clock.advance(HOUR + 60)  # past the tokens' and the credentials' expiry
    emulator.reset_requests()
    renewed = client.get_aws_credentials()
    # The id token in Logins was refreshed first (the emulator refuses an expired one).
    assert cognito_requests(emulator) == ["GetTokensFromRefreshToken", "GetCredentialsForIdentity"]
    new_tokens = client.get_tokens()
    assert (
        emulator.count("GetTokensFromRefreshToken") == 1
    )  # the tokens refreshed for the credentials
    assert new_tokens.id_token != old_tokens.id_token
    assert credential_calls(identity_calls()) == [
        {
            "operation": "GetCredentialsForIdentity",
            "IdentityId": identity_id,
            "Logins": {login_key: new_tokens.id_token},
        }
    ]
    assert renewed.access_key_id != old.access_key_id
    assert client.get_identity_id() == identity_id
    assert client.current_user_state is UserState.SIGNED_IN


# -- request counts -------------------------------------------------------------------------


def _session_of(kind: str, client: AuthClient, emulator: Emulator) -> None:
    if kind == "guest":
        client.get_aws_credentials()
    elif kind == "federated":
        client.federated_sign_in(IdentityProvider.GOOGLE, provider_token(unique("count")))
    else:
        username = unique("count")
        register(client, emulator, username)
        client.sign_in(username, PASSWORD)


@pytest.mark.parametrize("kind", ["guest", "federated", "user_pool"])
def test_cached_credentials_make_no_request_and_expiry_makes_one(
    signed_out: AuthClient, emulator: Emulator, clock: FakeClock, kind: str
) -> None:
    client = signed_out
    _session_of(kind, client, emulator)
    first = client.get_aws_credentials()
    emulator.reset_requests()
    for _ in range(100):
        assert client.get_aws_credentials() is first
    assert emulator.requests == []

    clock.advance(HOUR + 60)
    results = in_threads(32, lambda: client.get_aws_credentials(timeout=10))
    assert len({c.access_key_id for c in results}) == 1
    assert results[0].access_key_id != first.access_key_id
    assert emulator.count("GetCredentialsForIdentity") == 1
    assert emulator.count("GetId") == 0
    assert emulator.count("GetTokensFromRefreshToken") == (1 if kind == "user_pool" else 0)


def test_thirty_two_threads_become_one_guest(signed_out: AuthClient, emulator: Emulator) -> None:
    client = signed_out
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()
    results = in_threads(32, client.get_aws_credentials)
    assert len({c.access_key_id for c in results}) == 1
    assert cognito_requests(emulator) == ["GetId", "GetCredentialsForIdentity"]
    assert client.current_user_state is UserState.GUEST
    assert recorder.calls == [(UserState.GUEST, {})]
    assert results[0] == client.get_aws_credentials()


# -- the guest identity offered at sign-in ----------------------------------------------------


def test_a_federated_sign_in_links_the_guest_identity(
    signed_out: AuthClient, emulator: Emulator, identity_calls: IdentityCalls
) -> None:
    client = signed_out
    client.get_aws_credentials()
    guest_id = client.get_identity_id()
    emulator.reset_requests()
    token = provider_token(unique("linked"))
    client.federated_sign_in(IdentityProvider.GOOGLE, token)
    # The guest id is offered with the login: no GetId, and the pool links it.
    assert cognito_requests(emulator) == ["GetCredentialsForIdentity"]
    assert identity_calls()[0]["IdentityId"] == guest_id
    assert client.get_identity_id() == guest_id

    # The guest identity was used up: the next guest session gets a new one.
    client.sign_out()
    assert client.current_user_state is UserState.GUEST
    assert client.get_identity_id() != guest_id


@pytest.mark.parametrize("how", ["user_pool", "federated"])
def test_an_existing_identity_wins_over_the_offered_guest(
    make_client: MakeClient, emulator: Emulator, how: str
) -> None:
    # The user already has an identity, from a sign-in on another device.
    other = make_client()
    other.initialize()
    username, subject = unique("merged"), unique("merged")
    if how == "user_pool":
        register(other, emulator, username)
        other.sign_in(username, PASSWORD)
    else:
        other.federated_sign_in(IdentityProvider.GOOGLE, provider_token(subject))
    users_id = other.get_identity_id()

    client = make_client()
    client.get_aws_credentials()
    guest_id = client.get_identity_id()
    assert guest_id != users_id
    if how == "user_pool":
        client.sign_in(username, PASSWORD)
    else:
        client.federated_sign_in(IdentityProvider.GOOGLE, provider_token(subject))
    assert client.is_signed_in
    # The pool merged the offered guest identity into the user's: its answer wins.
    assert client.get_identity_id() == users_id
    assert client.get_aws_credentials().session_token
    client.sign_out()
    assert client.current_user_state is UserState.GUEST
    assert client.get_identity_id() not in (users_id, guest_id)


# -- secrets --------------------------------------------------------------------------------


def test_no_secret_in_reprs_errors_or_logs(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    tokens: list[str] = []

    def keep(exc: BaseException) -> None:
        texts.extend([str(exc), repr(exc), str(getattr(exc, "message", ""))])

    client = make_client()
    client.initialize()
    guest = client.get_aws_credentials()
    guest_id = client.get_identity_id()

    # A refusal that echoes the token back: the error the caller gets does not carry it.
    echoed = "google-token-echoed-by-the-pool"
    tokens.append(echoed)
    refuse_federated_token(emulator, echoed)
    with pytest.raises(NotAuthorizedError) as refused:
        client.federated_sign_in(IdentityProvider.GOOGLE, echoed)
    keep(refused.value)
    assert echoed not in str(refused.value)
    assert client.current_user_state is UserState.GUEST  # nothing was committed
    emulator.faults.clear()
    emulator.reset_requests()
    assert client.get_aws_credentials() == guest  # the guest session is as it was
    assert client.get_identity_id() == guest_id
    assert emulator.requests == []

    token = provider_token(unique("secret"))
    tokens.append(token)
    client.federated_sign_in(IdentityProvider.GOOGLE, token)
    user = client.get_aws_credentials()
    refuse_federated_token(emulator, token)
    clock.advance(HOUR + 60)
    with pytest.raises(UnableToSignInError) as unable:
        client.get_aws_credentials(wait=False)
    keep(unable.value)
    with pytest.raises(UnableToSignInError) as timed_out:
        client.get_aws_credentials(timeout=0.05)
    keep(timed_out.value)
    with pytest.raises(InvalidParameterError) as developer:
        client.federated_sign_in(IdentityProvider.DEVELOPER, token)
    keep(developer.value)
    emulator.faults.clear()

    no_guest = emulator.provision(allow_guest=False, bucket=None)
    with pytest.raises(GuestAccessNotAllowedError) as not_allowed:
        make_client(no_guest.aws_configuration()).get_aws_credentials()
    keep(not_allowed.value)
    with pytest.raises(IdentityPoolNotConfiguredError) as not_configured:
        make_client(identity_pool=False).get_aws_credentials()
    keep(not_configured.value)

    for credentials in (guest, user):
        texts.extend([repr(credentials), str(credentials), f"{credentials}", f"{credentials!r}"])
        assert credentials.access_key_id not in repr(credentials)  # only a prefix is shown
    texts.append(repr(client))
    texts.append(caplog.text)
    texts.extend(record.getMessage() for record in caplog.records)
    assert_no_secret(texts, [guest, user])
    for text in texts:
        for secret in tokens:
            assert secret not in text
