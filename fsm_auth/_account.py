"""The signed-in user's account settings behind ``AuthClient``'s MFA and device calls.

:class:`SignedInAccount` checks the arguments, finds the user-pool provider's optional
capability (:class:`~fsm_auth.provider.UserPoolMFAProvider`,
:class:`~fsm_auth._devices.DeviceProvider`; ``ProviderError`` naming the provider when it lacks
it), asks it with a fresh access token, and hands what changes this device to the session
machine, which owns the record. The client only delegates, so it stays a facade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from fsm_auth._devices import Device, DeviceProvider, DeviceSecret
from fsm_auth._mfa import MFAPreference, MFAPreferences, TOTPSetup
from fsm_auth.errors import (
    InvalidParameterError,
    NotSignedInError,
    ProviderError,
    ResourceNotFoundError,
    require_text,
)
from fsm_auth.provider import UserPoolMFAProvider, UserPoolProvider

if TYPE_CHECKING:
    from fsm_auth.session import SessionMachine

__all__ = ["SignedInAccount"]


class SignedInAccount:
    """MFA and remembered devices of the user ``session`` holds."""

    def __init__(
        self,
        session: SessionMachine,
        user_pool: Callable[[], UserPoolProvider],
        access_token: Callable[[], str],
    ) -> None:
        self._session = session
        self._user_pool = user_pool
        self._access_token = access_token

    # -- MFA -------------------------------------------------------------------------------

    def set_up_totp(self) -> TOTPSetup:
        """See ``AuthClient.set_up_totp``."""
        provider, token = self._mfa()
        return TOTPSetup(provider.associate_software_token(token), self._session.record.username)

    def verify_totp_setup(self, code: str, friendly_device_name: str | None) -> None:
        """See ``AuthClient.verify_totp_setup``."""
        require_text(code=code)
        if friendly_device_name is not None:
            require_text(friendly_device_name=friendly_device_name)
        provider, token = self._mfa()
        provider.verify_software_token(token, code, friendly_device_name=friendly_device_name)

    def update_mfa_preference(self, asked: dict[str, MFAPreference | str | None]) -> None:
        """See ``AuthClient.update_mfa_preference`` (``asked``: MFA name to preference)."""
        preferences = {
            name: MFAPreference.of(value, name.lower())
            for name, value in asked.items()
            if value is not None
        }
        if not preferences:
            raise InvalidParameterError("update_mfa_preference needs sms, totp or email")
        if sum(p is MFAPreference.PREFERRED for p in preferences.values()) > 1:
            raise InvalidParameterError("Only one MFA type can be PREFERRED")
        provider, token = self._mfa()
        provider.set_user_mfa_preference(token, preferences)

    def fetch_mfa_preference(self) -> MFAPreferences:
        """See ``AuthClient.fetch_mfa_preference``."""
        provider, token = self._mfa()
        return provider.get_user_mfa_preference(token)

    # -- devices ---------------------------------------------------------------------------

    def remember_device(self) -> None:
        """See ``AuthClient.remember_device``."""
        provider, token = self._devices()
        username, device = self._this_device()
        if device is None:
            raise InvalidParameterError(
                "The user pool tracks no device here for this user (device tracking is off, "
                "or the device could not be confirmed at sign-in)"
            )
        provider.update_device_status(token, device.key, True)
        self._session.change_device(username, attrs.evolve(device, remembered=True))

    def forget_device(self, device_key: str | None) -> None:
        """See ``AuthClient.forget_device``."""
        if device_key is not None:
            require_text(device_key=device_key)
        provider, token = self._devices()
        username, device = self._this_device()
        key = device_key if device_key is not None else (device.key if device else None)
        if key is None:
            return
        this_device = device is not None and key == device.key
        try:
            provider.forget_device(token, key)
        except ResourceNotFoundError:
            if not this_device:
                raise
            # Already forgotten at the pool (from another device): drop it here as well.
        if this_device:
            self._session.change_device(username, None)

    def list_devices(self, limit: int) -> list[Device]:
        """See ``AuthClient.list_devices``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidParameterError("limit must be a positive integer")
        provider, token = self._devices()
        return provider.list_devices(token, limit)

    # -- internals -------------------------------------------------------------------------

    def _mfa(self) -> tuple[UserPoolMFAProvider, str]:
        """The user-pool provider as an MFA manager, and a fresh access token."""
        provider = self._user_pool()
        if not isinstance(provider, UserPoolMFAProvider):
            raise _lacks(provider, "manage MFA")
        return provider, self._access_token()

    def _devices(self) -> tuple[DeviceProvider, str]:
        """The user-pool provider as a device manager, and a fresh access token."""
        provider = self._user_pool()
        if not isinstance(provider, DeviceProvider):
            raise _lacks(provider, "manage devices")
        return provider, self._access_token()

    def _this_device(self) -> tuple[str, DeviceSecret | None]:
        """The signed-in user's name and this device as they confirmed it (or None)."""
        record = self._session.record
        username = record.username
        if username is None:
            raise NotSignedInError("No user pool user is signed in")
        return username, record.device_of(username)


def _lacks(provider: object, what: str) -> ProviderError:
    return ProviderError(f"The user-pool provider {type(provider).__name__} does not {what}")
