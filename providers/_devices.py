"""Remembered devices in the Cognito sign-in flow (see ``_sign_in``): device SRP and the
confirmation of a new device, as steps of a flow without I/O.

- ``device_srp_auth`` / ``device_password_verifier``: the provider's answers to
  ``DEVICE_SRP_AUTH`` and ``DEVICE_PASSWORD_VERIFIER`` (declared in the sign-in spec), computed
  with pycognito's device-SRP helpers from the key, group key and password the session keeps:
  a remembered device proves itself instead of asking the user for MFA, where the pool says so.
- :func:`with_device`: wraps a sign-in flow. A sign-in that ends with ``NewDeviceMetadata``
  confirms the device (``ConfirmDevice`` with the SRP verifier and salt of a random device
  password made by pycognito's ``generate_hash_device``: the password never leaves the
  process); the flow's result then carries the new device for the session record. A saved
  device the service no longer knows (``ResourceNotFoundException`` "Device does not exist.",
  forgotten from another device or by an administrator) is dropped and the sign-in started
  again as a new device, so it never fails for it.

Nothing here logs, or puts in an error, a device key, group key or password.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from fsm_auth._arithmetic import compute
from fsm_auth._devices import DeviceSecret, DeviceUpdate
from fsm_auth.errors import AuthError, InvalidParameterError, ResourceNotFoundError
from fsm_auth.signin import Answer, Prompt, ServiceCall, SignedIn, SignInFlow

if TYPE_CHECKING:
    from fsm_auth.config import UserPoolConfig
    from fsm_auth.signin import SignInRequest

__all__ = ["device_password_verifier", "device_srp_auth", "with_device"]

_log = logging.getLogger("fsm_auth.sign_in")

# pycognito's AWSSRP builds a boto3 client unless it is given one; nothing calls it.
_NO_CLIENT = object()
_SIGN_IN_CALLS = frozenset({"initiate_auth", "respond_to_auth_challenge"})


def _device_srp(pool: UserPoolConfig, username: str, device: DeviceSecret) -> Any:
    # Imported here: pycognito imports boto3 at module level.
    from pycognito.aws_srp import AWSSRP

    return AWSSRP(
        username=username,
        password=None,
        pool_id=pool.pool_id,
        client_id=pool.app_client_id,
        client=_NO_CLIENT,
        client_secret=pool.app_client_secret,
        device_key=device.key,
        device_group_key=device.group_key,
        device_password=device.password,
    )


def device_srp_auth(exchange: Any, _answer: Answer | None) -> Generator[ServiceCall, Any, None]:
    """DEVICE_SRP_AUTH: the device's SRP_A (a fresh one: never the password round's)."""
    device = exchange.device
    if not isinstance(device, DeviceSecret):
        raise InvalidParameterError(
            "The service asked for device authentication, but this client remembers no device"
        )
    from pycognito.aws_srp import long_to_hex

    # Its modular power (SRP_A) where the client computes long arithmetic (off the loop).
    exchange.device_srp = compute(_device_srp, exchange.pool, exchange.username, device)
    responses = {
        "USERNAME": exchange.username,
        "DEVICE_KEY": device.key,
        "SRP_A": long_to_hex(exchange.device_srp.large_a_value),
    }
    exchange.with_secret(responses)
    exchange.responses = responses
    return
    yield  # a generator with no request of its own


def device_password_verifier(
    exchange: Any, _answer: Answer | None
) -> Generator[ServiceCall, Any, None]:
    """DEVICE_PASSWORD_VERIFIER: the device's proof, from the password kept in the session."""
    if exchange.device_srp is None:
        raise InvalidParameterError("DEVICE_PASSWORD_VERIFIER came without DEVICE_SRP_AUTH")
    from pycognito.aws_srp import N_HEX

    parameters = dict(exchange.raw_parameters)
    try:
        # SRP-6a (RFC 5054 2.5.4): a server value B that is 0 mod N would fix the session key.
        if int(str(parameters["SRP_B"]), 16) % int(N_HEX, 16) == 0:
            raise ValueError("SRP_B is 0 mod N")
        parameters.setdefault("USERNAME", exchange.username)
        responses = compute(exchange.device_srp.process_device_challenge, parameters)
    except (KeyError, TypeError, ValueError):
        raise InvalidParameterError("The service's device SRP challenge is malformed") from None
    exchange.responses = dict(responses)
    return
    yield  # a generator with no request of its own


