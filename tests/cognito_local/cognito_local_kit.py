"""cognito-local (the npm package): installing it, and a running one's endpoint, log and admin
client, for the tests of this directory (named uniquely: test directories are not packages).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

from filelock import FileLock

COGNITO_LOCAL_VERSION = "5.3.0"  # the version .ci/run installs: keep the two in step
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cognito_local_prefix() -> Path:
    """Where cognito-local is (or will be) installed: the npm ``--prefix`` directory."""
    configured = os.environ.get("FSM_AUTH_COGNITO_LOCAL_PREFIX")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "fsm-auth" / f"cognito-local-{COGNITO_LOCAL_VERSION}"


def entry_point(prefix: Path) -> Path:
    return prefix / "node_modules" / "cognito-local" / "lib" / "bin" / "start.js"


def install(prefix: Path, npm: str) -> Path:
    entry = entry_point(prefix)
    prefix.mkdir(parents=True, exist_ok=True)
    # Test processes (xdist workers) install at most once between them.
    with FileLock(str(prefix) + ".lock"):
        if not entry.exists():
            done = subprocess.run(
                [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                 f"cognito-local@{COGNITO_LOCAL_VERSION}"],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if done.returncode != 0 or not entry.exists():
                raise RuntimeError(
                    f"npm could not install cognito-local into {prefix}:\n"
                    + (done.stdout + done.stderr)[-2000:]
                )
    return entry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CognitoLocal:
    """A running cognito-local: its endpoint, its log (codes are printed there) and admin
    calls through boto3 (dummy credentials: cognito-local does not check them)."""

    def __init__(self, process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
        self.process = process
        self.endpoint = endpoint
        self.log = log

    def log_text(self) -> str:
        return _ANSI.sub("", self.log.read_text(encoding="utf-8", errors="replace"))

    def last_code(self, destination: str) -> str:
        """The newest confirmation code cognito-local printed for ``destination``."""
        code, current = None, None
        for line in self.log_text().splitlines():
            found = re.search(r"Destination:\s+(\S+)", line)
            if found:
                current = found[1]
            found = re.search(r"Code:\s+(\d+)", line)
            if found and current == destination:
                code = found[1]
        if code is None:
            raise KeyError(f"cognito-local printed no code for {destination}")
        return code

    def admin(self) -> Any:
        import boto3

        return boto3.client(
            "cognito-idp",
            region_name="us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
