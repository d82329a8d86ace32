"""The fidelity layer: a WSGI middleware in front of moto's server application.

Every request is classified (service, operation), recorded, matched against the injected
faults, then answered by our user-pool/identity/hosted-UI layers or by moto (whose error
messages are scrubbed of anything secret the request carried).

The hosted UI's paths (``/oauth2/...``, ``/login``, ``/logout``, ``/error``) are taken here,
before moto, which would read ``/login`` as an S3 bucket: service ``hosted-ui``, operations
named after the paths (see :data:`HOSTED_UI_PATHS`).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from ._errors import CognitoError
from ._faults import Faults
from ._web import HOSTED_UI, read_body, recorded_params

_log = logging.getLogger("fsm_auth.emulator")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# An object with before(operation, params) and after(operation, params, answer); for the
# "jwks" service, one with document(operation, path) -> (status, document) | None.
Layer = Any

_TARGETS = {
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "AWSCognitoIdentityService": "cognito-identity",
}
_JSON = "application/x-amz-json-1.1"
# The hosted UI's endpoints, by path, as the operations that records and faults name.
HOSTED_UI_PATHS = {
    "/oauth2/authorize": "oauth2/authorize",
    "/login": "login",
    "/oauth2/token": "oauth2/token",
    "/oauth2/userInfo": "oauth2/userInfo",
    "/oauth2/userinfo": "oauth2/userInfo",
    "/oauth2/revoke": "oauth2/revoke",
    "/logout": "logout",
    "/oauth2/idpresponse": "oauth2/idpresponse",
    "/error": "error",
}
# How a fault's error reads at the hosted UI (an OAuth error code, not a service exception).
_OAUTH_FAULT_CODES = {
    "InternalErrorException": "server_error",
    "TooManyRequestsException": "temporarily_unavailable",
}
_SENSITIVE_KEY = re.compile(r"password|token|secret|session|code|login|srp|signature|answer", re.I)
_SECRET_SHAPES = (
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I),
    re.compile(r"[A-Za-z0-9+/_=-]{40,}"),
)


def classify(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of a request, without reading its body."""
    path = str(environ.get("PATH_INFO", ""))
    method = str(environ.get("REQUEST_METHOD", "GET"))
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target and "." in target:
        prefix, operation = target.split(".", 1)
        return _TARGETS.get(prefix, prefix.lower()), operation
    if path.rstrip("/").endswith("/.well-known/jwks.json"):
        return "jwks", "GetJwks"
    if path.rstrip("/").endswith("/.well-known/openid-configuration"):
        return "jwks", "GetOpenIdConfiguration"
    if path.startswith("/moto-api"):
        return "moto-api", path
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    hosted = HOSTED_UI_PATHS.get(path.rstrip("/"))
    if hosted is not None and not auth.startswith("AWS4-"):
        # A SigV4-signed request to /login is S3's (a bucket so named); the hosted UI's
        # callers sign nothing (Basic or Bearer at most).
        return HOSTED_UI, hosted
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = scope.group(1) if scope else "s3"
    if service == "s3":
        return service, _s3_operation(method, path, str(environ.get("QUERY_STRING", "")))
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    return service, query.get("Action", [f"{method} {path}"])[0]


def _s3_operation(method: str, path: str, query: str) -> str:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "ListBuckets"
    has_key = len(parts) > 1
    if method == "GET":
        if has_key:
            return "GetObject"
        return "ListObjectsV2" if "list-type=2" in query else "ListObjects"
    if method == "PUT":
        return "PutObject" if has_key else "CreateBucket"
    if method == "DELETE":
        return "DeleteObject" if has_key else "DeleteBucket"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "POST":
        return "DeleteObjects" if "delete" in query else "PostObject"
    return f"{method} {path}"


def _sensitive_values(value: Any, sensitive: bool = False, out: set[str] | None = None) -> set[str]:
    """Every string under a secret-looking key (all of ``Logins``, ``PASSWORD``, tokens...)."""
    out = set() if out is None else out
    if isinstance(value, dict):
        for key, child in value.items():
            _sensitive_values(child, sensitive or bool(_SENSITIVE_KEY.search(str(key))), out)
    elif isinstance(value, list):
        for child in value:
            _sensitive_values(child, sensitive, out)
    elif isinstance(value, str) and sensitive and len(value) >= 4:
        out.add(value)
    return out


def scrub(code: str, message: str, params: dict[str, Any]) -> str:
    """``message`` without any secret the request carried (or any token-shaped run)."""
    cleaned = message
    for value in sorted(_sensitive_values(params), key=len, reverse=True):
        cleaned = cleaned.replace(value, "[redacted]")
    for shape in _SECRET_SHAPES:
        cleaned = shape.sub("[redacted]", cleaned)
    if cleaned != message and not cleaned.replace("[redacted]", "").strip(" .:"):
        return f"{code}: the request was refused (details withheld: they echoed a secret)."
    return cleaned


_JSON_SERVICES = frozenset({"cognito-idp", "cognito-identity"})


