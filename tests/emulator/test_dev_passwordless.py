"""``fsm-auth dev``: choice-based sign-in with passwordless codes (unless MFA is required), said
in the banner, and the one-time codes printed like every other code."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

import fsm_auth


def _environment() -> dict[str, str]:
    # The subprocess imports the same fsm_auth as this test process.
    package_root = str(Path(fsm_auth.__file__).parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)
    into.put(None)


def _until(lines: queue.Queue[str | None], needle: str, seen: list[str]) -> str:
    while True:
        line = lines.get(timeout=30)
        if line is None:
            raise AssertionError(f"the output ended before {needle!r}:\n{''.join(seen)}")
        seen.append(line)
        if needle in line:
            return line


@pytest.mark.parametrize(
    ("mfa", "factors", "sign_in"),
    [
        ("off", ["PASSWORD", "EMAIL_OTP", "SMS_OTP"], "on (USER_AUTH: a one-time code"),
        ("on", ["PASSWORD"], "off (MFA is required"),
    ],
)
def test_dev_offers_passwordless_sign_in_unless_mfa_is_required(
    tmp_path: Path, mfa: str, factors: list[str], sign_in: str
) -> None:
    config_path = tmp_path / "awsconfiguration.json"
    command = [sys.executable, "-m", "fsm_auth", "dev", "--port", "0", "--mfa", mfa]
    process = subprocess.Popen(
        [*command, "--config-out", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_environment(),
        cwd=tmp_path,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _until(lines, "Ctrl-C", seen)
        banner = [line for line in seen if line.startswith("  passwordless ")]
        assert len(banner) == 1, seen
        assert sign_in in banner[0]
        user_pool = json.loads(config_path.read_text())["CognitoUserPool"]["Default"]
        admin = boto3.client(
            "cognito-idp",
            region_name=user_pool["Region"],
            endpoint_url=user_pool["Endpoint"],
            aws_access_key_id="AKIAEMULATORADMIN000",
            aws_secret_access_key="emulator-admin-secret",  # not a secret: moto ignores it
        )
        described = admin.describe_user_pool(UserPoolId=user_pool["PoolId"])["UserPool"]
        assert described["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"] == factors
        if mfa == "on":
            return
        idp = boto3.client(
            "cognito-idp",
            region_name=user_pool["Region"],
            endpoint_url=user_pool["Endpoint"],
            config=Config(signature_version=UNSIGNED),
        )
        client_id = user_pool["AppClientId"]
        # A passwordless sign-up, confirmed with the printed code, then a printed e-mail code.
        idp.sign_up(
            ClientId=client_id,
            Username="devotp",
            UserAttributes=[{"Name": "email", "Value": "devotp@example.com"}],
        )
        line = _until(lines, "code sign_up for devotp", seen)
        idp.confirm_sign_up(
            ClientId=client_id, Username="devotp", ConfirmationCode=line.rsplit(":", 1)[1].strip()
        )
        challenge = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_AUTH",
            AuthParameters={"USERNAME": "devotp", "PREFERRED_CHALLENGE": "EMAIL_OTP"},
        )
        line = _until(lines, "code email_otp for devotp -> devotp@example.com: ", seen)
        code = line.rsplit(":", 1)[1].strip()
        assert len(code) == 8
        done = idp.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName="EMAIL_OTP",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "devotp", "EMAIL_OTP_CODE": code},
        )
        assert "AccessToken" in done["AuthenticationResult"]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
