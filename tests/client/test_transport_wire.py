"""The Cognito JSON 1.1 transport on the wire (issue 10, item 2): what it sends, how it reads
errors (``__type`` in its AWS spellings, ``x-amzn-ErrorType``), bounded retries of 5xx, answers
that are not Cognito's, and the region endpoints. A real HTTP server on loopback answers."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fsm_auth import (
    InternalServiceError,
    InvalidParameterError,
    NetworkError,
    NotAuthorizedError,
    TooManyRequestsError,
)
from fsm_auth.transport import RetryPolicy, ServiceTransport

PASSWORD = "Wire-Passw0rd-never-logged"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = 200
        self.body = b"{}"
        self.headers: dict[str, str] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.peers: list[int] = []  # the client port of each request: its connection

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        self.server.peers.append(self.client_address[1])
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _transport(server: _Server, service: str = "cognito-idp", **retry: Any) -> ServiceTransport:
    return ServiceTransport(
        service,
        "eu-west-1",
        endpoint_url=server.url,
        retry=RetryPolicy(**retry),
        sleep=lambda _: None,
    )


def test_a_call_is_an_unsigned_json_1_1_post(server: _Server) -> None:
    server.body = b'{"UserConfirmed": true, "UserSub": "abc"}'
    params = {"ClientId": "client", "Username": "ann", "Password": PASSWORD}
    answer = _transport(server).call("sign_up", params, PASSWORD)
    assert answer == {"UserConfirmed": True, "UserSub": "abc"}
    [(method, path, headers, body)] = server.seen
    assert (method, path) == ("POST", "/")
    assert headers["X-Amz-Target"] == "AWSCognitoIdentityProviderService.SignUp"
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "Authorization" not in headers  # unsigned: Cognito's public operations
    assert json.loads(body) == params


def test_identity_pool_calls_name_their_service(server: _Server) -> None:
    server.body = b'{"IdentityId": "eu-west-1:1"}'
    _transport(server, "cognito-identity").call("get_id", {"IdentityPoolId": "p"})
    assert server.seen[0][2]["X-Amz-Target"] == "AWSCognitoIdentityService.GetId"


@pytest.mark.parametrize(
    ("document", "header"),
    [
        ({"__type": "NotAuthorizedException", "message": "Incorrect username or password."}, {}),
        (
            {
                "__type": "com.amazonaws.cognito.identity.model#NotAuthorizedException",
                "Message": "Incorrect username or password.",
            },
            {},
        ),
        (
            {"__type": "NotAuthorizedException:http://internal.amazon.com/coral/", "message": ""},
            {},
        ),
        (
            {"message": "Incorrect username or password."},
            {"x-amzn-ErrorType": "NotAuthorizedException:"},
        ),
    ],
    ids=["plain", "namespaced", "with-uri", "header"],
)
def test_error_codes_in_every_aws_spelling(
    server: _Server, document: dict[str, str], header: dict[str, str]
) -> None:
    server.status, server.body, server.headers = 400, json.dumps(document).encode(), header
    with pytest.raises(NotAuthorizedError) as caught:
        _transport(server).call("initiate_auth", {"AuthParameters": {"PASSWORD": PASSWORD}})
    assert caught.value.code == "NotAuthorizedException"
    assert len(server.seen) == 1  # a refusal is not retried


def test_a_5xx_answer_is_retried_a_bounded_number_of_times(server: _Server) -> None:
    server.status, server.body = 503, b"<html>Service Unavailable</html>"
    with pytest.raises(InternalServiceError, match="HTTP 503"):
        _transport(server, max_attempts=3).call("get_user", {"AccessToken": "t"})
    assert len(server.seen) == 3


def test_throttling_is_retried_then_mapped(server: _Server) -> None:
    server.status = 400
    server.body = b'{"__type": "TooManyRequestsException", "message": "Rate exceeded"}'
    with pytest.raises(TooManyRequestsError):
        _transport(server, max_attempts=2).call("get_user", {"AccessToken": "t"})
    assert len(server.seen) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "it is not JSON"),
        (b'{"Credentials": "AKIA"}', "Credentials should be an object"),
        (b'{"UserAttributes": {"Name": "email"}}', "UserAttributes should be an array"),
        (b'{"AuthenticationResult": {"NewDeviceMetadata": []}}', "NewDeviceMetadata"),
        (b'{"a": "' + b"x" * (2 << 20) + b'"}', "larger than"),
    ],
    ids=["text", "credentials-text", "attributes-object", "nested", "oversized"],
)
def test_an_answer_that_is_not_cognito_s_is_named(
    server: _Server, body: bytes, message: str
) -> None:
    server.body = body
    with pytest.raises(InvalidParameterError, match=message) as caught:
        _transport(server).call("get_user", {"AccessToken": "t"})
    assert "AKIA" not in str(caught.value)


def test_an_unserialisable_parameter_is_refused_before_sending(server: _Server) -> None:
    with pytest.raises(InvalidParameterError, match="cannot be sent as JSON"):
        _transport(server).call("sign_up", {"Username": object(), "Password": PASSWORD})
    assert server.seen == []


def test_a_closed_port_is_a_network_error(server: _Server) -> None:
    url = server.url
    server.shutdown()
    server.server_close()
    transport = ServiceTransport("cognito-idp", "eu-west-1", endpoint_url=url)
    with pytest.raises(NetworkError, match="Could not reach cognito-idp for initiate_auth"):
        transport.call("initiate_auth", {})


def test_no_request_line_or_body_reaches_a_log(
    server: _Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.status = 400
    server.body = json.dumps(
        {"__type": "NotAuthorizedException", "message": f"bad {PASSWORD}"}
    ).encode()
    with pytest.raises(NotAuthorizedError) as caught:
        _transport(server).call("initiate_auth", {"PASSWORD": PASSWORD}, PASSWORD)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("service", ["cognito-idp", "cognito-identity"])
def test_the_region_endpoints(service: str) -> None:
    transport = ServiceTransport(service, "ap-southeast-2")
    assert transport.url == f"https://{service}.ap-southeast-2.amazonaws.com/"


def test_only_cognito_is_spoken_to() -> None:
    with pytest.raises(ValueError, match="'s3'"):
        ServiceTransport("s3", "eu-west-1")


@pytest.mark.parametrize("region", ["evil.example/#", "", "us-east-1 ", "EU"])
def test_a_region_that_is_not_a_host_label_is_refused(region: str) -> None:
    with pytest.raises(ValueError, match="not an AWS region name"):
        ServiceTransport("cognito-idp", region)


def test_calls_reuse_the_process_connection_and_a_forked_child_opens_its_own(
    server: _Server,
) -> None:
    server.body = b'{"Username": "ann"}'
    first, second = _transport(server), _transport(server)  # two clients of one process
    first.call("get_user", {"AccessToken": "t"})
    second.call("get_user", {"AccessToken": "t"})
    assert server.peers[0] == server.peers[1]  # one pooled connection for both
    pid = os.fork()
    if pid == 0:  # the child: its parent's pooled socket must not carry its calls
        code = 1
        try:
            second.call("get_user", {"AccessToken": "t"})
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    first.call("get_user", {"AccessToken": "t"})
    assert server.peers[2] != server.peers[0]  # the child's own connection
    assert server.peers[3] == server.peers[0]  # the parent's, still its own
