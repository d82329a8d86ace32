"""Calls to AWS services: unsigned boto3 clients, error mapping and bounded retries.

Cognito's public operations need no AWS credentials, so every client here is unsigned
(``botocore.UNSIGNED``). boto3 is imported on the first call that needs the network, which
keeps ``import fsm_auth`` cheap.

Errors come out as the ``fsm_auth.errors`` tree: connection refused or reset, DNS failure and
timeouts as :class:`~fsm_auth.errors.NetworkError` (never retried here: the caller decides,
and nothing changes state on a network error); throttling and 5xx answers are retried a
bounded number of times with full-jitter exponential backoff, then mapped.

botocore logs whole request and response bodies at DEBUG (passwords, refresh tokens, AWS secret
keys). While one of our calls runs, those records are replaced by a placeholder; the
application's own boto3 logging, outside our calls, is left as it is.
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

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
)
_in_our_call: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "fsm_auth_in_call", default=False
)


class _WithholdBodies(logging.Filter):
    """Replace botocore's records made during our calls: they may carry credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _in_our_call.get():
            record.msg = "[fsm-auth withheld a %s record made during a Cognito call]"
            record.args = (record.name,)
        return True


_withhold = _WithholdBodies()
_filters_installed = False


def _install_log_filters() -> None:
    global _filters_installed
    if not _filters_installed:
        for name in _BODY_LOGGERS:
            # A filter on a logger applies to records created on that very logger.
            logging.getLogger(name).addFilter(_withhold)
        _filters_installed = True


_THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
)


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


class ServiceTransport:
    """Makes calls to one AWS service (``cognito-idp``, ``cognito-identity``) for a region.

    ``secrets_of`` names the request parameters whose values are scrubbed from any error
    message the service sends back.
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
        self.service = service
        self.region = region
        self.endpoint_url = endpoint_url
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._client: Any = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"ServiceTransport({self.service!r}, {self.region!r}, endpoint={self.endpoint_url!r})"
        )

    @property
    def client(self) -> Any:
        """The boto3 client, built on first use."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._build_client()
                client = self._client
        return client

    def _build_client(self) -> Any:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        _install_log_filters()

        config = Config(
            signature_version=UNSIGNED,
            region_name=self.region,
            connect_timeout=self.retry.connect_timeout,
            read_timeout=self.retry.read_timeout,
            # We retry ourselves (throttling and 5xx only) so that connectivity failures surface
            # at once as NetworkError instead of after botocore's own backoff.
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        # A private session: never the default one, whose ambient credentials we must not use.
        session = boto3.session.Session(region_name=self.region)
        return session.client(self.service, endpoint_url=self.endpoint_url, config=config)

    def call(self, operation: str, params: Mapping[str, Any], *secrets: str | None) -> Any:
        """Call ``operation`` (boto3's snake_case method name) and return the parsed answer."""
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            HTTPClientError,
            ParamValidationError,
        )
        from botocore.parsers import ResponseParserError

        method = getattr(self.client, operation)
        attempt = 0
        while True:
            attempt += 1
            marker = _in_our_call.set(True)
            try:
                return method(**params)
            except ClientError as exc:
                error = _map_client_error(exc, secrets)
            except (ConnectionError, HTTPClientError) as exc:
                # Refused, reset, DNS failure, timeouts: all subclasses of these two.
                raise _network_error(self.service, operation, exc) from None
            except ParamValidationError as exc:
                raise InvalidParameterError(redact(str(exc), *secrets)) from None
            except (
                ResponseParserError,
                AttributeError,
                TypeError,
                ValueError,
                KeyError,
                RecursionError,
            ) as exc:
                # botocore parses the answer against the service model and raises whatever
                # Python raises when the document has another shape ('str' object has no
                # attribute 'get', ...) or is nested too deeply for json.
                malformed = _malformed_answer(self.service, operation, exc)
                if malformed is None:
                    raise
                raise malformed from None
            finally:
                _in_our_call.reset(marker)
            retryable = isinstance(error, (TooManyRequestsError, InternalServiceError))
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
            self._sleep(pause)


def _map_client_error(exc: Any, secrets: tuple[str | None, ...]) -> ServiceError:
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {}) or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    if code in _THROTTLING_CODES or status == 429:
        return TooManyRequestsError(message or "The service throttled the request", code=code)
    if status >= 500:
        return InternalServiceError(
            f"The service failed with HTTP {status}: {message}".rstrip(": "),
            code=code or "InternalErrorException",
        )
    return service_error(code or None, message, *secrets)


_JSON_KINDS = {
    "structure": "an object",
    "map": "an object",
    "list": "an array",
    "string": "a string",
    "boolean": "a boolean",
    "integer": "a number",
    "long": "a number",
    "float": "a number",
    "double": "a number",
    "timestamp": "a timestamp",
    "blob": "base64 text",
}


def _malformed_answer(
    service: str, operation: str, exc: BaseException
) -> InvalidParameterError | None:
    """The error for an answer botocore's parser could not read, naming the member's shape and
    what it should have been (never the value: it may be a token); ``None`` when ``exc`` did
    not come from the parser."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == "botocore.parsers":
            frames.append(tb.tb_frame)
        tb = tb.tb_next
    if not frames:
        return None
    if isinstance(exc, RecursionError):
        problem = "its JSON is nested too deeply"
    else:
        # The innermost parser frame holds the shape that did not fit; the enclosing
        # structure's loop variable names the member that carried it.
        shape = frames[-1].f_locals.get("shape")
        kind = _JSON_KINDS.get(getattr(shape, "type_name", ""), "of another type")
        member = next(
            (
                f.f_locals["member_name"]
                for f in reversed(frames[:-1])
                if isinstance(f.f_locals.get("member_name"), str)
            ),
            None,
        )
        problem = f"{member or 'the answer'} should be {kind}"
    return InvalidParameterError(
        f"{service} answered {operation} with a malformed document: {problem}"
    )


def _network_error(service: str, operation: str, exc: BaseException) -> NetworkError:
    # botocore's messages name the endpoint and the failure, never request parameters.
    return NetworkError(f"Could not reach {service} for {operation}: {type(exc).__name__}: {exc}")
