"""Building a client and signing in with SRP to verified tokens, against pycognito.

Ours: ``AuthClient.from_config(config, store=MemorySessionStore())``, ``sign_in(user,
password)`` (SRP: InitiateAuth + RespondToAuthChallenge) and ``get_tokens()`` (the id and
access tokens verified: RS256 signature against the pool's JWKS, issuer, audience / client
id, ``token_use``, expiry). A new client per round, as a server that builds one per user does;
what is process-wide (the JWKS this process has fetched, the HTTP connection pool, the parsed
service description) is shared, as it is in any long-running process.

Peer: ``Cognito(pool, client, username=user, ...)`` (which builds its boto3 client),
``authenticate(password)`` (the same SRP exchange, pycognito's ``AWSSRP``) and
``verify_tokens()`` (both tokens, RS256 against the pool's JWKS, which a new ``Cognito``
fetches with ``requests``, as pycognito does).

Floor: the SRP arithmetic alone, pycognito's ``AWSSRP.get_auth_params()`` +
``process_challenge()`` on a recorded challenge (no network): what any SRP sign-in pays. And
the bare exchange: the same arithmetic and the two requests as raw JSON POSTs on a urllib3 pool,
no verification: what a sign-in against this emulator cannot go below (the emulator runs in
this process and does its own SRP arithmetic for each sign-in).

Both sign in on the same emulator (``fsm_auth.emulator.Emulator``, moto's server behind our
fidelity layer) in one run, interleaved round by round, after a warm-up round each: first the
emulator in this process (as the tests run it), then the same emulator in a process of its
own. In this process the emulator's threads (moto, its own SRP arithmetic) share the GIL
with the clients, which inflates every figure alike; in its own process what is left over the
bare exchange is the client's own cost.

Run: ``python benchmarks/sign_in.py [rounds]`` (needs the dev extra; at least 9 rounds).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3

from fsm_auth import AuthClient, MemorySessionStore
from fsm_auth.emulator import Emulator

PASSWORD = "Bench-Passw0rd!"
USER = "bench"
ROUNDS = 15


def timed(fn: Callable[[], Any]) -> float:
    """Wall time of one ``fn()`` in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Site:
    """Where the emulator answers, with the pool provisioned and the user signed up."""

    url: str
    region: str
    pool_id: str
    client_id: str
    config: dict[str, Any]


def provision(emulator: Emulator) -> Site:
    """A pool without an identity pool, and the benchmark's user, signed up and confirmed."""
    pool = emulator.provision(with_identity_pool=False, bucket=None)
    config = pool.aws_configuration()
    with AuthClient.from_config(config, store=MemorySessionStore()) as client:
        client.sign_up(USER, PASSWORD, attributes={"email": "bench@example.com"})
        client.confirm_sign_up(USER, emulator.last_code(USER, "sign_up"))
    return Site(emulator.url, pool.region, pool.user_pool_id, pool.client_id, config)


# The emulator in a process of its own: provisions, prints the site, serves until stdin ends.
_SERVER = """
import json, sys
sys.path.insert(0, {here!r})
from sign_in import provision
from fsm_auth.emulator import Emulator
with Emulator() as emulator:
    site = provision(emulator)
    print(json.dumps(site.__dict__), flush=True)
    sys.stdin.read()
"""


