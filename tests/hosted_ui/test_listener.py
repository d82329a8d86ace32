"""The loopback listener: exactly one redirect on its path, everything else a 400."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from fsm_auth import HostedUIError
from fsm_auth.hosted_ui._listener import RedirectListener


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_first_redirect_on_the_path_is_taken_and_later_ones_refused() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with RedirectListener(f"{base}/callback") as listener:
        other = requests.get(f"{base}/favicon.ico", timeout=5)
        assert other.status_code == 400
        posted = requests.post(f"{base}/callback?code=x&state=y", timeout=5)
        assert posted.status_code == 400
        first = requests.get(f"{base}/callback?code=abc&state=s1", timeout=5)
        assert first.status_code == 200
        assert "close this tab" in first.text
        second = requests.get(f"{base}/callback?code=evil&state=s1", timeout=5)
        assert second.status_code == 400
        assert listener.wait(1) == {"code": "abc", "state": "s1"}


def test_an_error_redirect_shows_that_nobody_signed_in() -> None:
    port = free_port()
    with RedirectListener(f"http://localhost:{port}/cb") as listener:
        page = requests.get(f"http://127.0.0.1:{port}/cb?error=access_denied&state=s", timeout=5)
        assert page.status_code == 200
        assert "cancelled" in page.text
        assert listener.wait(1)["error"] == "access_denied"


def test_no_redirect_in_time_is_a_timeout() -> None:
    listener = RedirectListener(f"http://127.0.0.1:{free_port()}/cb")
    with listener, pytest.raises(HostedUIError) as timed_out:
        listener.wait(0.05)
    assert timed_out.value.code == "timeout"


def test_a_port_in_use_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HostedUIError) as busy:
            RedirectListener(f"http://127.0.0.1:{port}/cb").start()
    assert busy.value.code == "redirect_unavailable"
    assert str(port) in busy.value.message


def test_closing_frees_the_port_for_the_next_sign_in() -> None:
    port = free_port()
    for _ in range(3):
        with RedirectListener(f"http://127.0.0.1:{port}/cb") as listener:
            threading.Thread(
                target=requests.get, args=(f"http://127.0.0.1:{port}/cb?code=c&state=s",),
                kwargs={"timeout": 5}, daemon=True,
            ).start()  # fmt: skip
            assert listener.wait(5)["code"] == "c"
