"""Remembered devices: what a caller sees of a device (:class:`Device`) and what the session
keeps of this one (:class:`DeviceSecret`, private).

Cognito's device tracking gives a device a key and a group key when a sign-in answers
``NewDeviceMetadata``; the client confirms it with an SRP verifier of a random device password
(the password never leaves the process: only the verifier and salt are sent). Key, group key
and password are kept in the encrypted session record, one device per user, and survive
sign-out (a device is not a session). Their ``repr`` never shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["Device", "DeviceProvider", "DeviceSecret", "DeviceUpdate", "device_from_service"]


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Device:
    """A device the user pool tracks for the signed-in user (``list_devices``).

    ``key``: the device key (what ``forget_device`` takes); ``name``: the name it was
    confirmed with; ``remembered``: whether Cognito remembers it (``None`` when the service
    did not say); ``last_authenticated``: the last sign-in from it; ``attributes``: every
    device attribute Cognito answered (``device_status``, ``last_ip_used``...).
    """

    key: str
    name: str | None = None
    remembered: bool | None = None
    last_authenticated: datetime | None = None
    attributes: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)

    def __repr__(self) -> str:
        # The key identifies a device to the service; a repr that reaches a log shows its
        # name and status only.
        return (
            f"Device(name={self.name!r}, remembered={self.remembered!r}, "
            f"last_authenticated={self.last_authenticated!r})"
        )


@attrs.frozen(repr=False)
class DeviceSecret:
    """This device as the session keeps it, for one user: the key, group key and password
    that answer ``DEVICE_SRP_AUTH``, whether Cognito remembers it, and the name the user signed
    in with when it was confirmed (so that a sign-in by that alias finds it)."""

    key: str
    group_key: str
    password: str
    remembered: bool = False
    login: str | None = None

    def __repr__(self) -> str:
        return f"DeviceSecret(remembered={self.remembered!r})"


@attrs.frozen(repr=False)
class DeviceUpdate:
    """What a finished sign-in did to this device: ``device`` is the new one (confirmed during
    the sign-in), or ``None`` when the service refused the saved one (forgotten elsewhere) and
    tracking gave no new one."""

    device: DeviceSecret | None

    def __repr__(self) -> str:
        return f"DeviceUpdate(device={self.device!r})"


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def device_from_service(document: Mapping[str, Any]) -> Device:
    """A :class:`Device` from Cognito's ``DeviceType`` (ListDevices, GetDevice)."""
    raw = document.get("DeviceAttributes") or []
    attributes = {
        str(a["Name"]): str(a.get("Value", ""))
        for a in raw
        if isinstance(a, Mapping) and isinstance(a.get("Name"), str)
    }
    status = attributes.get("dev:device_remembered_status")
    return Device(
        key=str(document.get("DeviceKey", "")),
        name=attributes.get("device_name"),
        remembered=None if status is None else status == "remembered",
        last_authenticated=_timestamp(document.get("DeviceLastAuthenticatedDate")),
        attributes=attributes,
    )


@runtime_checkable
class DeviceProvider(Protocol):
    """What a user-pool provider adds to manage the user's devices (optional: the client's
    device calls raise ``ProviderError`` for a provider without these methods)."""

    def update_device_status(self, access_token: str, device_key: str, remembered: bool) -> None:
        """Remember the device (or stop remembering it)."""
        ...

    def forget_device(self, access_token: str, device_key: str) -> None:
        """Forget the device."""
        ...

    def list_devices(self, access_token: str, limit: int) -> list[Device]:
        """The user's devices, at most ``limit``."""
        ...
