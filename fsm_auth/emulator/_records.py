"""What the emulator observed: codes it would have sent, requests it answered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

CodeKind = Literal[
    "sign_up",
    "forgot_password",
    "attribute",
    "sms_mfa",
    "email_mfa",
    "temporary_password",
    "custom_challenge",
    "email_otp",
    "sms_otp",
]


@attrs.frozen
class SentCode:
    """A code the real service would have sent by e-mail or SMS.

    ``code`` is the secret the user would have read; ``destination`` is the unmasked address
    (empty when the user has none); ``attribute`` is set for attribute verification codes.
    """

    username: str
    kind: CodeKind
    code: str = attrs.field(repr=False)
    destination: str
    attribute: str | None
    pool_id: str


@attrs.frozen
class RequestRecord:
    """One request the emulator answered (or refused through a fault).

    ``params`` is the request's JSON document for the Cognito services (empty for others), as
    the client sent it: tests read what was asked (``Logins``, ``CustomRoleArn``...). It may
    hold test users' secrets, so it stays out of the ``repr``.
    """

    service: str
    operation: str
    status: int
    params: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