def _is_device_refusal(error: AuthError) -> bool:
    """The service does not know the device key sent (forgotten, or another pool's)."""
    return isinstance(error, ResourceNotFoundError) and "device" in str(error).lower()


def _new_device_metadata(answer: Any) -> tuple[str, str] | None:
    result = answer.get("AuthenticationResult") if isinstance(answer, Mapping) else None
    metadata = result.get("NewDeviceMetadata") if isinstance(result, Mapping) else None
    if not isinstance(metadata, Mapping):
        return None
    key, group = metadata.get("DeviceKey"), metadata.get("DeviceGroupKey")
    if not (isinstance(key, str) and key and isinstance(group, str) and group):
        raise InvalidParameterError("The service's NewDeviceMetadata is malformed")
    return key, group


def with_device(
    pool: UserPoolConfig,
    request: SignInRequest,
    sign_in: Callable[[UserPoolConfig, SignInRequest], SignInFlow],
) -> SignInFlow:
    """``sign_in(pool, request)`` with this device: recovered when the service refuses the
    saved one, confirmed when the service answers a new one (see the module docstring)."""
    update: DeviceUpdate | None = None
    while True:
        try:
            signed_in, metadata = yield from _delegate(sign_in(pool, request))
            break
        except _DeviceRefused:
            _log.info(
                "The user pool no longer knows this device (forgotten elsewhere); signing in "
                "again as a new device"
            )
            request = attrs.evolve(request, device=None)
            update = DeviceUpdate(None)
    if metadata is not None:
        confirmed = yield from _confirm(signed_in, metadata, request.username)
        if confirmed is not None:
            update = DeviceUpdate(confirmed)
    return signed_in if update is None else attrs.evolve(signed_in, device=update)


class _DeviceRefused(Exception):
    """The saved device was refused before the caller was asked anything: start again."""


def _delegate(flow: SignInFlow) -> Generator[Any, Any, tuple[SignedIn, tuple[str, str] | None]]:
    """``yield from flow``, watching its answers for ``NewDeviceMetadata`` and its errors for
    the refusal of the saved device (before any prompt: after one, the caller's answers
    would be lost, so the error stands)."""
    send: Any = None
    error: AuthError | None = None
    prompted = False
    metadata: tuple[str, str] | None = None
    try:
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(send)
            except StopIteration as done:
                return done.value, metadata
            except AuthError as exc:
                if not prompted and _is_device_refusal(exc):
                    raise _DeviceRefused from None
                raise
            send, error = None, None
            prompted = prompted or isinstance(step, Prompt)
            try:
                send = yield step
            except AuthError as exc:
                error = exc
                continue
            if isinstance(step, ServiceCall) and step.operation in _SIGN_IN_CALLS:
                metadata = _new_device_metadata(send) or metadata
    finally:
        flow.close()


def _confirm(
    signed_in: SignedIn, metadata: tuple[str, str], login: str
) -> Generator[ServiceCall, Any, DeviceSecret | None]:
    """ConfirmDevice for the new device; the device to keep, or None when the service did not
    take it (the sign-in stands: the next one is again a new device)."""
    from pycognito.aws_srp import generate_hash_device

    key, group = metadata
    password, verifier = compute(generate_hash_device, group, key)
    access_token = signed_in.tokens.access_token
    try:
        answer = yield ServiceCall(
            "confirm_device",
            {
                "AccessToken": access_token,
                "DeviceKey": key,
                "DeviceSecretVerifierConfig": verifier,
                "DeviceName": platform.node() or "fsm-auth",
            },
            (access_token, key, group, password),
        )
    except AuthError as exc:
        _log.warning("Could not confirm this device with the user pool (%s)", exc.code)
        return None
    necessary = answer.get("UserConfirmationNecessary") if isinstance(answer, Mapping) else None
    # Remembered at once unless the pool remembers devices on the user's say-so only
    # (remember_device() then asks for it).
    return DeviceSecret(
        key=key, group_key=group, password=password, remembered=necessary is not True, login=login
    )
