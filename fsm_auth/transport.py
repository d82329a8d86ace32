"""Calls to Cognito: unsigned JSON 1.1 requests over one process-wide HTTP connection pool,
error mapping and bounded retries.

Cognito's public operations need no AWS credentials and speak the AWS JSON 1.1 protocol
(``POST /`` with ``X-Amz-Target: <service prefix>.<Operation>`` and a JSON body; errors as
``__type`` + ``message``), so they need neither a signature nor botocore's service model. Every
transport of the process sends through one thread-safe urllib3 pool manager (one per proxy),
built on the first call: building a client costs nothing, no client loads a service model or
endpoint rules, and connections to the same endpoint are reused by every client. urllib3 is
imported on the first call that needs the network, which keeps ``import fsm_auth`` cheap.

Errors come out as the ``fsm_auth.errors`` tree: connection refused or reset, DNS failure and
timeouts as :class:`~fsm_auth.errors.NetworkError` (never retried here: the caller decides,
and nothing changes state on a network error); throttling and 5xx answers are retried a
bounded number of times with full-jitter exponential backoff, then mapped; an answer that is
not the JSON document the operation returns is an :class:`~fsm_auth.errors.InvalidParameterError`
naming the member that did not fit (never its value).

Nothing here logs a request or response body. urllib3 logs request lines at DEBUG; while one
of our calls runs, those records (and botocore's, should an application's hook call it) are
replaced by a placeholder; the application's own logging, outside our calls, is left as it is.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from fsm_auth.errors import (
    InternalServiceError,
    InvalidParameterError,
    NetworkError,
    ServiceError,
    TooManyRequestsError,
    redact,
    service_error,
)

__all__ = ["RetryPolicy", "ServiceTransport"]

logger = logging.getLogger("fsm_auth.transport")

# Loggers that may carry request or response bodies (or, for urllib3, request lines).
_BODY_LOGGERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.hooks",
    "botocore.retryhandler",
    "botocore.auth",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
)
_in_our_call: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "fsm_auth_in_call", default=False
)


class _WithholdBodies(logging.Filter):
    """Replace HTTP-layer records made during our calls: they may carry credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _in_our_call.get():
            record.msg = "[fsm-auth withheld a %s record made during a Cognito call]"
            record.args = (record.name,)
        return True


_withhold = _WithholdBodies()

# The X-Amz-Target prefix and the public endpoint of each service this transport speaks to.
_SERVICES = {
    "cognito-idp": "AWSCognitoIdentityProviderService",
    "cognito-identity": "AWSCognitoIdentityService",
}
_CONTENT_TYPE = "application/x-amz-json-1.1"
_USER_AGENT = f"fsm-auth Python/{sys.version_info[0]}.{sys.version_info[1]}"
_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\Z")
# The answer of a Cognito operation is small (tokens are a few KiB); a server that sends more
# is not Cognito, and reading it whole would let it fill memory.
_MAX_ANSWER_BYTES = 1 << 20

_THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
)
# A 5xx that says the operation is unknown (cognito-local's "CognitoLocal#Unsupported"): asking
# again cannot help, and the caller may fall back to another operation at once.
_UNSUPPORTED_CODES = frozenset({"Unsupported"})


