"""How the v0.1 session fixtures in this directory were made (run once with fsm-auth 0.1.0,
commit 9c09431; kept for the record, it is not run by the tests).

Each fixture is a storage directory written by v0.1's ``FileSessionStore`` (key file, no
keyring) plus ``meta.json``: the configuration the session was saved under (its endpoint
points at the emulator that ran then; restoring makes no network call) and the clock at the
time of the save, so a test can restore it at a moment when its tokens are still valid.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from fsm_auth import AuthClient, IdentityProvider
from fsm_auth.emulator import Emulator, FakeClock
from fsm_auth.session import FileSessionStore

PASSWORD = "Correct-Horse-9!"


def _store(directory: Path, config: dict) -> FileSessionStore:
    from fsm_auth.config import load_config

    return FileSessionStore(directory, use_keyring=False).scoped(load_config(config).config_key)


def main(out: Path) -> None:
    clock = FakeClock()
    with Emulator(clock=clock) as emulator:
        pool = emulator.provision()
        config = pool.aws_configuration()
        for name in ("user_pool", "federated", "guest"):
            directory = out / f"v0_1_{name}"
            shutil.rmtree(directory, ignore_errors=True)
            client = AuthClient.from_config(config, store=_store(directory, config), clock=clock)
            client.initialize()
            facts: dict = {"kind": name}
            if name == "user_pool":
                client.sign_up("ann", PASSWORD, attributes={"email": "ann@example.com"})
                client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))
                client.sign_in("ann", PASSWORD)
                facts["username"] = "ann"
            elif name == "federated":
                client.federated_sign_in(IdentityProvider.GOOGLE, "google-token-of-ann")
                facts["provider"] = IdentityProvider.GOOGLE.value
            else:
                client.get_aws_credentials()
            facts["identity_id"] = client.get_identity_id()
            facts["access_key_id"] = client.get_aws_credentials().access_key_id
            facts["state"] = client.current_user_state.value
            client.close()
            meta = {"config": config, "saved_at": clock(), "expect": facts}
            (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
