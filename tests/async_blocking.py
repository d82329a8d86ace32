"""``BlockingAsyncClient``: an :class:`AsyncAuthClient` behind ``AuthClient``'s synchronous
face, so that a suite written for ``AuthClient`` runs unchanged against the asyncio client.

The asyncio client runs on an event loop of its own thread; every operation is its coroutine,
submitted to that loop and waited for; properties are read as they are. Listeners are
registered on the loop, and are called there: a change a call made is delivered before the
call returns (the machine posts the listener's call to the loop before the call's answer).

Used by the offline and retry suites (``tests/persistence``) to show that the asyncio client
behaves as the synchronous one does when the service fails or is gone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fsm_auth import AsyncAuthClient

T = TypeVar("T")

# AuthClient's plain (not coroutine) members, read from the asyncio client as they are.
_PLAIN = frozenset({"config", "current_user_state", "is_signed_in", "username"})


class BlockingAsyncClient:
    """``AuthClient``'s interface over an :class:`AsyncAuthClient` on a loop of its own."""

    def __init__(self, client: AsyncAuthClient) -> None:
        self.async_client = client
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="async-client-loop", daemon=True
        )
        self._thread.start()
        self._closed = False

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        if name in _PLAIN:
            return getattr(self.async_client, name)
        operation = getattr(self.async_client, name)
        if not asyncio.iscoroutinefunction(operation):
            raise AttributeError(f"BlockingAsyncClient does not offer {name!r}")

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._on_loop(operation(*args, **kwargs))

        return call

    def add_user_state_listener(self, callback: Callable[..., Any]) -> Callable[[], None]:
        async def register() -> Callable[[], None]:
            return self.async_client.add_user_state_listener(callback)

        return self._on_loop(register())

    def remove_user_state_listener(self, callback: Callable[..., Any]) -> None:
        self.async_client.remove_user_state_listener(callback)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._on_loop(self.async_client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> BlockingAsyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<BlockingAsyncClient {self.async_client!r}>"
