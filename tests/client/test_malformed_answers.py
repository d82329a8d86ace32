"""Wrongly shaped answers from the service (issue 9, item 5), sent by the emulator's fault
layer (``Fault(answer=...)``) or, for what it cannot send, by a loopback server: each ends as
an ``AuthError`` subclass naming what was wrong, never ``KeyError`` / ``AttributeError`` /
``TypeError`` / ``RecursionError``, nothing secret in the message, and the client is not
stuck: the next sign-in works."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fsm_auth import AuthClient, AuthError, InvalidParameterError, SignInState, UserState
from fsm_auth.emulator import Emulator, FakeClock, Fault
from fsm_auth.transport import RetryPolicy, ServiceTransport

from .conftest import PASSWORD, pool_client, sign_up_confirmed

SESSION = "c2Vzc2lvbi12YWx1ZS1uZXZlci1zaG93bg"

MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "challenge parameters a list": (
        {"ChallengeName": "SMS_MFA", "Session": SESSION, "ChallengeParameters": ["USERNAME"]},
        "ChallengeParameters should be an object",
    ),
    "authentication result a string": (
        {"AuthenticationResult": "tokens"},
        "AuthenticationResult should be an object",
    ),
    "authentication result a list": (
        {"AuthenticationResult": [{"IdToken": "x"}]},
        "AuthenticationResult should be an object",
    ),
    "session a number": (
        {"ChallengeName": "SMS_MFA", "Session": 12345, "ChallengeParameters": {"USERNAME": "u"}},
        "Session is not a string",
    ),
    "session an object": (
        {"ChallengeName": "SMS_MFA", "Session": {"a": 1}, "ChallengeParameters": {}},
        "Session",
    ),
    "a challenge parameter a list": (
        {
            "ChallengeName": "SMS_MFA",
            "Session": SESSION,
            "ChallengeParameters": {"CODE_DELIVERY_DESTINATION": ["+1555"]},
        },
        "a value that is not a string (CODE_DELIVERY_DESTINATION)",
    ),
    "a token a number": (
        {"AuthenticationResult": {"IdToken": 5, "AccessToken": "x", "RefreshToken": "r"}},
        "IdToken is not a token string",
    ),
    "no token": (
        {"AuthenticationResult": {"ExpiresIn": 3600}},
        "incomplete set of tokens",
    ),
}


@pytest.mark.parametrize("operation", ["InitiateAuth", "RespondToAuthChallenge"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_sign_in_answer_is_an_auth_error_naming_it(
    client: AuthClient, emulator: Emulator, case: str, operation: str
) -> None:
    answer, message = MALFORMED[case]
    username = "mallory"  # a fresh pool per test
    sign_up_confirmed(client, emulator, username)
    emulator.faults.inject(Fault(operation=operation, times=1, answer=answer))
    with pytest.raises(InvalidParameterError) as caught:
        client.sign_in(username, PASSWORD)
    assert message in str(caught.value)
    assert SESSION not in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert client.current_user_state is UserState.SIGNED_OUT
    assert client.sign_in(username, PASSWORD).state is SignInState.DONE


def test_a_malformed_mfa_setup_answer_is_an_auth_error(
    make_client: Callable[..., AuthClient], emulator: Emulator
) -> None:
    pool = emulator.provision(mfa="ON", with_identity_pool=False, bucket=None)
    client = pool_client(make_client, pool)
    sign_up_confirmed(client, emulator, "olga")
    emulator.faults.inject(
        Fault(
            operation="AssociateSoftwareToken",
            times=1,
            answer={"SecretCode": "JBSWY3DPEHPK3PXP", "Session": ["not", "a", "session"]},
        )
    )
    with pytest.raises(InvalidParameterError, match="Session is not a string"):
        client.sign_in("olga", PASSWORD)
    assert client.sign_in("olga", PASSWORD).state is SignInState.MFA_SETUP


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"AuthenticationResult": "tokens"}, "AuthenticationResult should be an object"),
        ({"AuthenticationResult": {"IdToken": ["x"], "AccessToken": "y"}}, "IdToken"),
    ],
)
def test_a_malformed_refresh_answer_is_an_auth_error(
    signed_in: AuthClient,
    emulator: Emulator,
    clock: FakeClock,
    answer: dict[str, Any],
    message: str,
) -> None:
    clock.advance(3600)  # the tokens expired: get_tokens() refreshes
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", times=1, answer=answer))
    with pytest.raises(AuthError) as caught:
        signed_in.get_tokens(wait=False)
    assert message in str(caught.value)


class _AnswerServer(ThreadingHTTPServer):
    """A real HTTP server on loopback that answers every request with ``body`` (status 200):
    what the emulator cannot send (its answers go through json.dumps, as deep as it allows)."""

    daemon_threads = True
    body = b"{}"


class _AnswerHandler(BaseHTTPRequestHandler):
    server: _AnswerServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"AuthenticationResult": {"NewDeviceMetadata": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}}",
            "its JSON is nested too deeply",
        ),
        (b'{"ChallengeParameters": "USERNAME"}', "ChallengeParameters should be an object"),
        (b'["AuthenticationResult"]', "the answer should be an object"),
    ],
    ids=["nested-100000", "parameters-text", "top-level-array"],
)
def test_an_answer_botocore_cannot_parse_is_an_auth_error(body: bytes, message: str) -> None:
    server = _AnswerServer(("127.0.0.1", 0), _AnswerHandler)
    server.body = body
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        transport = ServiceTransport(
            "cognito-idp",
            "us-east-1",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            retry=RetryPolicy(max_attempts=1),
        )
        params = {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "client", "AuthParameters": {}}
        with pytest.raises(InvalidParameterError, match=message):
            transport.call("initiate_auth", params)
    finally:
        server.shutdown()
        server.server_close()
