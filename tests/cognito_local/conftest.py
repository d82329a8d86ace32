"""cognito-local (the npm package), started on loopback for the tests of this directory.

It is installed into a cache directory (``$FSM_AUTH_COGNITO_LOCAL_PREFIX``, default
``~/.cache/fsm-auth/cognito-local-<version>``), as ``.ci/run`` does; the session fixture
installs it there when it is missing (the tests are skipped only when node or npm is absent),
starts one server per test process on a free loopback port, and stops it by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from cognito_local_kit import CognitoLocal, cognito_local_prefix, free_port, install

START_TIMEOUT = 60.0


def _die_with_parent() -> None:
    """In the child: on Linux, be sent SIGTERM if the test process dies without stopping it
    (a killed xdist worker must not leave a server behind)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):  # no prctl: nothing to arrange
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture(scope="session")
def cognito_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CognitoLocal]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run cognito-local (npm package cognito-local)")
    entry = install(cognito_local_prefix(), npm)
    workdir = tmp_path_factory.mktemp("cognito-local")  # its .cognito/ (config, db) lives here
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = workdir / "cognito-local.log"
    # HOST and PORT also set its issuer domain (http://HOST:PORT), so the tokens' iss is
    # <endpoint>/<pool id>, what fsm-auth accepts with that Endpoint configured.
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, str(entry)], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )  # fmt: skip
    server = CognitoLocal(process, endpoint, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Cognito Local running on" not in server.log_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cognito-local did not start:\n{server.log_text()[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
