"""``CUSTOM_AUTH`` as Cognito runs it, the pool's provisioned rounds playing its Lambda triggers.

Cognito asks the pool's DefineAuthChallenge trigger what comes next: with ``AuthParameters``
``CHALLENGE_NAME=SRP_A`` (what clients call ``CUSTOM_WITH_SRP``) it sees SRP first, so the
sign-in starts with ``PASSWORD_VERIFIER`` (the same SRP as ``USER_SRP_AUTH``) and the custom
rounds follow a correct password; without it the custom rounds come at once. Each round is a
``CUSTOM_CHALLENGE`` whose public ``ChallengeParameters`` (CreateAuthChallenge) are the round's
``parameters`` plus ``USERNAME``, and whose ``ANSWER`` is checked against the round's answer
(VerifyAuthChallengeResponse) or, for a round without one, against a code sent to the user's
e-mail or phone (kind ``custom_challenge``). A wrong answer leaves the same round answerable in
the same session; after the last round the user gets tokens.

``provision(custom_challenges=None)`` keeps one code round (``{"challenge": "code"}``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import CognitoError

if TYPE_CHECKING:
    from ._auth import AuthFlows, _Session

__all__ = ["CustomAuth", "CustomRound", "check_custom_challenges", "configure_pool"]

Params = dict[str, Any]

_POOL_ATTRIBUTE = "fsm_auth_custom_challenges"
_WRONG_ANSWER = "Invalid challenge answer provided, please try again."


@attrs.frozen
class CustomRound:
    """One round of the custom flow: its public parameters and its answer (None: a code)."""

    parameters: Mapping[str, str]
    answer: str | None = attrs.field(repr=False)


_DEFAULT_ROUNDS = (CustomRound({"challenge": "code"}, None),)


def check_custom_challenges(
    custom_challenges: Sequence[Mapping[str, Any]] | None,
) -> tuple[CustomRound, ...] | None:
    """The rounds ``custom_challenges`` describes (None stays None); ValueError naming the first
    bad entry."""
    if custom_challenges is None:
        return None
    shape = '{"parameters": {str: str}, "answer": str | None}'
    if isinstance(custom_challenges, (str, bytes, Mapping)) or not isinstance(
        custom_challenges, Sequence
    ):
        raise ValueError(f"custom_challenges must be a sequence of {shape} entries")
    rounds = []
    for index, entry in enumerate(custom_challenges):
        where = f"custom_challenges[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {"parameters", "answer"}:
            raise ValueError(f"{where} must be a mapping {shape}, not {entry!r}")
        parameters, answer = entry["parameters"], entry["answer"]
        if not isinstance(parameters, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parameters.items()
        ):
            raise ValueError(f"{where}: parameters must map strings to strings")
        if "USERNAME" in parameters:
            raise ValueError(f"{where}: parameters may not set USERNAME (the emulator adds it)")
        if answer is not None and (not isinstance(answer, str) or not answer):
            raise ValueError(f"{where}: answer must be a non-empty string, or None for a code")
        rounds.append(CustomRound(dict(parameters), answer))
    if not rounds:
        raise ValueError("custom_challenges must have at least one round")
    return tuple(rounds)


def configure_pool(pool: Any, rounds: tuple[CustomRound, ...] | None) -> None:
    """Give ``pool`` its custom rounds (None: the default single code round)."""
    setattr(pool, _POOL_ATTRIBUTE, rounds)


def _rounds(pool: Any) -> tuple[CustomRound, ...]:
    rounds: tuple[CustomRound, ...] | None = getattr(pool, _POOL_ATTRIBUTE, None)
    return rounds or _DEFAULT_ROUNDS


class CustomAuth:
    """The ``CUSTOM_AUTH`` side of the user-pool layer, next to :class:`~._auth.AuthFlows`."""

    def __init__(self, auth: AuthFlows) -> None:
        self.auth = auth

    def initiate(self, pool: Any, client: Any, user: Any, parameters: Params) -> Params:
        """InitiateAuth ``CUSTOM_AUTH``: SRP first when ``CHALLENGE_NAME`` is ``SRP_A``."""
        if parameters.get("CHALLENGE_NAME") == "SRP_A":
            srp_a = str(parameters.get("SRP_A") or "")
            if not srp_a:
                raise CognitoError("InvalidParameterException", "Missing required parameter SRP_A")
            result: Params = self.auth._srp_challenge(pool, client, user, srp_a, custom=True)
            return result
        return self.challenge(pool, client, user)

    def challenge(self, pool: Any, client: Any, user: Any, index: int = 0) -> Params:
        """Round ``index`` of the pool's custom flow (a code sent first when it has one)."""
        round_ = _rounds(pool)[index]
        if round_.answer is None:
            lookup = user.attribute_lookup
            destination = lookup.get("email") or lookup.get("phone_number", "")
            self.auth.codes.issue(pool.id, user.username, "custom_challenge", destination)
        session = self.auth._new_session(
            pool.id, client.id, user.username, "CUSTOM_CHALLENGE", round=index
        )
        return {
            "ChallengeName": "CUSTOM_CHALLENGE",
            "Session": session.id,
            "ChallengeParameters": {**round_.parameters, "USERNAME": user.username},
        }

    def respond(
        self, pool: Any, client: Any, user: Any, session: _Session, answers: dict[str, str]
    ) -> Params:
        """The answer to a custom round: the next round, or tokens after the last."""
        rounds = _rounds(pool)
        round_ = rounds[session.round]
        given = answers.get("ANSWER", "")
        if round_.answer is None:
            self.auth._check_code(
                lambda: self.auth.codes.check(pool.id, user.username, "custom_challenge", given),
                session,
            )
        elif not secrets.compare_digest(round_.answer.encode(), given.encode()):
            self.auth._restore(session)
            raise CognitoError("CodeMismatchException", _WRONG_ANSWER)
        if session.round + 1 < len(rounds):
            return self.challenge(pool, client, user, session.round + 1)
        result: Params = self.auth._mfa_done(pool, client, user)
        return result
