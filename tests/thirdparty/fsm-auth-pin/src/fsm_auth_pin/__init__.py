"""fsm-auth-pin: a third-party ``user_pool`` provider for fsm-auth that adds a ``PIN``
challenge after Cognito's own sign-in (entry point ``userpool-pin``).

Set the PIN at sign-up, then sign in as usual and answer the ``PIN`` challenge::

    from fsm_auth import AuthClient, SignInState
    from fsm_auth_pin import PIN_ATTRIBUTE, hash_pin

    # awsconfiguration.json: {"Auth": {"Default": {"Providers": {"user_pool": "userpool-pin"}}}}
    client.sign_up("ann", password, attributes={PIN_ATTRIBUTE: hash_pin("2468")})
    ...
    if client.sign_in("ann", password).state is SignInState("PIN"):
        client.confirm_sign_in("2468")
"""

from ._pin import PinFormatError, hash_pin, is_pin_hash, pin_matches
from .provider import MAX_ATTEMPTS, PIN_ATTRIBUTE, PIN_CHALLENGE, SPEC_PATH, PinProvider

__all__ = [
    "MAX_ATTEMPTS",
    "PIN_ATTRIBUTE",
    "PIN_CHALLENGE",
    "SPEC_PATH",
    "PinFormatError",
    "PinProvider",
    "hash_pin",
    "is_pin_hash",
    "pin_matches",
]
