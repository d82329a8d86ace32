"""The user-pool side of the fidelity layer: operations moto lacks or gets wrong."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any

from . import _moto
from ._auth import AuthFlows
from ._codes import CodeBook, delivery_details
from ._devices import DeviceBook
from ._errors import CognitoError, not_authorized
from ._passwordless import allows_passwordless
from ._records import CodeKind
from ._rotation import RotationBook
from ._tokens import TokenState

Params = dict[str, Any]
_VERIFIABLE = ("email", "phone_number")


class UserPoolLayer:
    """Answers cognito-idp operations itself (``before``) or amends moto's answer (``after``)."""

    def __init__(self, tokens: TokenState, codes: CodeBook) -> None:
        self.tokens = tokens
        self.codes = codes
        self.auth = AuthFlows(tokens, codes)
        self.devices = DeviceBook(self.auth, tokens.access_user, tokens.clock)
        self.auth.devices = self.devices
        self.rotation = RotationBook(tokens)
        self._handlers: dict[str, Callable[[Params], dict[str, Any] | None]] = {
            "InitiateAuth": lambda params: self.devices.initiate_auth(
                self.auth.initiate_auth, params
            ),
            "AdminInitiateAuth": self.auth.admin_initiate_auth,
            "RespondToAuthChallenge": lambda params: self.devices.respond(
                self.auth.respond, params
            ),
            "AssociateSoftwareToken": self.auth.associate_software_token,
            "VerifySoftwareToken": self.auth.verify_software_token,
            "ConfirmSignUp": self.confirm_sign_up,
            "ResendConfirmationCode": self.resend_confirmation_code,
            "ForgotPassword": self.forgot_password,
            "ConfirmForgotPassword": self.confirm_forgot_password,
            "GetUserAttributeVerificationCode": self.get_user_attribute_verification_code,
            "VerifyUserAttribute": self.verify_user_attribute,
            "UpdateUserAttributes": self.update_user_attributes,
            "DeleteUser": self.delete_user,
            "RevokeToken": self.revoke_token,
            "GlobalSignOut": self.global_sign_out,
            "AdminUserGlobalSignOut": self.admin_user_global_sign_out,
            "AdminDeleteUser": self.admin_delete_user,
            "ChangePassword": self.change_password,
            "SignUp": self.sign_up,
            "AdminCreateUser": self.admin_create_user,
            **self.devices.handlers(),
            **self.auth.mfa.handlers(),
            **self.rotation.handlers(),
        }

    def before(self, operation: str, params: Params) -> dict[str, Any] | None:
        """The layer's own answer, or ``None`` to let moto answer (after access checks)."""
        self.tokens.patch_pools()
        # REFRESH_TOKEN_AUTH on a rotating app client is refused before anything else.
        self.rotation.refuse_refresh_flow(operation, params)
        handler = self._handlers.get(operation)
        if handler is not None:
            return handler(params)
        if "AccessToken" in params:
            # moto only checks that it knows the token: expiry and revocation are ours.
            self.tokens.access_user(params.get("AccessToken"))
        return None

    def after(self, operation: str, params: Params, answer: dict[str, Any]) -> dict[str, Any]:
        """Amend a successful moto answer."""
        if operation == "SignUp":
            return self._after_sign_up(params, answer)
        if operation == "AdminCreateUser":
            return self._after_admin_create_user(params, answer)
        if operation in self.auth.mfa.AMENDS:
            return self.auth.mfa.amend(operation, params, answer)
        return answer

    # ---- delivery ----
    def _deliver(
        self,
        pool: _moto.CognitoIdpUserPool,
        user: _moto.CognitoIdpUser,
        kind: CodeKind,
        attributes: tuple[str, ...],
        verified_only: bool = False,
    ) -> dict[str, str] | None:
        """Issue a code to the first usable attribute; its CodeDeliveryDetails (or None)."""
        for name in attributes:
            value = user.attribute_lookup.get(name)
            if not value:
                continue
            if verified_only and user.attribute_lookup.get(f"{name}_verified") != "true":
                continue
            self.codes.issue(pool.id, user.username, kind, value, None)
            return delivery_details(value, name)
        return None

    def _sign_up_targets(self, pool: _moto.CognitoIdpUserPool) -> tuple[str, ...]:
        auto = pool.extended_config.get("AutoVerifiedAttributes") or []
        return tuple(a for a in _VERIFIABLE if a in auto)

    def _after_sign_up(self, params: Params, answer: dict[str, Any]) -> dict[str, Any]:
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        session = self.auth.passwordless.sign_up_session(pool, client, user)
        if session is not None:
            # For ConfirmSignUp, whose own session then signs the user in (USER_AUTH).
            answer["Session"] = session
        answer.pop("CodeDeliveryDetails", None)
        details = self._deliver(pool, user, "sign_up", self._sign_up_targets(pool))
        if details is not None:
            answer["CodeDeliveryDetails"] = details
        else:
            # No address to send to: the code is still recorded (empty destination) so that a
            # local user can be confirmed without an administrator.
            self.codes.issue(pool.id, user.username, "sign_up", "")
        return answer

    def _after_admin_create_user(self, params: Params, answer: dict[str, Any]) -> dict[str, Any]:
        pool = _moto.pool_by_id(str(params.get("UserPoolId", "")))
        username = str(answer.get("User", {}).get("Username") or params.get("Username", ""))
        user = _moto.user_of(pool, username)
        password = params.get("TemporaryPassword") or _temporary_password()
        user.password = password
        self.auth.temp_password_issued[(pool.id, user.username)] = self.tokens.clock()
        if params.get("MessageAction") != "SUPPRESS":
            destination = user.attribute_lookup.get("email") or user.attribute_lookup.get(
                "phone_number", ""
            )
            self.codes.issue(
                pool.id, user.username, "temporary_password", destination, None, password
            )
        return answer

    # ---- sign-up ----
    def sign_up(self, params: Params) -> dict[str, Any] | None:
        """SignUp: moto creates the user; the SECRET_HASH is checked here (moto skips it).

        Without a password (omitted or empty) only in a pool with a passwordless first factor
        (EMAIL_OTP, SMS_OTP); the user is then created here, moto requiring a password.
        """
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        username = str(params.get("Username", ""))
        _moto.check_secret_hash(client, params.get("SecretHash"), username)
        kind = _moto.alias_format(pool, username)
        if kind is not None:
            raise CognitoError(
                "InvalidParameterException",
                f"Username cannot be of {kind} format, since user pool is configured for"
                f" {kind} alias.",
            )
        if username and pool._get_user(username) is not None:
            # moto answers with the bare user name; Cognito with these sentences.
            raise CognitoError("UsernameExistsException", _exists_message(pool, username))
        if params.get("Password"):
            return None
        if not allows_passwordless(pool):
            raise CognitoError("InvalidParameterException", "Missing required parameter Password")
        user = _moto.sign_up_without_password(
            client.id, username, list(params.get("UserAttributes") or [])
        )
        answer = {"UserConfirmed": False, "UserSub": user.id}
        return self._after_sign_up({**params, "Username": user.username}, answer)

    def admin_create_user(self, params: Params) -> None:
        """AdminCreateUser: Cognito's refusal of a taken user name; moto does the rest."""
        pool = _moto.pool_by_id(str(params.get("UserPoolId", "")))
        username = str(params.get("Username", ""))
        resend = params.get("MessageAction") == "RESEND"
        if username and not resend and pool._get_user(username) is not None:
            raise CognitoError("UsernameExistsException", "User account already exists")
        return None

    def change_password(self, params: Params) -> dict[str, Any]:
        """ChangePassword with the real refusal message for a wrong current password."""
        pool, _client_id, user = self.tokens.access_user(params.get("AccessToken"))
        if not secrets.compare_digest(
            str(user.password or ""), str(params.get("PreviousPassword") or "")
        ):
            raise not_authorized("Incorrect username or password.")
        proposed = str(params.get("ProposedPassword") or "")
        _moto.idp()._validate_password(pool.id, proposed)
        user.password = proposed
        return {}

    def confirm_sign_up(self, params: Params) -> dict[str, Any]:
        """ConfirmSignUp with the code that was sent (and SignUp's session, when given); the
        answer's session signs the user in once (USER_AUTH)."""
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        # The hash is for the name sent (e-mail or user name), so it is checked before lookup.
        _moto.check_secret_hash(client, params.get("SecretHash"), str(params.get("Username", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        if user.status != _moto.UserStatus.UNCONFIRMED:
            raise not_authorized(f"User cannot be confirmed. Current status is {_status(user)}")
        given = str(params.get("Session") or "") or None
        if given is not None:
            self.auth.passwordless.check_sign_up_session(client, user, given)
        self.codes.check(pool.id, user.username, "sign_up", str(params.get("ConfirmationCode", "")))
        user.status = _moto.UserStatus.CONFIRMED
        verified = [
            {"Name": f"{a}_verified", "Value": "true"}
            for a in self._sign_up_targets(pool)[:1]
            if user.attribute_lookup.get(a)
        ]
        if verified:
            user.update_attributes(verified)
        return self.auth.passwordless.confirmed(pool, client, user, given)

    def resend_confirmation_code(self, params: Params) -> dict[str, Any]:
        """ResendConfirmationCode: a new sign-up code replaces the old one."""
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        # The hash is for the name sent (e-mail or user name), so it is checked before lookup.
        _moto.check_secret_hash(client, params.get("SecretHash"), str(params.get("Username", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        if user.status != _moto.UserStatus.UNCONFIRMED:
            raise CognitoError("InvalidParameterException", "User is already confirmed.")
        details = self._deliver(pool, user, "sign_up", self._sign_up_targets(pool))
        if details is None:
            self.codes.issue(pool.id, user.username, "sign_up", "")
            return {}
        return {"CodeDeliveryDetails": details}

    # ---- forgotten password ----
    def forgot_password(self, params: Params) -> dict[str, Any]:
        """ForgotPassword: a 1-hour code to a verified e-mail or phone."""
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        # The hash is for the name sent (e-mail or user name), so it is checked before lookup.
        _moto.check_secret_hash(client, params.get("SecretHash"), str(params.get("Username", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        if not user.enabled:
            raise not_authorized("User is disabled.")
        details = self._deliver(
            pool, user, "forgot_password", ("email", "phone_number"), verified_only=True
        )
        if details is None:
            raise CognitoError(
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email"
                " or phone_number",
            )
        return {"CodeDeliveryDetails": details}

    def confirm_forgot_password(self, params: Params) -> dict[str, Any]:
        """ConfirmForgotPassword: the code, then the password policy."""
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        # The hash is for the name sent (e-mail or user name), so it is checked before lookup.
        _moto.check_secret_hash(client, params.get("SecretHash"), str(params.get("Username", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        password = str(params.get("Password", ""))
        _moto.idp()._validate_password(pool.id, password)
        self.codes.check(
            pool.id, user.username, "forgot_password", str(params.get("ConfirmationCode", ""))
        )
        user.password = password
        if user.status in (_moto.UserStatus.RESET_REQUIRED, _moto.UserStatus.FORCE_CHANGE_PASSWORD):
            user.status = _moto.UserStatus.CONFIRMED
        return {}

    # ---- attributes ----
    def get_user_attribute_verification_code(self, params: Params) -> dict[str, Any]:
        """GetUserAttributeVerificationCode for email or phone_number."""
        pool, _client_id, user = self.tokens.access_user(params.get("AccessToken"))
        name = str(params.get("AttributeName", ""))
        value = user.attribute_lookup.get(name)
        if name not in _VERIFIABLE or not value:
            raise CognitoError("InvalidParameterException", f"Cannot verify attribute {name}.")
        self.codes.issue(pool.id, user.username, "attribute", value, name)
        return {"CodeDeliveryDetails": delivery_details(value, name)}

    def verify_user_attribute(self, params: Params) -> dict[str, Any]:
        """VerifyUserAttribute: marks ``<name>_verified`` on the right code."""
        pool, _client_id, user = self.tokens.access_user(params.get("AccessToken"))
        name = str(params.get("AttributeName", ""))
        self.codes.check(pool.id, user.username, "attribute", str(params.get("Code", "")), name)
        user.update_attributes([{"Name": f"{name}_verified", "Value": "true"}])
        return {}

    def update_user_attributes(self, params: Params) -> dict[str, Any]:
        """UpdateUserAttributes; a changed e-mail/phone becomes unverified and gets a code."""
        pool, _client_id, user = self.tokens.access_user(params.get("AccessToken"))
        attributes = list(params.get("UserAttributes") or [])
        new = {str(a.get("Name")): str(a.get("Value", "")) for a in attributes}
        if "email" in new:
            _moto.idp()._verify_email_is_not_used(pool.id, new["email"])
        changed = [
            name
            for name in _VERIFIABLE
            if name in new and new[name] != user.attribute_lookup.get(name)
        ]
        for name in changed:
            if f"{name}_verified" not in new:
                attributes.append({"Name": f"{name}_verified", "Value": "false"})
        user.update_attributes(attributes)
        details = []
        for name in changed:
            self.codes.issue(pool.id, user.username, "attribute", new[name], name)
            details.append(delivery_details(new[name], name))
        return {"CodeDeliveryDetailsList": details} if details else {}

    # ---- sessions and users ----
    def delete_user(self, params: Params) -> dict[str, Any]:
        """DeleteUser by access token: the user, their tokens and codes go."""
        pool, _client_id, user = self.tokens.access_user(params.get("AccessToken"))
        self._forget(pool, user)
        return {}

    def admin_delete_user(self, params: Params) -> dict[str, Any] | None:
        """AdminDeleteUser: also revoke the user's tokens (moto keeps them usable)."""
        pool = _moto.pool_by_id(str(params.get("UserPoolId", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        self._forget(pool, user)
        return {}

    def _forget(self, pool: _moto.CognitoIdpUserPool, user: _moto.CognitoIdpUser) -> None:
        self.tokens.revoke_user(pool, user.username)
        self.codes.forget_user(pool.id, user.username)
        self.auth.totp.pop((pool.id, user.username), None)
        self.devices.forget_user(pool.id, user.username)
        _moto.idp().admin_delete_user(pool.id, user.username)

    def revoke_token(self, params: Params) -> dict[str, Any]:
        """RevokeToken: the refresh token and everything issued from it stop working."""
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        if client.generate_secret and not secrets.compare_digest(
            str(params.get("ClientSecret") or ""), client.secret
        ):
            raise not_authorized(f"Unable to verify secret for client {client.id}")
        token = str(params.get("Token", ""))
        entry = pool.refresh_tokens.get(token)
        if entry is not None and entry[0] != client.id:
            raise CognitoError("UnauthorizedException", "Token does not belong to this client.")
        self.tokens.revoke_refresh_token(pool, token)
        return {}

    def global_sign_out(self, params: Params) -> dict[str, Any]:
        """GlobalSignOut: every refresh token of the user is revoked."""
        pool, _client_id, user = self.tokens.access_user(params.get("AccessToken"))
        self.tokens.revoke_user(pool, user.username)
        return {}

    def admin_user_global_sign_out(self, params: Params) -> dict[str, Any]:
        """AdminUserGlobalSignOut: as GlobalSignOut, by username."""
        pool = _moto.pool_by_id(str(params.get("UserPoolId", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        self.tokens.revoke_user(pool, user.username)
        return {}


def _temporary_password() -> str:
    """A temporary password that satisfies the default password policy."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{core}Aa1!"


def _exists_message(pool: _moto.CognitoIdpUserPool, username: str) -> str:
    """What SignUp says about a taken name: the attribute, in a pool that signs in by one."""
    for attribute in pool.extended_config.get("UsernameAttributes") or ():
        if _moto.user_has(pool, attribute, username):
            return f"An account with the given {attribute} already exists."
    return "User already exists"


def _status(user: _moto.CognitoIdpUser) -> str:
    return str(getattr(user.status, "value", user.status))