def measure(site: Site, rounds: int) -> dict[str, float]:
    """Medians (seconds) of ours, the peer, the SRP floor and the bare exchange at ``site``."""
    import boto3
    from pycognito import Cognito
    from pycognito.aws_srp import AWSSRP

    config = site.config
    issuer = f"https://cognito-idp.{site.region}.amazonaws.com/{site.pool_id}"
    jwks_url = f"{site.url}/{site.pool_id}/.well-known/jwks.json"

    class EmulatedCognito(Cognito):  # type: ignore[misc]
        """pycognito as it is, except where its JWKS and issuer are: the emulator serves
        the JWKS at ``<endpoint>/<pool>`` and issues tokens with AWS's issuer, while
        pycognito with an ``endpoint_url`` expects ``<endpoint>/<pool>`` for both."""

        @property
        def user_pool_url(self) -> str:
            return issuer

        def get_keys(self) -> Any:
            if self.pool_jwk is None:
                self.pool_jwk = requests.get(jwks_url, timeout=15).json()
            return self.pool_jwk

    def ours() -> None:
        with AuthClient.from_config(config, store=MemorySessionStore()) as fresh:
            fresh.sign_in(USER, PASSWORD)
            tokens = fresh.get_tokens()
            if tokens.id_claims.get("cognito:username") != USER:
                raise AssertionError("fsm-auth signed in someone else")

    def peer() -> None:
        cognito = EmulatedCognito(
            site.pool_id,
            site.client_id,
            user_pool_region=site.region,
            username=USER,
            boto3_client_kwargs={
                "endpoint_url": site.url,
                "aws_access_key_id": "bench",
                "aws_secret_access_key": "bench",
            },
        )
        cognito.authenticate(PASSWORD)
        cognito.verify_tokens()
        if cognito.id_claims.get("cognito:username") != USER:
            raise AssertionError("pycognito signed in someone else")

    wire = urllib3.PoolManager()

    def post(operation: str, document: dict[str, Any]) -> Any:
        answer = wire.request(
            "POST",
            site.url + "/",
            body=json.dumps(document).encode(),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
            },
        )
        return json.loads(answer.data)

    no_client = boto3.client("cognito-idp", region_name=site.region)  # never called
    # One real challenge, recorded, for the floor: the arithmetic replayed without I/O.
    srp = AWSSRP(USER, PASSWORD, site.pool_id, site.client_id, client=no_client)
    auth = {"AuthFlow": "USER_SRP_AUTH", "ClientId": site.client_id}
    challenge = post("InitiateAuth", {**auth, "AuthParameters": srp.get_auth_params()})[
        "ChallengeParameters"
    ]

    def floor() -> None:
        arithmetic = AWSSRP(USER, PASSWORD, site.pool_id, site.client_id, client=no_client)
        arithmetic.get_auth_params()
        arithmetic.process_challenge(challenge, {"USERNAME": USER})

    def bare() -> None:
        arithmetic = AWSSRP(USER, PASSWORD, site.pool_id, site.client_id, client=no_client)
        asked = post("InitiateAuth", {**auth, "AuthParameters": arithmetic.get_auth_params()})
        answer = post(
            "RespondToAuthChallenge",
            {
                "ClientId": site.client_id,
                "ChallengeName": "PASSWORD_VERIFIER",
                "ChallengeResponses": arithmetic.process_challenge(
                    asked["ChallengeParameters"], {"USERNAME": USER}
                ),
            },
        )
        if "IdToken" not in answer.get("AuthenticationResult", {}):
            raise AssertionError("the bare exchange did not sign in")

    runs: dict[str, Callable[[], None]] = {"fsm": ours, "pyc": peer, "floor": floor, "bare": bare}
    for run in runs.values():  # warm-up: imports, boto3's loader cache, this process's JWKS
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(timed(run))
    return {name: statistics.median(values) for name, values in times.items()}


def report(title: str, rounds: int, m: dict[str, float]) -> None:
    """Print one placement's figures."""
    fsm, pyc, floor, bare = m["fsm"], m["pyc"], m["floor"], m["bare"]
    print(f"{title}: medians of {rounds} interleaved rounds")
    print(f"  fsm-auth   from_config + sign_in + get_tokens           {fsm * 1e3:8.2f} ms")
    print(f"  pycognito  Cognito() + authenticate + verify_tokens     {pyc * 1e3:8.2f} ms")
    print(f"  SRP floor  AWSSRP get_auth_params + process_challenge   {floor * 1e3:8.2f} ms")
    print(f"  bare SRP   the arithmetic + 2 raw POSTs, no verification {bare * 1e3:7.2f} ms")
    print(f"  ratio pycognito / fsm-auth (target >= 1.0): {pyc / fsm:.2f}")
    print(
        f"  fsm-auth over the SRP floor: {(fsm - floor) * 1e3:.2f} ms; "
        f"over the bare exchange: {(fsm - bare) * 1e3:.2f} ms"
    )


def main() -> None:
    """Measure with the emulator in this process, then in a process of its own."""
    rounds = max(9, int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS)
    print("build a client + SRP sign-in to verified tokens (a new client per round)")
    with Emulator() as emulator:
        report("emulator in this process", rounds, measure(provision(emulator), rounds))
    here = str(Path(__file__).resolve().parent)
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER.format(here=here)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        site = Site(**json.loads(server.stdout.readline()))
        report("emulator in its own process", rounds, measure(site, rounds))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
