"""The asyncio client's transport: Cognito's JSON calls sent by aiohttp on the event loop.

:class:`LoopTransport` is a :class:`~fsm_auth.transport.ServiceTransport` (the same requests,
error mapping, answer checks and bounded retries: ``request`` / ``outcome``) whose I/O is an
``aiohttp.ClientSession`` request awaited on the client's event loop. Providers keep their
synchronous ``call``: the asyncio client runs the machine's decisions in worker threads, and a
call made there is handed to the loop and waited for, so the loop sends every request and no
thread but the worker waits. A call made on the loop's own thread would wait for itself: it is
refused with a clear error instead.

aiohttp, not aiobotocore or httpx. Cognito's calls are unsigned JSON posts, so botocore's
machinery, and the botocore version aiobotocore pins, buy nothing. httpx was the first choice
and was measured out: a thousand concurrent posts to the emulator took 39 s of CPU with
httpx 0.28 against 0.9 s with aiohttp 3.14 (its connection pool degrades with many waiting
requests, encode/httpx#3215 and #1171), and the client's CPU is what a fan-out of refreshes
waits for. aiohttp reads proxies from the environment (``trust_env``) and certificates from
``AWS_CA_BUNDLE`` / ``REQUESTS_CA_BUNDLE`` as the synchronous transport does. One
``ClientSession`` serves every asyncio client on a loop (its connection pool is per loop); it
is closed with the last of them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from fsm_auth.errors import NetworkError
from fsm_auth.transport import _MAX_ANSWER_BYTES, RetryPolicy, ServiceTransport, _in_our_call

__all__ = ["LoopHTTP", "LoopTransport"]


class LoopHTTP:
    """The aiohttp ``ClientSession`` of one event loop, shared by the asyncio clients on it."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _by_loop: ClassVar[dict[asyncio.AbstractEventLoop, LoopHTTP]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, retry: RetryPolicy) -> None:
        self.loop = loop
        self.users = 0
        self._retry = retry
        self._client: Any = None

    @classmethod
    def acquire(cls, loop: asyncio.AbstractEventLoop, retry: RetryPolicy) -> LoopHTTP:
        """The loop's shared HTTP client, counted as used once more."""
        with cls._lock:
            shared = cls._by_loop.get(loop)
            if shared is None:
                shared = cls._by_loop[loop] = cls(loop, retry)
            shared.users += 1
            return shared

    async def release(self) -> None:
        """Stop using it; the last user closes it."""
        with self._lock:
            self.users -= 1
            last = self.users == 0
            if last:
                self._by_loop.pop(self.loop, None)
        if last and self._client is not None:
            await self._client.close()

    def client(self) -> Any:
        """The ``aiohttp.ClientSession`` (built on first use, on the loop)."""
        if self._client is None:
            try:
                import aiohttp
            except ImportError:
                raise ImportError(
                    "AsyncAuthClient sends its requests with aiohttp: "
                    "pip install 'fsm-auth[asyncio]'"
                ) from None

            retry = self._retry
            # Per socket operation, as the synchronous transport's (connect, read) timeouts;
            # no bound on the wait for a free connection of the pool (a fan-out queues there).
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=retry.connect_timeout, sock_read=retry.read_timeout
            )
            # Certificates as the synchronous transport finds them (AWS_CA_BUNDLE first).
            bundle = os.environ.get("AWS_CA_BUNDLE") or os.environ.get("REQUESTS_CA_BUNDLE")
            context = _verifying(bundle) if bundle else True
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=_CONNECTIONS, ssl=context),
                timeout=timeout,
                trust_env=True,  # HTTPS_PROXY / NO_PROXY, as requests reads them
            )
        return self._client

    async def get_capped(self, url: str, timeout: float, max_bytes: int) -> bytes:
        """GET ``url`` on the loop (a JWKS): its body, status 200, at most ``max_bytes``, all
        within ``timeout`` seconds. Raises ``NetworkError``."""

        async def get() -> bytes:
            async with self.client().get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise NetworkError(f"cannot fetch the JWKS from {url}: HTTP {response.status}")
                body = await _capped(response, max_bytes)
                if len(body) > max_bytes:
                    raise NetworkError(
                        f"cannot fetch the JWKS from {url}: larger than {max_bytes} bytes"
                    )
                return body

        failures = _network_errors()
        try:
            return await asyncio.wait_for(get(), timeout)
        except asyncio.TimeoutError:
            raise NetworkError(
                f"cannot fetch the JWKS from {url}: no complete answer within {timeout:g} s"
            ) from None
        except failures as exc:
            raise NetworkError(f"cannot fetch the JWKS from {url}: {type(exc).__name__}") from None

    def download(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        """:meth:`get_capped` from a worker thread (the JWKS downloader of the asyncio
        client's work: ``fsm_auth.session._jwt.jwks_downloader``)."""
        future = asyncio.run_coroutine_threadsafe(
            self.get_capped(url, timeout, max_bytes), self.loop
        )
        return future.result()


class LoopTransport(ServiceTransport):
    """A :class:`ServiceTransport` whose requests are sent on ``http``'s event loop."""

    def __init__(
        self,
        service: str,
        region: str,
        *,
        endpoint_url: str | None,
        retry: RetryPolicy | None,
        http: LoopHTTP,
    ) -> None:
        super().__init__(service, region, endpoint_url=endpoint_url, retry=retry)
        self._http = http

    def __repr__(self) -> str:
        return f"LoopTransport({self.service!r}, {self.region!r}, endpoint={self.endpoint_url!r})"

    def call(self, operation: str, params: Mapping[str, Any], *secrets: str | None) -> Any:
        """Send ``operation`` on the loop and wait for its answer (from a worker thread)."""
        loop = self._http.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError(
                "fsm-auth: a blocking call was made on the event loop's own thread (a boto3 "
                "call with an AsyncAuthClient's credentials, say); run it in a thread "
                "(asyncio.to_thread) or await the AsyncAuthClient's coroutines"
            )
        if loop.is_closed():
            raise NetworkError("The asyncio client's event loop is closed")
        future = asyncio.run_coroutine_threadsafe(self.acall(operation, params, *secrets), loop)
        return future.result()

    async def acall(self, operation: str, params: Mapping[str, Any], *secrets: str | None) -> Any:
        """Call ``operation`` on the running loop: the parsed answer."""
        body, headers = self.request(operation, params, secrets)
        attempt = 0
        while True:
            attempt += 1
            status, data, error_type = await self._send_async(body, headers, operation)
            retry, answer = self.outcome(operation, attempt, status, data, error_type, secrets)
            if not retry:
                return answer
            await asyncio.sleep(answer)

    async def _send_async(
        self, body: bytes, headers: dict[str, str], operation: str
    ) -> tuple[int, bytes, str]:
        marker = _in_our_call.set(True)
        failures: tuple[type[BaseException], ...] = (
            *_network_errors(),
            OSError,
            asyncio.TimeoutError,
        )
        try:
            async with self._http.client().post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                # Past the cap, the transport's answer check names it (as for requests).
                data = await _capped(response, _MAX_ANSWER_BYTES)
                error_type = str(response.headers.get("x-amzn-ErrorType") or "")
                return response.status, data, error_type
        except failures as exc:
            # Refused, reset, DNS failure, timeouts: aiohttp names the failure, never the body.
            raise NetworkError(
                f"Could not reach {self.service} for {operation}: {type(exc).__name__}"
            ) from None
        finally:
            _in_our_call.reset(marker)


@functools.lru_cache(maxsize=4)
def _verifying(bundle: str) -> ssl.SSLContext:
    """A context verifying against ``bundle``, built once per process: loading a bundle takes
    some 50 ms with the interpreter lock held, which a loop must not wait for per client."""
    return ssl.create_default_context(cafile=bundle)


# Connections per loop: enough for a fan-out of refreshes; more tasks queue for one.
_CONNECTIONS = 100


def _network_errors() -> tuple[type[BaseException], ...]:
    import aiohttp

    return (aiohttp.ClientError,)


async def _capped(response: Any, limit: int) -> bytes:
    """The body of ``response``, read until it is longer than ``limit`` bytes (the caller
    refuses a longer one; nothing past the first chunk beyond ``limit`` is read)."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > limit:
            break
    return bytes(body)
