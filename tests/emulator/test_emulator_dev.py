"""``run_dev`` in a subprocess: config written, codes printed, SIGINT ends it with 0."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import requests
from botocore import UNSIGNED
from botocore.config import Config

_SCRIPT = """
import sys
from pathlib import Path
from fsm_auth.emulator import run_dev
sys.exit(run_dev(0, Path(sys.argv[1]), sys.stdout))
"""


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def _wait_for(lines: queue.Queue[str], needle: str, seen: list[str]) -> str:
    while True:
        line = lines.get(timeout=30)
        seen.append(line)
        if needle in line:
            return line


def test_run_dev_serves_prints_codes_and_stops_on_sigint(tmp_path: Path) -> None:
    config_path = tmp_path / "awsconfiguration.json"
    process = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_for(lines, "Ctrl-C", seen)
        config = json.loads(config_path.read_text())
        user_pool = config["CognitoUserPool"]["Default"]
        assert any(user_pool["PoolId"] in line for line in seen)
        # The hosted UI is served, and the configuration says where.
        oauth = config["Auth"]["Default"]["OAuth"]
        assert oauth["WebDomain"] == user_pool["Endpoint"]
        assert any(oauth["SignInRedirectURI"] in line for line in seen)
        page = requests.get(
            f"{oauth['WebDomain']}/login",
            params={
                "client_id": oauth["AppClientId"],
                "redirect_uri": oauth["SignInRedirectURI"],
                "response_type": "code",
            },
            timeout=10,
        )
        assert page.status_code == 200
        assert 'id="password"' in page.text
        idp = boto3.client(
            "cognito-idp",
            region_name=user_pool["Region"],
            endpoint_url=user_pool["Endpoint"],
            config=Config(signature_version=UNSIGNED),
        )
        idp.sign_up(
            ClientId=user_pool["AppClientId"],
            Username="devuser",
            Password="Passw0rd!",
            UserAttributes=[{"Name": "email", "Value": "dev@example.com"}],
        )
        line = _wait_for(lines, "devuser", seen)
        code = line.rsplit(":", 1)[1].strip()
        assert "sign_up" in line
        assert "dev@example.com" in line
        idp.confirm_sign_up(
            ClientId=user_pool["AppClientId"], Username="devuser", ConfirmationCode=code
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        _wait_for(lines, "stopped", seen)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
