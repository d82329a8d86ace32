"""One process sharing a session directory: THREADS clients (one AuthClient each, its own
FileSessionStore view of the directory) against the test process's emulator, on the test's
clock (a fixed offset from this machine's time).

It prints ``ready`` once every client has restored the saved session, then for each line
``go <offset>`` on stdin sets the clock's offset and calls ``get_tokens()`` from every thread
at once, and prints ``result <json>``: per client the sha256 of its access token, whether it
is still valid for a while, its user state and any error, plus every user state a listener
was told about. ``exit`` ends it. It prints only hashes, never a token.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time

from fsm_auth import AuthClient, AuthError
from fsm_auth.config import load_config
from fsm_auth.session import FileSessionStore

config = json.loads(os.environ["FSM_TEST_CONFIG"])
offset = [float(os.environ["FSM_TEST_CLOCK_OFFSET"])]
threads = int(os.environ["FSM_TEST_THREADS"])
directory = sys.argv[1]


def now() -> float:
    return time.time() + offset[0]


states: list[str] = []
clients = []
for _ in range(threads):
    store = FileSessionStore(directory, use_keyring=False).scoped(load_config(config).config_key)
    client = AuthClient.from_config(config, store=store, clock=now)
    client.add_user_state_listener(lambda state, info: states.append(state.value))
    client.initialize()
    clients.append(client)
print("ready", flush=True)


def run_round() -> list[dict[str, object]]:
    """get_tokens() from every client's thread at once; what each got."""
    results: list[dict[str, object]] = [{} for _ in clients]
    start = threading.Barrier(len(clients))

    def work(i: int) -> None:
        start.wait()
        try:
            tokens = clients[i].get_tokens(wait=False)
            results[i]["token"] = hashlib.sha256(tokens.access_token.encode()).hexdigest()
            results[i]["valid"] = tokens.expiration.timestamp() - now() > 60
        except AuthError as exc:
            results[i]["error"] = f"{type(exc).__name__}: {exc.code}"
        results[i]["state"] = clients[i].current_user_state.value

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


for line in sys.stdin:
    words = line.split()
    if not words or words[0] != "go":
        break
    offset[0] = float(words[1])
    print("result", json.dumps({"clients": run_round(), "states": states}), flush=True)

for client in clients:
    client.close()
