"""Restoring a persisted session, against pycognito built from the same saved tokens.

Ours: ``AuthClient.from_config(config, storage_dir=...).initialize()`` plus the first
``get_tokens()``: open the encrypted session file (AES-GCM), verify the id and access tokens'
RS256 signatures against the JWKS kept in the session, no network (the emulator is stopped
while timing: any request would fail). Each round forgets the JWKS this process holds in
memory, as a restarted process would.

Peer: read the same tokens from a plaintext JSON file, build a pycognito ``Cognito`` from them
and call ``check_token(renew=False)`` (which decodes the access token without verifying it;
``Cognito()`` builds its boto3 client eagerly).

The session key is in the owner-only key file (no OS keyring, as on CI).

Run: ``python benchmarks/restore.py`` (needs the dev extra: the emulator issues real tokens).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fsm_auth import AuthClient, UserState
from fsm_auth.emulator import Emulator
from fsm_auth.session import clear_jwks_caches

PASSWORD = "Bench-Passw0rd!"
ROUNDS = 30


def median_seconds(fn: Callable[[], Any], rounds: int = ROUNDS) -> float:
    """Median wall time of ``fn()`` over ``rounds`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import keyring
    from keyring.backends import fail
    from pycognito import Cognito

    # The key-file fallback, as on CI (and no benchmark keys left in a real OS keyring).
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]

    with tempfile.TemporaryDirectory() as tmp:
        storage_dir = Path(tmp) / "session"
        plain = Path(tmp) / "tokens.json"
        with Emulator() as emulator:
            pool = emulator.provision(with_identity_pool=False)
            config = pool.aws_configuration()
            with AuthClient.from_config(config, storage_dir=storage_dir) as client:
                client.initialize()
                client.sign_up("bench", PASSWORD, attributes={"email": "bench@example.com"})
                client.confirm_sign_up("bench", emulator.last_code("bench", "sign_up"))
                client.sign_in("bench", PASSWORD)
                saved = client.get_tokens()
            plain.write_text(
                json.dumps(
                    {
                        "id_token": saved.id_token,
                        "access_token": saved.access_token,
                        "refresh_token": saved.refresh_token,
                    }
                )
            )
            plain.chmod(0o600)
            emulator.stop()  # offline from here: a restore that made a request would fail

            def ours() -> None:
                clear_jwks_caches()  # a new process holds no JWKS in memory
                with AuthClient.from_config(config, storage_dir=storage_dir) as restored:
                    if restored.initialize() != UserState.SIGNED_IN:
                        raise AssertionError("the session was not restored")
                    if restored.get_tokens().access_token != saved.access_token:
                        raise AssertionError("restored other tokens")

            def peer() -> None:
                tokens = json.loads(plain.read_text())
                cognito = Cognito(
                    pool.user_pool_id,
                    pool.client_id,
                    user_pool_region=pool.region,
                    id_token=tokens["id_token"],
                    access_token=tokens["access_token"],
                    refresh_token=tokens["refresh_token"],
                )
                if cognito.check_token(renew=False):
                    raise AssertionError("pycognito found the token expired")

            fsm = median_seconds(ours)
            pyc = median_seconds(peer)

    print(f"restore, medians of {ROUNDS} rounds (after a warm-up), no network:")
    print(f"fsm-auth   from_config(storage_dir).initialize() + get_tokens()  {fsm * 1e3:8.3f} ms")
    print("           (decrypts the session file, verifies 2 RS256 signatures)")
    print(f"pycognito  Cognito(saved tokens) + check_token(renew=False)      {pyc * 1e3:8.3f} ms")
    print("           (reads a plaintext JSON file, builds a boto3 client, no verification)")
    if fsm <= pyc:
        print(f"ratio: fsm-auth is {pyc / fsm:.1f}x faster than pycognito")
    else:
        print(f"ratio: fsm-auth is {fsm / pyc:.1f}x slower than pycognito")


if __name__ == "__main__":
    main()
