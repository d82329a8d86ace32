"""A cached ``get_tokens()`` against its peers, measured in the same run.

Peers: botocore's ``RefreshableCredentials.get_frozen_credentials()`` (the cost an AWS SDK pays
for a cached credential) and pycognito's ``Cognito.check_token(renew=False)`` on the same tokens.
Target: ``get_tokens()`` at least 10x faster than botocore.

Run: ``python benchmarks/hot_path.py`` (needs the dev extra: the emulator issues real tokens).
"""

from __future__ import annotations

import timeit
from datetime import datetime, timedelta, timezone
from typing import Any

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator
from fsm_auth.session import MemorySessionStore

PASSWORD = "Bench-Passw0rd!"


def per_call(fn: Any, number: int = 20_000, repeat: int = 7) -> float:
    """Best per-call time in seconds over ``repeat`` rounds of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main() -> None:
    from botocore.credentials import RefreshableCredentials
    from pycognito import Cognito

    with Emulator() as emulator:
        pool = emulator.provision(with_identity_pool=False)
        config = pool.aws_configuration()
        client = AuthClient.from_config(config, store=MemorySessionStore())
        client.sign_up("bench", PASSWORD, attributes={"email": "bench@example.com"})
        client.confirm_sign_up("bench", emulator.last_code("bench", "sign_up"))
        client.sign_in("bench", PASSWORD)
        tokens = client.get_tokens()
        before = emulator.count()

        expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
        botocore_creds = RefreshableCredentials.create_from_metadata(
            {"access_key": "AKIA", "secret_key": "s", "token": "t", "expiry_time": expiry},
            refresh_using=lambda: {},
            method="bench",
        )
        cognito = Cognito(
            pool.user_pool_id,
            pool.client_id,
            user_pool_region=pool.region,
            id_token=tokens.id_token,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
        )

        ours = per_call(client.get_tokens)
        botocore = per_call(botocore_creds.get_frozen_credentials)
        pycognito = per_call(lambda: cognito.check_token(renew=False), number=2_000)
        requests = emulator.count() - before
        client.close()

    print(f"fsm-auth   AuthClient.get_tokens() (cached)           {ours * 1e6:8.3f} us/call")
    print(f"botocore   get_frozen_credentials()                   {botocore * 1e6:8.3f} us/call")
    print(f"pycognito  Cognito.check_token(renew=False)           {pycognito * 1e6:8.3f} us/call")
    print(f"ratio: fsm-auth is {botocore / ours:.1f}x faster than botocore (target >= 10x)")
    print(f"ratio: fsm-auth is {pycognito / ours:.1f}x faster than pycognito")
    print(f"requests made at the server by the cached calls: {requests}")


if __name__ == "__main__":
    main()
