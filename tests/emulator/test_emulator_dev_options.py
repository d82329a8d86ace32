"""``fsm-auth dev --mfa off|optional|on``: the pool's MFA setting, in the banner and at sign-in
(issue 9, item 13)."""

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
from fsm_auth.emulator import run_dev

_PASSWORD = "Passw0rd!"


def _fsm_auth(*arguments: str) -> list[str]:
    """The ``fsm-auth`` command of the package under test."""
    return [sys.executable, "-m", "fsm_auth", *arguments]


def _environment() -> dict[str, str]:
    # The subprocess imports the same fsm_auth as this test process, wherever it comes from
    # (it runs in another directory, so that its working directory does not decide).
    package_root = str(Path(fsm_auth.__file__).parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)
    into.put(None)  # the process closed its output


def _until(lines: queue.Queue[str | None], needle: str, seen: list[str]) -> None:
    while True:
        line = lines.get(timeout=30)
        if line is None:
            raise AssertionError(f"the output ended before {needle!r}:\n{''.join(seen)}")
        seen.append(line)
        if needle in line:
            return


@pytest.mark.parametrize(
    ("option", "configuration", "first_answer"),
    [
        ([], "OFF", "tokens"),
        (["--mfa", "optional"], "OPTIONAL", "tokens"),
        (["--mfa", "ON"], "ON", "MFA_SETUP"),
    ],
    ids=["default", "optional", "on"],
)
def test_dev_provisions_the_mfa_setting_it_prints(
    tmp_path: Path, option: list[str], configuration: str, first_answer: str
) -> None:
    config_path = tmp_path / "awsconfiguration.json"
    process = subprocess.Popen(
        _fsm_auth("dev", "--port", "0", "--config-out", str(config_path), *option),
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
        banner = "".join(seen)
        assert f"  mfa               {configuration.lower()}" in banner, banner
        assert "not emulated      device tracking\n" in banner
        assert "hosted UI         http://127.0.0.1:" in banner
        user_pool = json.loads(config_path.read_text())["CognitoUserPool"]["Default"]
        admin = boto3.client(
            "cognito-idp",
            region_name=user_pool["Region"],
            endpoint_url=user_pool["Endpoint"],
            aws_access_key_id="AKIAEMULATORADMIN000",
            aws_secret_access_key="emulator-admin-secret",  # not a secret: moto ignores it
        )
        described = admin.describe_user_pool(UserPoolId=user_pool["PoolId"])["UserPool"]
        assert described["MfaConfiguration"] == configuration
        # What an app meets at sign-in follows the setting.
        idp = boto3.client(
            "cognito-idp",
            region_name=user_pool["Region"],
            endpoint_url=user_pool["Endpoint"],
            config=Config(signature_version=UNSIGNED),
        )
        client_id = user_pool["AppClientId"]
        idp.sign_up(ClientId=client_id, Username="devuser", Password=_PASSWORD)
        admin.admin_confirm_sign_up(UserPoolId=user_pool["PoolId"], Username="devuser")
        answer = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "devuser", "PASSWORD": _PASSWORD},
        )
        assert answer.get("ChallengeName", "tokens") == first_answer
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_dev_refuses_an_unknown_mfa_setting(tmp_path: Path) -> None:
    done = subprocess.run(
        _fsm_auth("dev", "--mfa", "sometimes"),
        env=_environment(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--mfa" in done.stderr
    assert "sometimes" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing was started


def test_run_dev_refuses_an_unknown_mfa_setting_before_serving() -> None:
    with pytest.raises(ValueError, match="mfa"):
        run_dev(0, None, None, mfa="SOMETIMES")  # type: ignore[arg-type]


def test_dev_offers_email_mfa_and_prints_its_codes(tmp_path: Path) -> None:
    config_path = tmp_path / "awsconfiguration.json"
    process = subprocess.Popen(
        _fsm_auth("dev", "--port", "0", "--config-out", str(config_path), "--mfa", "on"),
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
        assert "e-mail" in "".join(seen)
        user_pool = json.loads(config_path.read_text())["CognitoUserPool"]["Default"]
        idp = boto3.client(
            "cognito-idp",
            region_name=user_pool["Region"],
            endpoint_url=user_pool["Endpoint"],
            config=Config(signature_version=UNSIGNED),
        )
        client_id = user_pool["AppClientId"]
        idp.sign_up(
            ClientId=client_id,
            Username="mfauser",
            Password=_PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "mfa@example.com"}],
        )
        _until(lines, "mfauser", seen)
        code = seen[-1].rsplit(":", 1)[1].strip()
        idp.confirm_sign_up(ClientId=client_id, Username="mfauser", ConfirmationCode=code)
        answer = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "mfauser", "PASSWORD": _PASSWORD},
        )
        assert answer["ChallengeName"] == "MFA_SETUP"
        assert "EMAIL_OTP" in json.loads(answer["ChallengeParameters"]["MFAS_CAN_SETUP"])
        asked = idp.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName="MFA_SETUP",
            Session=answer["Session"],
            ChallengeResponses={"USERNAME": "mfauser", "EMAIL": "mfa.codes@example.com"},
        )
        assert asked["ChallengeName"] == "EMAIL_OTP"
        _until(lines, "code email_mfa for mfauser -> mfa.codes@example.com", seen)
        code = seen[-1].rsplit(":", 1)[1].strip()
        done = idp.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName="EMAIL_OTP",
            Session=asked["Session"],
            ChallengeResponses={"USERNAME": "mfauser", "EMAIL_OTP_CODE": code},
        )
        assert "AccessToken" in done["AuthenticationResult"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
