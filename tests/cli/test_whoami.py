"""``fsm-auth whoami [--config FILE] [--storage-dir DIR] [--json]``: the saved session's user
state, user name, token expiry and identity id, with no network call and no secret."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, UserState
from fsm_auth.cli import main
from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Correct-Horse-9!"


@pytest.fixture
def config_file(tmp_path: Path, pool: Provisioned) -> Path:
    path = tmp_path / "app" / "awsconfiguration.json"
    path.parent.mkdir()
    path.write_text(json.dumps(pool.aws_configuration()), encoding="utf-8")
    return path


@pytest.fixture
def signed_in(tmp_path: Path, config_file: Path, emulator: Emulator) -> tuple[Path, dict[str, Any]]:
    """A storage dir holding a signed-in session with AWS credentials, and its secrets."""
    storage = tmp_path / "storage"
    with AuthClient.from_config(config_file, storage_dir=storage) as client:
        client.initialize()
        client.sign_up("wanda", PASSWORD, attributes={"email": "wanda@example.com"})
        client.confirm_sign_up("wanda", emulator.last_code("wanda", "sign_up"))
        client.sign_in("wanda", PASSWORD)
        tokens = client.get_tokens()
        credentials = client.get_aws_credentials()
        facts = {
            "expiration": tokens.expiration,
            "identity_id": client.get_identity_id(),
            "secrets": [
                tokens.id_token,
                tokens.access_token,
                tokens.refresh_token,
                credentials.access_key_id,
                credentials.secret_access_key,
                credentials.session_token,
                PASSWORD,
            ],
        }
    return storage, facts


def _whoami(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["whoami", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret[:12] not in text  # not even a prefix of one


def test_json_names_the_user_offline_and_without_secrets(
    signed_in: tuple[Path, dict[str, Any]],
    config_file: Path,
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    storage, facts = signed_in
    emulator.stop()  # no network: a request would fail (and whoami must not make one)
    code, out, err = _whoami(
        capsys, "--json", "--config", str(config_file), "--storage-dir", str(storage)
    )
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document == {
        "state": "signedIn",
        "username": "wanda",
        "expiration": facts["expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "identity_id": facts["identity_id"],
    }
    assert UserState(document["state"]) is UserState.SIGNED_IN
    assert datetime.fromisoformat(document["expiration"].replace("Z", "+00:00")) == facts[
        "expiration"
    ].replace(microsecond=0)
    _assert_no_secret(out, facts["secrets"])


def test_text_names_the_user_without_secrets(
    signed_in: tuple[Path, dict[str, Any]],
    config_file: Path,
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    storage, facts = signed_in
    emulator.stop()
    code, out, _ = _whoami(capsys, "--config", str(config_file), "--storage-dir", str(storage))
    assert code == 0
    assert out.splitlines() == [
        "state: signedIn",
        "username: wanda",
        f"expiration: {facts['expiration'].strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"identity id: {facts['identity_id']}",
    ]
    _assert_no_secret(out, facts["secrets"])


def test_whoami_makes_no_request(
    signed_in: tuple[Path, dict[str, Any]],
    config_file: Path,
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With the server up, whoami still asks it nothing (stopping it proves the answer needs
    no network; counting proves no request was even tried)."""
    storage, _ = signed_in
    before = emulator.count()
    assert _whoami(capsys, "--config", str(config_file), "--storage-dir", str(storage))[0] == 0
    assert emulator.count() == before


def test_no_session_is_signed_out_not_an_error(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _whoami(
        capsys, "--json", "--config", str(config_file), "--storage-dir", str(tmp_path / "none")
    )
    assert code == 0
    assert json.loads(out) == {
        "state": "signedOut",
        "username": None,
        "expiration": None,
        "identity_id": None,
    }


def test_a_guest_has_an_identity_id_and_no_user(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = tmp_path / "guest"
    with AuthClient.from_config(config_file, storage_dir=storage) as client:
        client.get_aws_credentials()  # a guest session, saved
        identity_id = client.get_identity_id()
    code, out, _ = _whoami(
        capsys, "--json", "--config", str(config_file), "--storage-dir", str(storage)
    )
    assert code == 0
    assert json.loads(out) == {
        "state": "guest",
        "username": None,
        "expiration": None,
        "identity_id": identity_id,
    }


def test_the_config_defaults_to_the_environment(
    signed_in: tuple[Path, dict[str, Any]],
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    storage, _ = signed_in
    empty = tmp_path / "cwd"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.setenv("FSM_AUTH_CONFIG", str(config_file))
    code, out, _ = _whoami(capsys, "--json", "--storage-dir", str(storage))
    assert code == 0
    assert json.loads(out)["username"] == "wanda"


def test_an_error_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FSM_AUTH_CONFIG", raising=False)
    code, out, err = _whoami(capsys, "--config", str(tmp_path / "nowhere.json"))
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("fsm-auth whoami: error: ")
    assert "nowhere.json" in err
    assert "Traceback" not in err
