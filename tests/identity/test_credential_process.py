"""``fsm-auth credentials --json`` as an AWS ``credential_process``, read by botocore itself."""

from __future__ import annotations

import io
import json
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from fsm_auth import AuthClient
from fsm_auth._credential_process import credential_process_document, run_credentials
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.values import AWSCredentials

pytestmark = pytest.mark.timeout(120)

PASSWORD = "Correct-Horse-9!"


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "awsconfiguration.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def aws_profile(tmp_path: Path, config_file: Path, storage: Path) -> Path:
    """An AWS config file whose profile ``fsm`` runs ``fsm-auth credentials --json``."""
    command = [
        sys.executable,
        "-m",
        "fsm_auth",
        "credentials",
        "--json",
        "--config",
        str(config_file),
        "--storage-dir",
        str(storage),
    ]
    path = tmp_path / "aws-config"
    path.write_text(
        "[profile fsm]\n"
        "region = us-east-1\n"
        f"credential_process = {' '.join(shlex.quote(part) for part in command)}\n",
        encoding="utf-8",
    )
    return path


def test_document_shape() -> None:
    credentials = AWSCredentials(
        access_key_id="ASIAEXAMPLEEXAMPLE00",
        secret_access_key="secret/key",
        session_token="session-token",
        expiration=datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc),
    )
    assert credential_process_document(credentials) == {
        "Version": 1,
        "AccessKeyId": "ASIAEXAMPLEEXAMPLE00",
        "SecretAccessKey": "secret/key",
        "SessionToken": "session-token",
        "Expiration": "2030-01-02T03:04:05Z",
    }


def test_botocore_credential_process_uses_the_signed_in_user(
    tmp_path: Path,
    emulator: Emulator,
    clock: FakeClock,
    pool: Provisioned,
    aws_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_file = write_config(tmp_path, aws_config)
    storage = tmp_path / "storage"
    with AuthClient.from_config(config_file, storage_dir=storage, clock=clock) as client:
        client.initialize()
        client.sign_up("oscar", PASSWORD, attributes={"email": "oscar@example.com"})
        client.confirm_sign_up("oscar", emulator.last_code("oscar", "sign_up"))
        client.sign_in("oscar", PASSWORD)
        expected = client.get_aws_credentials()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_profile(tmp_path, config_file, storage)))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    emulator.reset_requests()

    core = botocore.session.Session(profile="fsm")
    credentials = core.get_credentials()
    assert credentials.method == "custom-process"
    frozen = credentials.get_frozen_credentials()
    assert frozen.access_key == expected.access_key_id
    assert frozen.secret_key == expected.secret_access_key
    assert frozen.token == expected.session_token
    # The stored credentials were still valid: the process asked the pool nothing.
    assert emulator.count(service="cognito-identity") == 0

    s3 = boto3.Session(botocore_session=core).client("s3", endpoint_url=emulator.url)
    s3.put_object(Bucket=pool.bucket, Key="from-credential-process.txt", Body=b"ok")
    assert s3.get_object(Bucket=pool.bucket, Key="from-credential-process.txt")["Body"].read()


def test_guest_credentials_and_a_clear_error(
    tmp_path: Path, emulator: Emulator, clock: FakeClock, pool: Provisioned
) -> None:
    config_file = write_config(tmp_path, pool.aws_configuration())
    out, err = io.StringIO(), io.StringIO()
    code = run_credentials(config=config_file, storage_dir=tmp_path / "s1", out=out, err=err)
    assert code == 0, err.getvalue()
    document = json.loads(out.getvalue())
    assert document["Version"] == 1
    assert document["AccessKeyId"].startswith("ASIA")
    assert emulator.count("GetCredentialsForIdentity") >= 1
    out, err = io.StringIO(), io.StringIO()
    code = run_credentials(
        config=config_file, storage_dir=tmp_path / "s1", out=out, err=err, as_json=False
    )
    assert code == 0
    assert "guest" in out.getvalue()
    assert document["SecretAccessKey"] not in out.getvalue()
    assert document["AccessKeyId"] not in out.getvalue()

    closed = emulator.provision(allow_guest=False)
    config_file = write_config(tmp_path, closed.aws_configuration())
    out, err = io.StringIO(), io.StringIO()
    code = run_credentials(config=config_file, storage_dir=tmp_path / "s2", out=out, err=err)
    assert code == 1
    assert out.getvalue() == ""
    line = err.getvalue()
    assert line.count("\n") == 1
    assert "GuestAccessNotAllowedError" in line

    out, err = io.StringIO(), io.StringIO()
    code = run_credentials(
        config=tmp_path / "missing.json", storage_dir=tmp_path / "s3", out=out, err=err
    )
    assert code == 1
    assert "missing.json" in err.getvalue()