def _json_params(environ: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON document (the body stays readable for whoever comes next)."""
    try:
        params = json.loads(read_body(environ) or b"{}")
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


class FidelityMiddleware:
    """WSGI middleware: records, faults, our layers, then moto."""

    def __init__(
        self,
        app: WSGIApp,
        faults: Faults,
        record: Callable[[str, str, int, Mapping[str, Any]], None],
        layers: dict[str, Layer],
        is_running: Callable[[], bool],
    ) -> None:
        self.app = app
        self.faults = faults
        self.record = record
        self.layers = layers
        self.is_running = is_running
        # moto's backends are not built for concurrent mutation; one request at a time.
        self.lock = threading.RLock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not self.is_running():
            _drop(environ)
        service, operation = classify(environ)
        asked: dict[str, Any] = {}
        if service in _JSON_SERVICES:
            asked = _json_params(environ)
        elif service == HOSTED_UI:
            asked = dict(recorded_params(environ))
        fault = self.faults.take(service, operation)
        if fault is not None:
            if fault.drop:
                self.record(service, operation, 0, asked)
                _drop(environ)
            document = fault.error_document()
            if document is not None:
                status, code, message = document
                self.record(service, operation, status, asked)
                return _error(start_response, service, status, code, message)
            if fault.answer is not None:
                self.record(service, operation, 200, asked)
                body = json.dumps(dict(fault.answer)).encode()
                kind = "application/json" if service == HOSTED_UI else _JSON
                start_response("200 OK", [("Content-Type", kind)])
                return [body]
            time.sleep(fault.delay or 0.0)
            if not self.is_running():
                _drop(environ)
        layer = self.layers.get(service)
        if layer is not None and service == HOSTED_UI:
            status, headers, body = self._hosted_ui(layer, environ, operation)
        elif layer is not None and service == "jwks":
            status, headers, body = self._document(layer, environ, operation)
        elif layer is not None:
            status, headers, body = self._with_layer(layer, environ, operation)
        else:
            with self.lock:
                status, headers, body = _call(self.app, environ)
        self.record(service, operation, status, asked)
        start_response(f"{status} {_reason(status)}", headers)
        return [body]

    def _hosted_ui(
        self, layer: Layer, environ: dict[str, Any], operation: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The hosted UI's answer (the layer takes the lock itself: it must not hold it while
        it calls an upstream identity provider)."""
        try:
            answer = layer.handle(operation, environ)
        except Exception as error:
            # A bug of the emulator, not an answer of the service: say so, keep serving.
            _log.exception("emulator failure in %s", operation)
            body = json.dumps(
                {"error": "server_error", "error_description": type(error).__name__}
            ).encode()
            return 500, [("Content-Type", "application/json")], body
        return answer.status, list(answer.headers), answer.body

    def _document(
        self, layer: Layer, environ: dict[str, Any], operation: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """A GET document (the JWKS) from the layer, or moto's when the layer has none."""
        with self.lock:
            served = layer.document(operation, str(environ.get("PATH_INFO", "")))
            if served is None:
                return _call(self.app, environ)
        status, document = served
        return status, [("Content-Type", "application/json")], json.dumps(document).encode()

    def _with_layer(
        self, layer: Layer, environ: dict[str, Any], operation: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        params = _json_params(environ)
        with self.lock:
            try:
                answer = layer.before(operation, params)
                if answer is None:
                    status, headers, body = _call(self.app, environ)
                    if status >= 400:
                        return _scrubbed(status, headers, body, params)
                    if not body.strip():
                        return status, headers, body
                    answer = layer.after(operation, params, json.loads(body))
            except CognitoError as error:
                return _error_parts(error.status, error.code, error.message)
            except Exception as error:
                code = getattr(error, "error_type", None)
                if code is None:
                    # A bug of the emulator, not an answer of the service: say so, keep serving.
                    _log.exception("emulator failure in %s", operation)
                    failure = f"Emulator failure: {type(error).__name__}"
                    return _error_parts(500, "InternalErrorException", failure)
                message = scrub(str(code), str(getattr(error, "message", "")), params)
                return _error_parts(int(getattr(error, "code", 400)), str(code), message)
        return 200, [("Content-Type", _JSON)], json.dumps(answer).encode()


def _call(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = list(headers)
        return written.append

    result = app(environ, start_response)
    try:
        body = b"".join(written) + b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], body


def _scrubbed(
    status: int, headers: list[tuple[str, str]], body: bytes, params: dict[str, Any]
) -> tuple[int, list[tuple[str, str]], bytes]:
    try:
        document = json.loads(body)
        code = str(document.get("__type", "")).split("#")[-1]
        message = str(document.get("message", document.get("Message", "")))
    except (ValueError, AttributeError):
        return status, headers, body
    return _error_parts(status, code, scrub(code, message, params))


def _error_parts(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, [("Content-Type", _JSON), ("x-amzn-ErrorType", code)], body


def _error(
    start_response: Callable[..., Any], service: str, status: int, code: str, message: str
) -> list[bytes]:
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml")]
    elif service == HOSTED_UI:
        document = {"error": _OAUTH_FAULT_CODES.get(code, code), "error_description": message}
        body = json.dumps(document).encode()
        headers = [("Content-Type", "application/json;charset=UTF-8")]
    else:
        _, headers, body = _error_parts(status, code, message)
    start_response(f"{status} {_reason(status)}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _drop(environ: dict[str, Any]) -> None:
    """Close the client's connection without an answer (the client sees a reset/close)."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            # Linger 0: the close sends a reset rather than a polite end of stream.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("connection dropped by the emulator")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
