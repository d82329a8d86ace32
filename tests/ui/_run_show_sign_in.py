"""Run as a script in a pseudo-terminal by the tests of ``tests/ui``: build a client from the
configuration file ``argv[1]`` keeping its session under ``argv[2]``, call
``client.show_sign_in()``, and print the outcome on lines of its own: ``RESULT DONE`` (or
``CANCELLED <message>``), then ``STATE <user state>`` and ``USER <user name>``."""

from __future__ import annotations

import sys

from fsm_auth import AuthClient, SignInCancelledError


def main(argv: list[str]) -> int:
    """Sign in through the terminal UI; exit status 0 when signed in, 3 when cancelled."""
    config, storage = argv[1], argv[2]
    with AuthClient.from_config(config, storage_dir=storage) as client:
        try:
            result = client.show_sign_in()
        except SignInCancelledError as exc:
            print(f"CANCELLED {exc}")
            status = 3
        else:
            print(f"RESULT {result.state.value}")
            status = 0
        print(f"STATE {client.current_user_state.value}")
        print(f"USER {client.username}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
