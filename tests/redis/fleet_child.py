"""One process of a fleet: THREADS clients (one AuthClient each, its own RedisSessionStore) on
one Redis session, against the test process's emulator, on the test's clock (a fixed offset
from this machine's time).

It prints ``ready`` once every client has restored the saved session, waits for ``go`` on
stdin, then calls ``get_tokens()`` from every thread at once and prints ``result <json>``:
per client the sha256 of its access token, its user state and any error; the WARNINGs the
clients logged; every user state any listener was told about. It prints only hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import time

from fsm_auth import AuthClient, AuthError
from fsm_auth.session import RedisSessionStore

config = json.loads(os.environ["FSM_TEST_CONFIG"])
offset = float(os.environ["FSM_TEST_CLOCK_OFFSET"])
threads = int(os.environ["FSM_TEST_THREADS"])
key = bytes.fromhex(os.environ["FSM_TEST_KEY"])


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


records = Records()
logging.getLogger("fsm_auth").addHandler(records)
states: list[str] = []

clients = []
for _ in range(threads):
    store = RedisSessionStore(
        os.environ["FSM_TEST_REDIS_URL"],
        key=key,
        namespace="fleet-test",
        session_id="fleet",
        lease=float(os.environ["FSM_TEST_LEASE"]),
    )
    client = AuthClient.from_config(config, store=store, clock=lambda: time.time() + offset)
    client.add_user_state_listener(lambda state, info: states.append(state.value))
    client.initialize()
    clients.append(client)
print("ready", flush=True)
sys.stdin.readline()

results: list[dict[str, object]] = [{} for _ in clients]
start = threading.Barrier(len(clients))


def work(i: int) -> None:
    start.wait()
    try:
        tokens = clients[i].get_tokens()
        left = tokens.expiration.timestamp() - (time.time() + offset)
        results[i]["token"] = hashlib.sha256(tokens.access_token.encode()).hexdigest()
        results[i]["valid"] = left > 60
    except AuthError as exc:
        results[i]["error"] = f"{type(exc).__name__}: {exc}"
    results[i]["state"] = clients[i].current_user_state.value


workers = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
for client in clients:
    client.close()
print(
    "result",
    json.dumps({"clients": results, "warnings": records.messages, "states": states}),
    flush=True,
)
