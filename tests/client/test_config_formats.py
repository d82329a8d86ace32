"""The three configuration formats, each read from a file and used against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, SignInState, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD, sign_up_confirmed


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["awsconfiguration", "amplifyconfiguration", "amplify_outputs"])
def test_each_format_signs_in_and_gets_credentials(
    fmt: str, pool: Provisioned, emulator: Emulator, clock: FakeClock, tmp_path: Path
) -> None:
    endpoint_url = None
    if fmt == "awsconfiguration":
        path = _write(tmp_path / "awsconfiguration.json", pool.aws_configuration())
    elif fmt == "amplifyconfiguration":
        document = {"auth": {"plugins": {"awsCognitoAuthPlugin": pool.aws_configuration()}}}
        path = _write(tmp_path / "amplifyconfiguration.json", document)
    else:
        # Gen 2 has no endpoint field: the emulator is named with endpoint_url=.
        path = _write(tmp_path / "amplify_outputs.json", pool.amplify_outputs())
        endpoint_url = emulator.url
    with AuthClient.from_config(
        path, store=MemorySessionStore(), endpoint_url=endpoint_url, clock=clock
    ) as client:
        assert client.config.user_pool is not None
        assert client.config.user_pool.pool_id == pool.user_pool_id
        assert client.config.identity_pool is not None
        assert client.config.identity_pool.pool_id == pool.identity_pool_id
        sign_up_confirmed(client, emulator, f"fmt-{fmt}")
        assert client.sign_in(f"fmt-{fmt}", PASSWORD).state is SignInState.DONE
        assert client.current_user_state is UserState.SIGNED_IN
        assert client.get_tokens().username == f"fmt-{fmt}"
        assert client.get_aws_credentials().access_key_id.startswith("ASIA")
