"""The loopback listener that receives the hosted UI's redirect (RFC 8252, section 7.3).

It listens on the configured redirect URI's loopback address and port and takes exactly one
request: the first ``GET`` on the redirect URI's path. Any other path, any other method and any
request after that one get a ``400`` and are ignored, so a stray request (a favicon, a port
scanner, a second tab) can neither end the sign-in nor replace its answer. The browser is shown
a small page saying it may close the tab.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from fsm_auth.errors import HostedUIError

__all__ = ["RedirectListener"]

_DONE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>{title}</h1><p>{text}</p></body></html>
"""


class RedirectListener:
    """Listens for the one redirect of a sign-in; a context manager (closing stops it).

    ``wait(timeout)`` returns the redirect's query parameters, or raises
    :class:`HostedUIError` with code ``timeout``.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or "127.0.0.1"
        # `localhost` is bound as the IPv4 loopback: browsers try it for localhost, and no
        # lookup is needed (a hosts file could point the name elsewhere).
        self._host = "127.0.0.1" if host.lower() == "localhost" else host
        self._port = parts.port or 80
        self._path = parts.path or "/"
        self._received = threading.Event()
        self._lock = threading.Lock()
        self._answer: dict[str, str] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RedirectListener:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start listening; :class:`HostedUIError` (``redirect_unavailable``) when the port
        cannot be listened on."""
        handler = _handler_for(self)
        try:
            server = ThreadingHTTPServer((self._host, self._port), handler)
        except OSError as exc:
            raise HostedUIError(
                f"Cannot listen on {self._host}:{self._port} for the hosted UI's redirect "
                f"({exc.strerror or exc}); is another sign-in running?",
                code="redirect_unavailable",
            ) from None
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="fsm-auth-redirect-listener",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop listening (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait(self, timeout: float) -> Mapping[str, str]:
        """The redirect's query parameters, once it came; ``timeout`` in seconds."""
        if not self._received.wait(timeout):
            raise HostedUIError(
                f"No sign-in redirect came within {timeout:g} s; the sign-in was abandoned",
                code="timeout",
            )
        with self._lock:
            assert self._answer is not None
            return dict(self._answer)

    def _take(self, method: str, target: str) -> Mapping[str, str] | None:
        """Keep the first GET on the redirect path (its parameters); refuse everything else."""
        parts = urlsplit(target)
        if method != "GET" or parts.path != self._path:
            return None
        answer = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            if self._answer is not None:
                return None
            self._answer = answer
        self._received.set()
        return answer


def _handler_for(listener: RedirectListener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fsm-auth"
        sys_version = ""

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            answer = listener._take(method, self.path)
            if answer is not None and "error" not in answer:
                status, title, text = 200, "Signed in", "You can close this tab now."
            elif answer is not None:
                status, title = 200, "Not signed in"
                text = "The sign-in was cancelled or refused. You can close this tab now."
            else:
                status, title, text = 400, "Bad request", "This is not the sign-in you started."
            body = _DONE_PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # The request line carries the authorization code: never logged.
            pass

    return Handler
