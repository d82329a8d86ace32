"""The error documents the emulator answers with."""

from __future__ import annotations


class CognitoError(Exception):
    """A service error answered as ``{"__type": code, "message": message}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def not_authorized(message: str) -> CognitoError:
    """A NotAuthorizedException."""
    return CognitoError("NotAuthorizedException", message)