class _Shared:
    """What every transport of the process shares, built once on first use: the log filters
    and one urllib3 pool manager per proxy (``None``: direct). urllib3's managers are
    thread-safe; this lock only guards building them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.managers: dict[str | None, Any] = {}
        self.filters_installed = False

    def manager(self, proxy: str | None) -> Any:
        manager = self.managers.get(proxy)
        if manager is not None:
            return manager
        with self.lock:
            manager = self.managers.get(proxy)
            if manager is None:
                manager = _build_manager(proxy)
                if not self.filters_installed:
                    for name in _BODY_LOGGERS:
                        # A filter on a logger applies to records created on that very logger.
                        logging.getLogger(name).addFilter(_withhold)
                    self.filters_installed = True
                self.managers[proxy] = manager
        return manager


_shared = _Shared()


def _forget_after_fork() -> None:
    # A forked child must not write on its parent's pooled sockets (both would read each
    # other's answers), nor wait on a lock a parent's thread held at the fork: it starts anew.
    global _shared
    _shared = _Shared()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_after_fork)


def _build_manager(proxy: str | None) -> Any:
    import urllib3

    # Certificates as botocore and requests find them: AWS_CA_BUNDLE, then certifi's bundle
    # (installed with requests), else the system's default store.
    ca_certs = os.environ.get("AWS_CA_BUNDLE") or os.environ.get("REQUESTS_CA_BUNDLE")
    if not ca_certs:
        try:
            import certifi

            ca_certs = certifi.where()
        except ImportError:  # pragma: no cover - certifi comes with requests
            ca_certs = None
    # Many clients in many threads share these pools; more than ``maxsize`` concurrent calls
    # to one endpoint open extra connections rather than wait (block=False).
    options: dict[str, Any] = {"num_pools": 16, "maxsize": 32, "block": False}
    if ca_certs:
        options["ca_certs"] = ca_certs
    if proxy:
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def _proxy_for(url: str) -> str | None:
    """The proxy for ``url`` from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as
    botocore and requests use them."""
    import urllib.request

    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


@attrs.frozen
class RetryPolicy:
    """Bounded retries for throttling and 5xx answers: full jitter, capped backoff."""

    max_attempts: int = 3
    base_delay: float = 0.1
    max_delay: float = 2.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def _operation_name(operation: str) -> str:
    """``initiate_auth`` -> ``InitiateAuth`` (boto3's method names, the wire's operation)."""
    if "_" not in operation and operation[:1].isupper():
        return operation
    return "".join(part[:1].upper() + part[1:] for part in operation.split("_"))


class ServiceTransport:
    """Makes calls to one Cognito service (``cognito-idp``, ``cognito-identity``) for a
    region, at its public endpoint ``https://<service>.<region>.amazonaws.com/`` or at
    ``endpoint_url``.

    Building one costs nothing: the HTTP connection pools are the process's, shared by every
    transport (thread-safe). ``call`` takes boto3's operation names (``initiate_auth``) and
    parameters and returns the answer as a dict (timestamps as epoch seconds, as on the wire).
    """

    def __init__(
        self,
        service: str,
        region: str,
        *,
        endpoint_url: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        prefix = _SERVICES.get(service)
        if prefix is None:
            raise ValueError(f"fsm-auth's transport speaks to {sorted(_SERVICES)}, not {service!r}")
        if endpoint_url is None and not _REGION.match(region):
            # As botocore's InvalidRegionError: the region becomes part of a host name.
            raise ValueError(f"not an AWS region name: {region!r}")
        self.service = service
        self.region = region
        self.endpoint_url = endpoint_url
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._target = prefix + "."
        base = endpoint_url or f"https://{service}.{region}.amazonaws.com"
        parts = urlsplit(base if "://" in base else f"https://{base}")
        # JSON 1.1 posts to the endpoint's path (``/`` for AWS); a path on an override is kept.
        self._url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"
        self._proxy: str | bool | None = False  # False: not looked up yet
        self._timeout: Any = None

    def __repr__(self) -> str:
        return (
            f"ServiceTransport({self.service!r}, {self.region!r}, endpoint={self.endpoint_url!r})"
        )

    @property
    def url(self) -> str:
        """Where the calls are posted."""
        return self._url

    def _manager(self) -> Any:
        if self._proxy is False:
            import urllib3

            # The timeout first: a thread that sees the proxy looked up must see it too.
            self._timeout = urllib3.Timeout(
                connect=self.retry.connect_timeout, read=self.retry.read_timeout
            )
            self._proxy = _proxy_for(self._url)
        return _shared.manager(self._proxy if isinstance(self._proxy, str) else None)

    def call(self, operation: str, params: Mapping[str, Any], *secrets: str | None) -> Any:
        """Call ``operation`` (boto3's snake_case method name) and return the parsed answer."""
        body, headers = self.request(operation, params, secrets)
        manager = self._manager()
        attempt = 0
        while True:
            attempt += 1
            marker = _in_our_call.set(True)
            try:
                status, data, error_type = self._send(manager, body, headers, operation)
            finally:
                _in_our_call.reset(marker)
            retry, answer = self.outcome(operation, attempt, status, data, error_type, secrets)
            if not retry:
                return answer
            self._sleep(answer)

    def request(
        self, operation: str, params: Mapping[str, Any], secrets: tuple[str | None, ...]
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers that call ``operation`` with ``params`` (no I/O)."""
        name = _operation_name(operation)
        try:
            body = json.dumps(params, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            # json names the type that did not fit, never the value.
            raise InvalidParameterError(
                redact(f"{name}: a parameter cannot be sent as JSON: {exc}", *secrets)
            ) from None
        headers = {
            "Content-Type": _CONTENT_TYPE,
            "X-Amz-Target": self._target + name,
            "Accept-Encoding": "identity",
            "User-Agent": _USER_AGENT,
        }
        return body, headers

    def outcome(
        self,
        operation: str,
        attempt: int,
        status: int,
        data: bytes,
        error_type: str,
        secrets: tuple[str | None, ...],
    ) -> tuple[bool, Any]:
        """What attempt ``attempt``'s answer means (no I/O): ``(False, the parsed answer)``,
        ``(True, seconds to wait before the next attempt)``, or the mapped error raised."""
        if status < 300:
            return False, _parse_answer(self.service, operation, data)
        error = _map_error(status, data, error_type, secrets)
        retryable = (
            isinstance(error, (TooManyRequestsError, InternalServiceError))
            and error.code not in _UNSUPPORTED_CODES
        )
        if not retryable or attempt >= self.retry.max_attempts:
            raise error from None
        pause = self.retry.delay(attempt)
        logger.debug(
            "%s %s answered %s; retry %d in %.2fs",
            self.service,
            operation,
            error.code,
            attempt,
            pause,
        )
        return True, pause

    def _send(
        self, manager: Any, body: bytes, headers: dict[str, str], operation: str
    ) -> tuple[int, bytes, str]:
        from urllib3.exceptions import HTTPError

        try:
            response = manager.urlopen(
                "POST",
                self._url,
                body=body,
                headers=headers,
                timeout=self._timeout,
                # We retry ourselves (throttling and 5xx only) so that connectivity failures
                # surface at once as NetworkError, and never follow a redirect with a password.
                retries=False,
                redirect=False,
                preload_content=False,
            )
            try:
                data = response.read(_MAX_ANSWER_BYTES + 1, decode_content=True)
                if len(data) > _MAX_ANSWER_BYTES:
                    # Unread bytes stay on the socket: it must not serve another call.
                    response.close()
                error_type = str(response.headers.get("x-amzn-ErrorType") or "")
                return response.status, data, error_type
            finally:
                response.release_conn()
        except HTTPError as exc:
            # Refused, reset, DNS failure, timeouts, TLS failures, a broken answer: urllib3's
            # messages name the host and the failure, never the request body.
            raise NetworkError(
                f"Could not reach {self.service} for {operation}: {type(exc).__name__}: {exc}"
            ) from None
        except OSError as exc:
            raise NetworkError(
                f"Could not reach {self.service} for {operation}: {type(exc).__name__}"
            ) from None


def _error_code(raw: str) -> str:
    # "com.amazonaws.cognito.identity.model#NotAuthorizedException" and
    # "NotAuthorizedException:http://internal.amazon.com/..." both mean NotAuthorizedException.
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def _map_error(
    status: int, data: bytes, error_type: str, secrets: tuple[str | None, ...]
) -> ServiceError:
    document: Any = None
    if len(data) <= _MAX_ANSWER_BYTES:
        try:
            document = json.loads(data) if data else None
        except (ValueError, RecursionError):
            document = None
    if not isinstance(document, dict):
        document = {}
    code = _error_code(str(document.get("__type") or document.get("code") or error_type))
    message = document.get("message", document.get("Message"))
    message = message if isinstance(message, str) else ""
    if code in _THROTTLING_CODES or status == 429:
        return TooManyRequestsError(message or "The service throttled the request", code=code)
    if status >= 500:
        return InternalServiceError(
            f"The service failed with HTTP {status}: {message}".rstrip(": "),
            code=code or "InternalErrorException",
        )
    if not code:
        return InvalidParameterError(f"The service refused the request with HTTP {status}")
    return service_error(code, message, *secrets)


# What the members of Cognito's answers hold, where it is not a string or number: the
# containers botocore's parser would walk (a value of another shape there is a malformed
# answer, named as botocore's model names it). Names are unique across the operations used.
_STRUCTURES = frozenset(
    {
        "AuthenticationResult",
        "NewDeviceMetadata",
        "CodeDeliveryDetails",
        "Credentials",
        "Device",
    }
)
_MAPS = frozenset({"ChallengeParameters", "Logins"})
_LISTS = frozenset(
    {
        "UserAttributes",
        "MFAOptions",
        "UserMFASettingList",
        "CodeDeliveryDetailsList",
        "AvailableChallenges",
        "Devices",
        "DeviceAttributes",
    }
)


def _parse_answer(service: str, operation: str, data: bytes) -> Any:
    """The answer as a dict, checked where botocore's model would have: an
    :class:`InvalidParameterError` naming what did not fit (never the value: it may be a
    token)."""

    def malformed(problem: str) -> InvalidParameterError:
        return InvalidParameterError(
            f"{service} answered {operation} with a malformed document: {problem}"
        )

    if len(data) > _MAX_ANSWER_BYTES:
        raise malformed(f"it is larger than {_MAX_ANSWER_BYTES} bytes")
    if not data.strip():
        return {}
    try:
        answer = json.loads(data)
    except RecursionError:
        raise malformed("its JSON is nested too deeply") from None
    except ValueError:
        raise malformed("it is not JSON") from None
    if not isinstance(answer, dict):
        raise malformed("the answer should be an object")
    problem = _shape_problem(answer, 0)
    if problem is not None:
        raise malformed(problem)
    return answer


def _shape_problem(document: Mapping[str, Any], depth: int) -> str | None:
    if depth > 8:  # Cognito's answers are 3 levels deep at most
        return "it is nested too deeply"
    for member, value in document.items():
        if value is None:
            continue
        if member in _STRUCTURES or member in _MAPS:
            if not isinstance(value, dict):
                return f"{member} should be an object"
            if member in _STRUCTURES:
                problem = _shape_problem(value, depth + 1)
                if problem is not None:
                    return problem
        elif member in _LISTS:
            if not isinstance(value, list):
                return f"{member} should be an array"
            for item in value:
                if isinstance(item, dict):
                    problem = _shape_problem(item, depth + 1)
                    if problem is not None:
                        return problem
    return None
