"""``fsm_auth.testing`` (which imports pytest) is for provider authors' test suites only: no
other module of fsm_auth or of the built-in providers imports it, or pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    def walk(package):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if info.name.startswith("fsm_auth.testing") or info.name.endswith(".__main__"):
                continue
            module = importlib.import_module(info.name)
            if info.ispkg:
                walk(module)

    for name in ("fsm_auth", "fsm_auth_providers"):
        walk(importlib.import_module(name))
    print(sorted(m for m in ("pytest", "_pytest", "fsm_auth.testing") if m in sys.modules))
    """
)


def test_no_other_module_imports_the_suite_or_pytest() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_suite_is_importable_with_pytest() -> None:
    import fsm_auth.testing

    assert {"UserPoolProviderTests", "IdentityPoolProviderTests", "drive_sign_in"} <= set(
        fsm_auth.testing.__all__
    )
