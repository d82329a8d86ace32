"""The user-pool account operations of :class:`~fsm_auth.client.AuthClient`: sign-up,
passwords, attributes, MFA and remembered devices.

A mixin of the facade, in a module of its own so that ``client.py`` keeps the client's life,
sign-in and sign-out, tokens and credentials. Each operation checks its arguments and
delegates: to the sign-in machine (sign-up, whose auto sign-in it drives), to the user-pool
provider with a fresh access token, or to :class:`~fsm_auth._account.SignedInAccount` (MFA and
devices). It holds no state and takes no decision of the session's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fsm_auth.errors import InvalidParameterError, optional_password, require_text
from fsm_auth.values import CodeDeliveryDetails, ForgotPasswordResult, SignUpResult

if TYPE_CHECKING:
    from fsm_auth._account import SignedInAccount
    from fsm_auth._devices import Device
    from fsm_auth._mfa import MFAPreference, MFAPreferences, TOTPSetup
    from fsm_auth.provider import UserPoolProvider
    from fsm_auth.session import SessionMachine
    from fsm_auth.signin._driver import SignInDriver

__all__ = ["UserPoolOperations"]


class UserPoolOperations:
    """Sign-up, passwords, attributes, MFA and devices, for :class:`AuthClient`."""

    if TYPE_CHECKING:  # what the client provides
        _session: SessionMachine

        def _user_pool(self) -> UserPoolProvider: ...
        def _sign_in(self) -> SignInDriver: ...
        def _access_token(self) -> str: ...

    def sign_up(
        self,
        username: str,
        password: str | None = None,
        *,
        attributes: Mapping[str, str] | None = None,
        validation_data: Mapping[str, str] | None = None,
        client_metadata: Mapping[str, str] | None = None,
        auto_sign_in: bool = False,
    ) -> SignUpResult:
        """Register a new user (without a password where the pool allows passwordless
        sign-in); ``.confirmed`` is False until :meth:`confirm_sign_up`, which also signs the
        user in when ``auto_sign_in`` (with the session Cognito returns: USER_AUTH)."""
        require_text(username=username)
        return self._sign_in().sign_up(
            username,
            optional_password(password),
            attributes=attributes,
            validation_data=validation_data,
            client_metadata=client_metadata,
            auto_sign_in=auto_sign_in,
        )

    def confirm_sign_up(
        self, username: str, code: str, *, client_metadata: Mapping[str, str] | None = None
    ) -> SignUpResult:
        """Confirm a registration with the code sent to the user; after
        ``sign_up(auto_sign_in=True)`` this signs the user in too (``.signed_in``)."""
        require_text(username=username, code=code)
        return self._sign_in().confirm_sign_up(username, code, client_metadata=client_metadata)

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        """Send the confirmation code again."""
        require_text(username=username)
        return self._user_pool().resend_sign_up_code(username)

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        """Send the user a code to reset the password."""
        require_text(username=username)
        return self._user_pool().forgot_password(username)

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        """Set a new password with the code from :meth:`forgot_password`."""
        require_text(username=username, new_password=new_password, code=code)
        self._user_pool().confirm_forgot_password(username, new_password, code)

    def change_password(self, current_password: str, proposed_password: str) -> None:
        """Change the signed-in user's password."""
        require_text(current_password=current_password, proposed_password=proposed_password)
        access_token = self._access_token()
        self._user_pool().change_password(access_token, current_password, proposed_password)

    def get_user_attributes(self) -> dict[str, str]:
        """The signed-in user's attributes."""
        return self._user_pool().get_user_attributes(self._access_token())

    def update_user_attributes(self, attributes: Mapping[str, str]) -> list[CodeDeliveryDetails]:
        """Update attributes; returns where verification codes were sent."""
        if not isinstance(attributes, Mapping) or not attributes:
            raise InvalidParameterError("attributes must be a non-empty mapping of name to value")
        return self._user_pool().update_user_attributes(self._access_token(), attributes)

    def verify_user_attribute(self, name: str) -> CodeDeliveryDetails:
        """Send a verification code for attribute ``name`` (``email``, ``phone_number``)."""
        require_text(name=name)
        return self._user_pool().verify_user_attribute(self._access_token(), name)

    def confirm_verify_user_attribute(self, name: str, code: str) -> None:
        """Verify attribute ``name`` with the code the user received."""
        require_text(name=name, code=code)
        self._user_pool().confirm_verify_user_attribute(self._access_token(), name, code)

    def delete_user(self) -> None:
        """Delete the signed-in user from the pool, then end the local session."""
        self._user_pool().delete_user(self._access_token())
        self._session.sign_out()

    # -- MFA and remembered devices (fsm_auth._account) ------------------------------------

    def set_up_totp(self) -> TOTPSetup:
        """Start setting up an authenticator app (TOTP) for the signed-in user: the secret to
        enter in it (``.uri(issuer)`` for a QR code); active once :meth:`verify_totp_setup`."""
        return self._account().set_up_totp()

    def verify_totp_setup(self, code: str, *, friendly_device_name: str | None = None) -> None:
        """Finish the TOTP set-up with a code the authenticator shows (a wrong one raises
        :class:`CodeMismatchError`); :meth:`update_mfa_preference` then turns it on."""
        self._account().verify_totp_setup(code, friendly_device_name)

    def update_mfa_preference(
        self,
        *,
        sms: MFAPreference | str | None = None,
        totp: MFAPreference | str | None = None,
        email: MFAPreference | str | None = None,
    ) -> None:
        """Turn the signed-in user's MFA types on or off and choose the preferred one (an
        :class:`MFAPreference` each; ``None`` leaves a type as it is)."""
        self._account().update_mfa_preference({"SMS": sms, "TOTP": totp, "EMAIL": email})

    def fetch_mfa_preference(self) -> MFAPreferences:
        """The signed-in user's MFA types that are on, and the preferred one."""
        return self._account().fetch_mfa_preference()

    def remember_device(self) -> None:
        """Have the user pool remember this device for the signed-in user (pools that remember
        devices on the user's say-so); it then signs in without MFA where the pool says so."""
        self._account().remember_device()

    def forget_device(self, device_key: str | None = None) -> None:
        """Forget this device (default; also dropped here) or another by its
        :attr:`Device.key`, at the user pool."""
        self._account().forget_device(device_key)

    def list_devices(self, *, limit: int = 60) -> list[Device]:
        """The devices the user pool tracks for the signed-in user (at most ``limit``)."""
        return self._account().list_devices(limit)

    def _account(self) -> SignedInAccount:
        from fsm_auth._account import SignedInAccount

        return SignedInAccount(self._session, self._user_pool, self._access_token)
