"""Sign-in as data and as a flow without I/O: what a provider's sign-in yields and receives,
and the challenges a sign-in spec declares.

Provider authors implement ``UserPoolProvider.sign_in(request) -> SignInFlow`` with these types;
the client drives the flow (``fsm_auth.signin._driver``) under the ``sign_in`` spec.
"""

from ._challenges import CHALLENGED_STATE, Challenge, ChallengeTable
from ._steps import (
    Answer,
    Prompt,
    ServiceCall,
    SignedIn,
    SignInFlow,
    SignInRequest,
    SignInStep,
    run_until_prompt,
)

__all__ = [
    "CHALLENGED_STATE",
    "Answer",
    "Challenge",
    "ChallengeTable",
    "Prompt",
    "ServiceCall",
    "SignInFlow",
    "SignInRequest",
    "SignInStep",
    "SignedIn",
    "run_until_prompt",
]
