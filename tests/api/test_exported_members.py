"""The public surface: ``fsm_auth.__all__`` is exactly what the README documents, and every
name in it is importable from ``fsm_auth`` (as httpx pins its own)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import fsm_auth

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The public API", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, "README: the public API section lists the names in a ```text block"
    return set(block.group(1).split())


def test_all_is_what_the_readme_documents() -> None:
    assert set(fsm_auth.__all__) == _documented()
    assert len(fsm_auth.__all__) == len(set(fsm_auth.__all__))


def test_every_public_name_is_importable_and_documented() -> None:
    # Type aliases: documented where they are defined.
    aliases = {"UserStateListener", "AsyncUserStateListener"}
    for name in fsm_auth.__all__:
        value = getattr(fsm_auth, name)
        assert value is not None, name
        if name not in aliases:
            assert getattr(value, "__doc__", None), f"{name} has no docstring"
    assert set(fsm_auth.__all__) <= set(dir(fsm_auth))


def test_the_stores_protocols_and_errors_are_there() -> None:
    for name in (
        "FileSessionStore",
        "MemorySessionStore",
        "SessionStore",
        "UserPoolProvider",
        "IdentityPoolProvider",
        "ProviderContext",
        "PluginRegistry",
        "UserStateListener",
        "SignInCancelledError",
        "ClientClosedError",
    ):
        assert name in fsm_auth.__all__, name
    for name in fsm_auth.errors.__all__:
        if name[0].isupper():
            assert name in fsm_auth.__all__, name


def test_import_fsm_auth_stays_cheap() -> None:
    # The client, boto3 and the engine load on first use, not with the package.
    code = (
        "import sys, fsm_auth; "
        "print(sorted(m for m in ('boto3', 'botocore', 'transitions', 'fsm_auth.client') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
