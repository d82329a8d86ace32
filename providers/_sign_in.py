"""The Cognito user-pool sign-in as a flow without I/O (see ``fsm_auth.signin``).

``InitiateAuth``, then ``RespondToAuthChallenge`` for each challenge until the service answers
with tokens. How each challenge is answered comes from the sign-in spec's declarations: a
challenge the provider answers names its step (``password_verifier``: SRP's proof, computed with
pycognito's SRP helpers, never our own big-number code); a challenge for the caller is yielded
as a ``Prompt``, its answer sent under the declared key, with the declared steps around it
(``associate_software_token`` before the prompt, ``verify_software_token`` with the answer).

A client secret, when configured, is honoured in every answer (``SECRET_HASH``) and always
computed for the user name the service knows the user by (``USER_ID_FOR_SRP`` / the challenge's
``USERNAME``), not the alias the user typed: pycognito's issue #196 is the bug not to repeat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from fsm_auth._arithmetic import compute
from fsm_auth.errors import (
    ChallengeNotSupportedError,
    CodeMismatchError,
    ExpiredCodeError,
    InvalidParameterError,
    InvalidPasswordError,
    NetworkError,
)
from fsm_auth.provider import RawTokens
from fsm_auth.signin import Answer, Challenge, Prompt, ServiceCall, SignedIn, SignInFlow
from fsm_auth.values import CodeDeliveryDetails

from ._devices import device_password_verifier, device_srp_auth

if TYPE_CHECKING:
    from fsm_auth.config import UserPoolConfig
    from fsm_auth.signin import SignInRequest

__all__ = ["FLOWS", "STEPS", "cognito_sign_in", "raw_tokens", "secret_hash"]

FLOWS = ("USER_SRP_AUTH", "USER_PASSWORD_AUTH", "CUSTOM_AUTH", "CUSTOM_WITH_SRP", "USER_AUTH")
"""The sign-in flows this provider runs; the first is the default."""

_NEEDS_PASSWORD = frozenset({"USER_SRP_AUTH", "USER_PASSWORD_AUTH", "CUSTOM_WITH_SRP"})
# USER_AUTH's first factors that take the password.
_PASSWORD_FACTORS = frozenset({"PASSWORD", "PASSWORD_SRP"})

# Errors after which the same challenge may be answered again with the same session.
_RETRYABLE = (
    CodeMismatchError,
    ExpiredCodeError,
    InvalidPasswordError,
    InvalidParameterError,
    NetworkError,
)

# Challenge parameters never handed to the caller: SRP's values (only a challenge the provider
# answers carries them, and it is never prompted, but a confused server must not leak them).
_PRIVATE_PARAMETERS = frozenset({"SRP_B", "SALT", "SECRET_BLOCK"})

# pycognito's AWSSRP builds a boto3 client unless it is given one; the flow never lets it call
# anything (the flow yields every request), so any object will do.
_NO_CLIENT = object()


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's SECRET_HASH: base64(HMAC-SHA256(secret, username + client id))."""
    digest = hmac.new(
        client_secret.encode("utf-8"), (username + client_id).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def raw_tokens(result: Mapping[str, Any], refresh_token: str | None = None) -> RawTokens:
    """The tokens of an ``AuthenticationResult`` (a refresh answer keeps the refresh token).

    Raises ``InvalidParameterError`` naming the member when the answer is not an object of
    token strings (a confused or impostor server).
    """
    if not isinstance(result, Mapping):
        raise InvalidParameterError(
            "The service answered an incomplete set of tokens: its AuthenticationResult is not "
            "an object"
        )
    for key in ("IdToken", "AccessToken"):
        if key not in result:
            raise InvalidParameterError(
                f"The service answered an incomplete set of tokens: no {key}"
            )
        if not isinstance(result[key], str) or not result[key]:
            raise InvalidParameterError(f"The service's {key} is not a token string")
    refresh = result.get("RefreshToken")
    if refresh is not None and not isinstance(refresh, str):
        raise InvalidParameterError("The service's RefreshToken is not a token string")
    return RawTokens(
        id_token=result["IdToken"],
        access_token=result["AccessToken"],
        refresh_token=refresh or refresh_token,
    )


def _document(answer: Any, operation: str) -> Mapping[str, Any]:
    """The service's answer to ``operation``, which must be a JSON object."""
    if not isinstance(answer, Mapping):
        raise InvalidParameterError(f"The service's answer to {operation} is not an object")
    return answer


def _session(answer: Mapping[str, Any], current: str | None) -> str | None:
    """The answer's ``Session`` (or ``current`` when it gives none); never sent back unless it
    is a string."""
    session = answer.get("Session")
    if session is None:
        return current
    if not isinstance(session, str):
        raise InvalidParameterError("The service's Session is not a string")
    return session or current


@attrs.define
class _Exchange:
    """The state of one challenge exchange, private to one flow."""

    pool: UserPoolConfig
    username: str  # the service's name for the user: what SECRET_HASH is computed for
    session: str | None
    raw_parameters: Mapping[str, Any]
    parameters: dict[str, str]
    responses: dict[str, Any] = attrs.Factory(dict)
    srp: Any = None
    srp_auth: Mapping[str, Any] = attrs.Factory(dict)
    # This device (a DeviceSecret) when the session remembers one, and its SRP round.
    device: Any = None
    device_srp: Any = None
    # The password sign_in() was given (answers a password factor chosen later, unasked).
    password: str | None = attrs.field(default=None, repr=False)

    def with_secret(self, target: dict[str, Any], username: str | None = None) -> None:
        if self.pool.app_client_secret:
            target["SECRET_HASH"] = secret_hash(
                username or self.username, self.pool.app_client_id, self.pool.app_client_secret
            )


# A provider step: may send requests; may return responses to send with the answer.
_Step = Callable[[_Exchange, "Answer | None"], Generator[ServiceCall, Any, Any]]


def _password_verifier(
    exchange: _Exchange, _answer: Answer | None
) -> Generator[ServiceCall, Any, None]:
    """SRP's PASSWORD_VERIFIER, answered from the password kept in the flow."""
    if exchange.srp is None:
        raise InvalidParameterError("PASSWORD_VERIFIER came without an SRP sign-in")
    from pycognito.aws_srp import N_HEX

    try:
        # SRP-6a (RFC 5054 2.5.4): a server value B that is 0 mod N would fix the session key.
        if int(str(exchange.raw_parameters["SRP_B"]), 16) % int(N_HEX, 16) == 0:
            raise ValueError("SRP_B is 0 mod N")
        # USERNAME: the service's name for the user (USER_ID_FOR_SRP), never the alias typed,
        # for the answer and its SECRET_HASH (pycognito #196).
        responses = compute(
            exchange.srp.process_challenge,
            dict(exchange.raw_parameters),
            {**exchange.srp_auth, "USERNAME": exchange.username},
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidParameterError("The service's SRP challenge is malformed") from None
    exchange.responses = dict(responses)
    exchange.username = str(responses.get("USERNAME") or exchange.username)
    return
    yield  # a generator with no request of its own


def _associate_software_token(
    exchange: _Exchange, _answer: Answer | None
) -> Generator[ServiceCall, Any, None]:
    """Before MFA_SETUP's prompt: the TOTP secret the user enters in an authenticator."""
    if "SECRET_CODE" in exchange.parameters:
        return
    answer = yield ServiceCall("associate_software_token", {"Session": exchange.session})
    answer = _document(answer, "AssociateSoftwareToken")
    secret = answer.get("SecretCode")
    if not isinstance(secret, str) or not secret:
        raise InvalidParameterError("The service answered AssociateSoftwareToken without a secret")
    exchange.session = _session(answer, exchange.session)
    exchange.parameters["SECRET_CODE"] = secret


def _verify_software_token(
    exchange: _Exchange, answer: Answer | None
) -> Generator[ServiceCall, Any, None]:
    """With MFA_SETUP's answer: the first code proves the authenticator is set up."""
    code = answer.response if answer is not None else ""
    verified = yield ServiceCall(
        "verify_software_token",
        {"Session": exchange.session, "UserCode": code, "FriendlyDeviceName": "fsm-auth"},
        (code,),
    )
    verified = _document(verified, "VerifySoftwareToken")
    if verified.get("Status") not in (None, "SUCCESS"):
        raise CodeMismatchError("The code from the authenticator did not verify")
    exchange.session = _session(verified, exchange.session)


def _srp_start(exchange: _Exchange, password: str) -> dict[str, Any]:
    """Start SRP for ``password``: the round is kept for PASSWORD_VERIFIER; its ``SRP_A`` (and
    ``SECRET_HASH``) are returned for the request that starts it."""
    # Imported here: pycognito imports boto3 at module level.
    from pycognito.aws_srp import AWSSRP

    device = exchange.device
    # Its modular power (SRP_A) where the client computes long arithmetic (off the loop).
    exchange.srp = compute(
        AWSSRP,
        username=exchange.username,
        password=password,
        pool_id=exchange.pool.pool_id,
        client_id=exchange.pool.app_client_id,
        client=_NO_CLIENT,
        client_secret=exchange.pool.app_client_secret,
        device_key=getattr(device, "key", None),
        device_group_key=getattr(device, "group_key", None),
        device_password=getattr(device, "password", None),
    )
    exchange.srp_auth = dict(exchange.srp.get_auth_params())
    return dict(exchange.srp_auth)


def _password_srp(exchange: _Exchange, answer: Answer | None) -> Generator[ServiceCall, Any, Any]:
    """With SELECT_CHALLENGE's PASSWORD_SRP: the SRP round of the password answered, whose
    SRP_A goes with the choice (the service then asks PASSWORD_VERIFIER)."""
    if answer is None or not answer.response:
        raise InvalidParameterError("A password is needed to sign in with PASSWORD_SRP")
    return {"SRP_A": _srp_start(exchange, answer.response)["SRP_A"]}
    yield  # a generator with no request of its own


STEPS: Mapping[str, _Step] = {
    "password_verifier": _password_verifier,
    "device_srp_auth": device_srp_auth,
    "device_password_verifier": device_password_verifier,
    "associate_software_token": _associate_software_token,
    "verify_software_token": _verify_software_token,
    "password_srp": _password_srp,
}
"""The provider steps the sign-in spec's challenges may name."""


def _auth_parameters(exchange: _Exchange, request: SignInRequest) -> dict[str, Any]:
    """InitiateAuth's ``AuthParameters`` for the request's flow (and preferred challenge)."""
    flow, password = request.flow, request.password
    preferred = request.preferred_challenge if flow == "USER_AUTH" else None
    if (flow in _NEEDS_PASSWORD or preferred in _PASSWORD_FACTORS) and not password:
        raise InvalidParameterError(
            f"A password is needed to sign in with {flow}"
            + (f" and {preferred}" if preferred else "")
        )
    srp = flow in ("USER_SRP_AUTH", "CUSTOM_WITH_SRP") or preferred == "PASSWORD_SRP"
    if srp:
        assert password is not None  # checked above
        auth = _srp_start(exchange, password)
    else:
        auth = {"USERNAME": request.username}
        exchange.with_secret(auth)
    if flow == "CUSTOM_WITH_SRP":
        # Cognito's custom flow starts with SRP when told so (its DefineAuthChallenge trigger
        # sees SRP_A first, then PASSWORD_VERIFIER, then the custom challenges).
        auth["CHALLENGE_NAME"] = "SRP_A"
    if preferred is not None:
        auth["PREFERRED_CHALLENGE"] = preferred
    if flow == "USER_PASSWORD_AUTH" or preferred == "PASSWORD":
        auth["PASSWORD"] = password
    # The remembered device's key goes with the sign-in (Cognito reads it with SRP's
    # PASSWORD_VERIFIER, or at once for a password flow) and its password stays here.
    device_key = getattr(request.device, "key", None)
    if device_key is not None and not srp:
        auth["DEVICE_KEY"] = device_key
    return auth


def cognito_sign_in(pool: UserPoolConfig, request: SignInRequest) -> SignInFlow:
    """The sign-in of ``request`` against ``pool``, as a flow (see the module docstring)."""
    flow = request.flow
    if flow not in FLOWS:
        raise InvalidParameterError(
            f"Unsupported authentication flow {flow!r}: use {', '.join(FLOWS)}"
        )
    metadata = {**dict(request.validation_data or {}), **dict(request.client_metadata or {})}
    exchange = _Exchange(
        pool=pool,
        username=request.username,
        session=None,
        raw_parameters={},
        parameters={},
        device=request.device,
        password=request.password,
    )
    initiate: dict[str, Any] = {
        # Service names: CUSTOM_WITH_SRP is CUSTOM_AUTH told to start with SRP.
        "AuthFlow": "CUSTOM_AUTH" if flow == "CUSTOM_WITH_SRP" else flow,
        "ClientId": pool.app_client_id,
        "AuthParameters": _auth_parameters(exchange, request),
        # Cognito passes validation data to the pre-authentication trigger as metadata.
        "ClientMetadata": metadata or None,
    }
    if request.session is not None:
        # A just-confirmed user's session (auto sign-in): no other factor is asked.
        initiate["Session"] = request.session
    secrets = (
        (request.password,) if request.session is None else (request.password, request.session)
    )
    answer = yield ServiceCall("initiate_auth", initiate, secrets)
    operation = "InitiateAuth"
    while True:
        answer = _document(answer, operation)
        operation = "RespondToAuthChallenge"
        result = answer.get("AuthenticationResult")
        if result is not None and not isinstance(result, Mapping):
            raise InvalidParameterError(
                "The service answered an incomplete set of tokens: its AuthenticationResult "
                "is not an object"
            )
        if result:
            return SignedIn(raw_tokens(result))
        challenge = _challenge_of(answer, exchange, request)
        if challenge.answered_by == "provider":
            assert challenge.handler is not None  # checked when the spec was loaded
            yield from STEPS[challenge.handler](exchange, None)
            answer = yield _respond(challenge, exchange, metadata, (request.password,))
        else:
            answer = yield from _answer_with_user(challenge, exchange, metadata)


def _respond(
    challenge: Challenge,
    exchange: _Exchange,
    metadata: Mapping[str, str],
    secrets: tuple[str | None, ...],
) -> ServiceCall:
    return ServiceCall(
        "respond_to_auth_challenge",
        {
            "ClientId": exchange.pool.app_client_id,
            "ChallengeName": challenge.name,
            "ChallengeResponses": exchange.responses,
            "Session": exchange.session,
            "ClientMetadata": dict(metadata) or None,
        },
        secrets,
    )


def _challenge_of(
    answer: Mapping[str, Any], exchange: _Exchange, request: SignInRequest
) -> Challenge:
    """Read the service's challenge into ``exchange``; its declaration in the spec."""
    name = answer.get("ChallengeName")
    if not isinstance(name, str) or not name:
        raise InvalidParameterError("The service answered with neither tokens nor a challenge")
    challenge = request.challenges.get(name)
    if challenge is None:
        raise ChallengeNotSupportedError(
            f"The service asked for the challenge {name}, which the sign-in spec "
            f"{request.challenges.spec_name!r} does not declare"
            + (" (device tracking: turn it off for this app client)" if "DEVICE" in name else ""),
            code=name,
        )
    parameters = answer.get("ChallengeParameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidParameterError(
            "The service's challenge parameters are malformed: ChallengeParameters is not an object"
        )
    # Cognito's ChallengeParameters is a map of strings; anything else would be sent back as
    # a user name or shown to the user as text it is not.
    for key, value in parameters.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidParameterError(
                "The service's challenge parameters are malformed: a value that is not a "
                "string" + (f" ({key})" if isinstance(key, str) and key.isidentifier() else "")
            )
    exchange.raw_parameters = parameters
    exchange.username = str(
        parameters.get("USER_ID_FOR_SRP") or parameters.get("USERNAME") or exchange.username
    )
    exchange.session = _session(answer, None)
    # A user challenge's parameters are for the user (a custom challenge's question, where a
    # code went, what to choose from); the session is never among them.
    exchange.parameters = {
        str(k): str(v) for k, v in parameters.items() if k not in _PRIVATE_PARAMETERS
    }
    available = answer.get("AvailableChallenges")
    if available is not None:
        # Choice-based sign-in lists the first factors beside the parameters; the caller
        # sees them as one, a JSON list as Cognito gives MFAS_CAN_CHOOSE.
        if not isinstance(available, list) or not all(isinstance(c, str) for c in available):
            raise InvalidParameterError("The service's AvailableChallenges is not a list of names")
        exchange.parameters["AVAILABLE_CHALLENGES"] = json.dumps(available)
    exchange.responses = {}
    return challenge


def _answer_with_user(
    challenge: Challenge, exchange: _Exchange, metadata: Mapping[str, str]
) -> Generator[Any, Any, Mapping[str, Any]]:
    """Prompt the caller, send the answer, and return the service's answer to it.

    A wrong answer (a code mismatch, a weak new password, the network) asks again with the
    error: the caller sees it raised and may answer the same challenge once more, in the same
    session, as Cognito allows. A challenge with options is first answered with the choice;
    a choice the challenge sends itself (SELECT_CHALLENGE's ``ANSWER``) goes with the
    option's answer, or alone for an option that asks nothing more; a password factor is
    answered with the password ``sign_in`` was given, unasked.
    """
    sent: dict[str, Any] = {}
    if challenge.options:
        choice_key = challenge.answer_key
        challenge = yield from _choose_option(challenge, exchange)
        if choice_key is not None:
            sent[choice_key] = challenge.chosen
    if challenge.before_prompt is not None:
        yield from STEPS[challenge.before_prompt](exchange, None)
    prompt = Prompt(
        challenge.name,
        dict(exchange.parameters),
        code_delivery=_code_delivery(exchange.parameters),
    )
    given = exchange.password if challenge.uses_password else None
    while True:
        if not challenge.asks:
            reply: Any = Answer("")
        elif given:
            # The password sign_in() was given answers once; after a refusal it is asked.
            reply, given = Answer(given), None
        else:
            reply = yield prompt
        if not isinstance(reply, Answer):
            raise InvalidParameterError("A challenge needs an answer")
        try:
            responses: dict[str, Any] = {"USERNAME": exchange.username, **sent}
            if challenge.before_answer is not None:
                extra = yield from STEPS[challenge.before_answer](exchange, reply)
                responses.update(extra or {})
            if challenge.answer_key is not None:
                responses[challenge.answer_key] = reply.response
            if challenge.attributes is not None:
                for name, value in (reply.user_attributes or {}).items():
                    responses[f"userAttributes.{name}"] = value
            exchange.with_secret(responses)
            exchange.responses = responses
            answered: Mapping[str, Any] = yield _respond(
                challenge,
                exchange,
                dict(reply.client_metadata or {}) or metadata,
                (reply.response,),
            )
            return answered
        except _RETRYABLE as exc:
            if not challenge.asks:
                raise
            prompt = attrs.evolve(prompt, error=exc)


def _choose_option(challenge: Challenge, exchange: _Exchange) -> Generator[Any, Any, Challenge]:
    """The option of ``challenge`` to answer (MFA_SETUP: what to set up), asked of the caller
    when the service offers several; the declaration that asks it next.

    Only the choices the service lists and the spec declares are offered; the ``choices``
    parameter then lists the one chosen, as Amplify does when it asks the same challenge again.
    """
    assert challenge.options is not None
    assert challenge.choices is not None
    key = challenge.choices
    listed = _json_list(exchange.parameters.get(key))
    if listed is None:
        # The service listed nothing to choose from: the first option declared.
        offered = [next(iter(challenge.options))]
    else:
        # Once each, in the service's order.
        offered = list(dict.fromkeys(c for c in listed if c in challenge.options))
    if not offered:
        raise ChallengeNotSupportedError(
            f"The service offers {challenge.name} with {', '.join(listed or ()) or 'nothing'}, "
            "none of which the sign-in spec declares",
            code=challenge.name,
        )
    chosen = offered[0]
    if len(offered) > 1:
        prompt = Prompt(challenge.name, {**exchange.parameters, key: json.dumps(offered)})
        while True:
            reply = yield prompt
            if not isinstance(reply, Answer):
                raise InvalidParameterError("A challenge needs an answer")
            picked = [c for c in offered if c.casefold() == reply.response.strip().casefold()]
            if picked:
                chosen = picked[0]
                break
            # The answer is not echoed: a code typed here by mistake must not reach a log.
            prompt = attrs.evolve(
                prompt,
                error=InvalidParameterError(
                    f"{challenge.name} is answered with one of {', '.join(offered)}"
                ),
            )
    exchange.parameters[key] = json.dumps([chosen])
    return challenge.option(chosen)


def _json_list(value: str | None) -> list[str] | None:
    """A challenge parameter that lists names (a JSON list of strings); None when absent."""
    if value is None:
        return None
    try:
        listed = json.loads(value)
    except ValueError:
        listed = None
    if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
        raise InvalidParameterError("The service's challenge parameters are malformed: a list")
    return listed


def _code_delivery(parameters: Mapping[str, str]) -> CodeDeliveryDetails | None:
    if "CODE_DELIVERY_DESTINATION" not in parameters:
        return None
    return CodeDeliveryDetails(
        destination=parameters.get("CODE_DELIVERY_DESTINATION"),
        delivery_medium=parameters.get("CODE_DELIVERY_DELIVERY_MEDIUM"),
    )
