"""The command line refuses malformed arguments and input in one line (issue 9, items 5, 12).

A malformed argument exits 2 with argparse's message naming it; a malformed configuration or
spec exits 1 with one line; never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fsm_auth
from fsm_auth.cli import main


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m fsm_auth ARGS`` with the fsm_auth this test imported, bounded in time (a
    port that is not refused would serve until killed)."""
    env = dict(os.environ, PYTHONPATH=str(Path(fsm_auth.__file__).parent.parent))
    return subprocess.run(
        [sys.executable, "-m", "fsm_auth", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("port", ["-5", "70000", "65536", "abc", "1.5", ""])
def test_dev_refuses_a_port_that_is_not_one(port: str, tmp_path: Path) -> None:
    result = run_cli(
        "dev", f"--port={port}", "--config-out", str(tmp_path / "c.json"), cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error) == 1
    assert "argument --port" in error[0]
    assert "not a port number" in error[0]
    assert not (tmp_path / "c.json").exists()


def test_dev_refuses_a_config_out_in_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "awsconfiguration.json"
    result = run_cli("dev", "--port", "0", "--config-out", str(missing), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "argument --config-out" in result.stderr
    assert "does not exist" in result.stderr


def test_dev_refuses_a_config_out_that_is_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["dev", "--config-out", str(tmp_path)])
    assert info.value.code == 2
    assert "is a directory" in capsys.readouterr().err


def test_run_dev_refuses_a_port_out_of_range() -> None:
    from fsm_auth.emulator import run_dev

    with pytest.raises(ValueError, match="port must be an integer from 0 to 65535"):
        run_dev(-5)


def _one_error_line(err: str, command: str) -> str:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fsm-auth {command}: error: ")
    return lines[0]


def test_credentials_with_a_deeply_nested_config_exits_1_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"CognitoUserPool": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code = main(["credentials", "--config", str(nested), "--storage-dir", str(tmp_path)])
    assert code == 1
    line = _one_error_line(capsys.readouterr().err, "credentials")
    assert "ConfigError" in line
    assert "nested more than 32 levels deep" in line


def test_credentials_with_a_5000_digit_number_exits_1_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "long.json"
    config.write_text('{"CognitoUserPool": {"Default": {"PoolId": ' + "9" * 5000 + "}}}")
    code = main(["credentials", "--config", str(config), "--storage-dir", str(tmp_path)])
    assert code == 1
    assert "a number of 5000 digits" in _one_error_line(capsys.readouterr().err, "credentials")


def test_diagram_of_a_deeply_nested_spec_exits_1_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        "name: x\ninitial: a\nstates: [a]\nx-deep:\n"
        + "".join("  " * (level + 1) + "-\n" for level in range(2000))[: 200 * 1024]
    )
    assert main(["diagram", str(nested)]) == 1
    line = _one_error_line(capsys.readouterr().err, "diagram")
    assert str(nested) in line
    assert "nest" in line


def test_diagram_of_invalid_yaml_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nstates: [a\n")
    assert main(["diagram", str(broken)]) == 1
    assert "invalid YAML" in _one_error_line(capsys.readouterr().err, "diagram")
