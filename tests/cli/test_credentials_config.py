"""``fsm-auth credentials``: one definition of its arguments, and where ``--config`` defaults
to (``./awsconfiguration.json`` if it exists, else ``$FSM_AUTH_CONFIG``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient
from fsm_auth.cli import main
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

PASSWORD = "Correct-Horse-9!"


@pytest.fixture
def guest_ready(
    tmp_path: Path, emulator: Emulator, pool: Provisioned, clock: FakeClock
) -> tuple[Path, Path]:
    """A configuration file elsewhere and a storage dir holding a guest session."""
    config_file = tmp_path / "elsewhere" / "app-config.json"
    config_file.parent.mkdir()
    config_file.write_text(json.dumps(pool.aws_configuration()), encoding="utf-8")
    storage = tmp_path / "storage"
    with AuthClient.from_config(config_file, storage_dir=storage) as client:
        client.get_aws_credentials()  # a guest session, saved
    return config_file, storage


def test_the_environment_names_the_config_when_none_is_given(
    guest_ready: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_file, storage = guest_ready
    empty = tmp_path / "cwd"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.setenv("FSM_AUTH_CONFIG", str(config_file))
    assert main(["credentials", "--json", "--storage-dir", str(storage)]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert document["Version"] == 1
    assert document["AccessKeyId"].startswith("ASIA")


def test_a_missing_environment_config_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FSM_AUTH_CONFIG", str(tmp_path / "nowhere.json"))
    assert main(["credentials", "--json"]) == 1
    err = capsys.readouterr().err
    assert "nowhere.json" in err
    assert "Traceback" not in err


def test_the_working_directory_config_comes_first(
    guest_ready: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_file, storage = guest_ready
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "awsconfiguration.json").write_text(config_file.read_text(), encoding="utf-8")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("FSM_AUTH_CONFIG", str(tmp_path / "nowhere.json"))
    assert main(["credentials", "--storage-dir", str(storage)]) == 0
    assert "state: guest" in capsys.readouterr().out


def test_one_definition_of_the_arguments() -> None:
    from fsm_auth import cli
    from fsm_auth._credential_process import add_credentials_arguments

    parser = cli._parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    credentials = sub.choices["credentials"]  # type: ignore[attr-defined]
    reference = argparse.ArgumentParser()
    add_credentials_arguments(reference)
    assert [a.option_strings for a in credentials._actions] == [
        a.option_strings for a in reference._actions
    ]
    assert credentials.parse_args([]).config is None  # the fallback can fire
