"""The built-in ``userpool`` provider: Amazon Cognito user pools through boto3.

Sign-in uses USER_SRP_AUTH by default: the password never leaves the process; the SRP math is
pycognito's (``pycognito.aws_srp``), the challenge loop is the client's, driven by the
``sign_in`` spec. ``PASSWORD_VERIFIER`` is answered here, inside the provider, since it is part
of the SRP exchange and not something a user answers.

A client secret, when configured, is honoured in every call (``SECRET_HASH``) and always
computed for the user name the service knows the user by (``USER_ID_FOR_SRP`` / the token's
``username``), not the alias the user typed: pycognito's issue #196 is the bug not to repeat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fsm_auth.errors import ChallengeNotSupportedError, InvalidParameterError
from fsm_auth.provider import AuthStep, ProviderContext, RawTokens
from fsm_auth.values import CodeDeliveryDetails, ForgotPasswordResult, SignUpResult

if TYPE_CHECKING:
    from fsm_auth.config import UserPoolConfig

__all__ = ["UserPoolProvider", "secret_hash"]

_DEVICE_CHALLENGES = frozenset({"DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"})
_ANSWER_KEYS = {
    "SMS_MFA": "SMS_MFA_CODE",
    "SOFTWARE_TOKEN_MFA": "SOFTWARE_TOKEN_MFA_CODE",
    "NEW_PASSWORD_REQUIRED": "NEW_PASSWORD",
    "CUSTOM_CHALLENGE": "ANSWER",
    "SELECT_MFA_TYPE": "ANSWER",
}
# Challenge parameters that are safe to hand to the caller (never SRP values or sessions).
_PUBLIC_PARAMETERS = frozenset(
    {
        "USER_ID_FOR_SRP",
        "USERNAME",
        "MFAS_CAN_CHOOSE",
        "MFAS_CAN_SETUP",
        "CODE_DELIVERY_DELIVERY_MEDIUM",
        "CODE_DELIVERY_DESTINATION",
        "requiredAttributes",
        "userAttributes",
        "SECRET_CODE",
    }
)


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's SECRET_HASH: base64(HMAC-SHA256(secret, username + client id))."""
    digest = hmac.new(
        client_secret.encode("utf-8"), (username + client_id).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def _clean(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (mapping or {}).items() if v is not None}


def _attribute_list(attributes: Mapping[str, str] | None) -> list[dict[str, str]]:
    if attributes is None:
        return []
    if not isinstance(attributes, Mapping):
        raise InvalidParameterError("attributes must be a mapping of attribute name to value")
    return [{"Name": str(name), "Value": str(value)} for name, value in attributes.items()]


def _raw_tokens(result: Mapping[str, Any], refresh_token: str | None = None) -> RawTokens:
    return RawTokens(
        id_token=result["IdToken"],
        access_token=result["AccessToken"],
        refresh_token=result.get("RefreshToken") or refresh_token,
    )


class UserPoolProvider:
    """Cognito user pool operations for one app client."""

    name = "userpool"

    def __init__(self, context: ProviderContext) -> None:
        pool = context.config.user_pool
        if pool is None:
            from fsm_auth.errors import UserPoolNotConfiguredError

            raise UserPoolNotConfiguredError("The configuration has no Cognito user pool")
        self._pool: UserPoolConfig = pool
        self._idp = context.transport("cognito-idp", pool.region, pool.endpoint)

    def __repr__(self) -> str:
        return f"UserPoolProvider(pool_id={self._pool.pool_id!r})"

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _client_id(self) -> str:
        return self._pool.app_client_id

    def _with_secret(self, params: dict[str, Any], username: str, key: str = "SecretHash") -> None:
        if self._pool.app_client_secret:
            params[key] = secret_hash(username, self._client_id, self._pool.app_client_secret)

    def _call(self, operation: str, params: Mapping[str, Any], *secrets: str | None) -> Any:
        return self._idp.call(operation, _clean(params), self._pool.app_client_secret, *secrets)

    # -- sign-up ---------------------------------------------------------------------------

    def sign_up(
        self,
        username: str,
        password: str,
        *,
        attributes: Mapping[str, str] | None,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignUpResult:
        """Register a user; the answer says whether a confirmation code was sent."""
        params: dict[str, Any] = {
            "ClientId": self._client_id,
            "Username": username,
            "Password": password,
            "UserAttributes": _attribute_list(attributes),
            "ValidationData": _attribute_list(validation_data) or None,
            "ClientMetadata": dict(client_metadata) if client_metadata else None,
        }
        self._with_secret(params, username)
        answer = self._call("sign_up", params, password)
        return SignUpResult(
            confirmed=bool(answer.get("UserConfirmed")),
            user_sub=answer.get("UserSub"),
            code_delivery=CodeDeliveryDetails.from_service(answer.get("CodeDeliveryDetails")),
        )

    def confirm_sign_up(
        self, username: str, code: str, *, client_metadata: Mapping[str, str] | None
    ) -> SignUpResult:
        """Confirm a registration with the code the user received."""
        params: dict[str, Any] = {
            "ClientId": self._client_id,
            "Username": username,
            "ConfirmationCode": code,
            "ClientMetadata": dict(client_metadata) if client_metadata else None,
        }
        self._with_secret(params, username)
        self._call("confirm_sign_up", params, code)
        return SignUpResult(confirmed=True)

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        """Send the sign-up confirmation code again."""
        params: dict[str, Any] = {"ClientId": self._client_id, "Username": username}
        self._with_secret(params, username)
        answer = self._call("resend_confirmation_code", params)
        return CodeDeliveryDetails.from_service(
            answer.get("CodeDeliveryDetails")
        ) or CodeDeliveryDetails(None, None, None)

    # -- sign-in ---------------------------------------------------------------------------

    def start_sign_in(
        self,
        username: str,
        password: str | None,
        *,
        flow: str,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> AuthStep:
        """Begin a sign-in with ``flow``; the SRP exchange is completed here."""
        auth: dict[str, Any] = {"USERNAME": username}
        srp: Any = None
        if flow == "USER_SRP_AUTH":
            if not password:
                raise InvalidParameterError("A password is needed to sign in with USER_SRP_AUTH")
            srp = self._srp(username, password)
            auth = dict(srp.get_auth_params())
        elif flow == "USER_PASSWORD_AUTH":
            if not password:
                raise InvalidParameterError(
                    "A password is needed to sign in with USER_PASSWORD_AUTH"
                )
            auth["PASSWORD"] = password
            self._with_secret(auth, username, "SECRET_HASH")
        elif flow == "CUSTOM_AUTH":
            self._with_secret(auth, username, "SECRET_HASH")
        else:
            raise InvalidParameterError(
                f"Unsupported authenticationFlowType {flow!r}: use USER_SRP_AUTH, "
                "USER_PASSWORD_AUTH or CUSTOM_AUTH"
            )
        params: dict[str, Any] = {
            "AuthFlow": flow,
            "ClientId": self._client_id,
            "AuthParameters": auth,
            "ClientMetadata": dict(client_metadata) if client_metadata else None,
        }
        if validation_data:
            # Cognito passes validation data to the pre-authentication trigger as metadata.
            params["ClientMetadata"] = {**dict(validation_data), **(params["ClientMetadata"] or {})}
        answer = self._call("initiate_auth", params, password)
        step = self._step(answer, username)
        if step.challenge == "PASSWORD_VERIFIER" and srp is not None:
            response = srp.process_challenge(answer["ChallengeParameters"], auth)
            answer = self._call(
                "respond_to_auth_challenge",
                {
                    "ClientId": self._client_id,
                    "ChallengeName": "PASSWORD_VERIFIER",
                    "ChallengeResponses": response,
                    "Session": answer.get("Session"),
                    "ClientMetadata": params["ClientMetadata"],
                },
                password,
            )
            step = self._step(answer, response.get("USERNAME", step.username))
        return self._prepare(step)

    def _srp(self, username: str, password: str) -> Any:
        # pycognito imports boto3 at module level; keep that off `import fsm_auth`.
        from pycognito.aws_srp import AWSSRP

        return AWSSRP(
            username=username,
            password=password,
            pool_id=self._pool.pool_id,
            client_id=self._client_id,
            client=self._idp.client,
            client_secret=self._pool.app_client_secret,
        )

    def _step(self, answer: Mapping[str, Any], username: str) -> AuthStep:
        result = answer.get("AuthenticationResult")
        parameters = dict(answer.get("ChallengeParameters") or {})
        internal = parameters.get("USER_ID_FOR_SRP") or parameters.get("USERNAME") or username
        if result:
            return AuthStep(challenge=None, username=internal, tokens=_raw_tokens(result))
        challenge = answer.get("ChallengeName")
        if not challenge:
            raise InvalidParameterError("The service answered with neither tokens nor a challenge")
        if challenge in _DEVICE_CHALLENGES:
            raise ChallengeNotSupportedError(
                f"The service asked for the device-tracking challenge {challenge}, which "
                "fsm-auth does not answer; turn off device tracking for this app client",
                code=challenge,
            )
        delivery = None
        if "CODE_DELIVERY_DESTINATION" in parameters:
            delivery = CodeDeliveryDetails(
                destination=parameters.get("CODE_DELIVERY_DESTINATION"),
                delivery_medium=parameters.get("CODE_DELIVERY_DELIVERY_MEDIUM"),
            )
        return AuthStep(
            challenge=challenge,
            username=internal,
            session=answer.get("Session"),
            parameters={k: str(v) for k, v in parameters.items() if k in _PUBLIC_PARAMETERS},
            code_delivery=delivery,
        )

    def _prepare(self, step: AuthStep) -> AuthStep:
        """For MFA_SETUP, fetch the TOTP secret the user must enter in an authenticator."""
        if step.challenge != "MFA_SETUP" or "SECRET_CODE" in step.parameters:
            return step
        answer = self._call("associate_software_token", {"Session": step.session})
        return AuthStep(
            challenge=step.challenge,
            username=step.username,
            session=answer.get("Session") or step.session,
            parameters={**step.parameters, "SECRET_CODE": answer["SecretCode"]},
            code_delivery=step.code_delivery,
        )

    def answer_challenge(
        self,
        step: AuthStep,
        answer: str,
        *,
        user_attributes: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> AuthStep:
        """Answer the challenge of ``step`` and return the next step."""
        challenge = step.challenge or ""
        session = step.session
        responses: dict[str, Any] = {"USERNAME": step.username}
        if challenge == "MFA_SETUP":
            # The TOTP code proves the authenticator is set up; then the challenge is answered.
            verified = self._call(
                "verify_software_token",
                {"Session": session, "UserCode": answer, "FriendlyDeviceName": "fsm-auth"},
                answer,
            )
            session = verified.get("Session") or session
        elif challenge in _ANSWER_KEYS:
            responses[_ANSWER_KEYS[challenge]] = answer
        else:
            raise ChallengeNotSupportedError(
                f"fsm-auth cannot answer the challenge {challenge!r}", code=challenge or None
            )
        if challenge == "NEW_PASSWORD_REQUIRED":
            for name, value in (user_attributes or {}).items():
                responses[f"userAttributes.{name}"] = value
        self._with_secret(responses, step.username, "SECRET_HASH")
        result = self._call(
            "respond_to_auth_challenge",
            {
                "ClientId": self._client_id,
                "ChallengeName": challenge,
                "ChallengeResponses": responses,
                "Session": session,
                "ClientMetadata": dict(client_metadata) if client_metadata else None,
            },
            answer,
        )
        return self._prepare(self._step(result, step.username))

    def refresh(self, refresh_token: str, username: str) -> RawTokens:
        """New id and access tokens from the refresh token (the refresh token is kept)."""
        auth: dict[str, Any] = {"REFRESH_TOKEN": refresh_token}
        self._with_secret(auth, username, "SECRET_HASH")
        answer = self._call(
            "initiate_auth",
            {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": self._client_id, "AuthParameters": auth},
            refresh_token,
        )
        result = answer.get("AuthenticationResult")
        if not result:
            raise InvalidParameterError("The refresh answered without tokens")
        return _raw_tokens(result, refresh_token)

    # -- passwords and attributes ------------------------------------------------------------

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        """Ask the service to send a password-reset code."""
        params: dict[str, Any] = {"ClientId": self._client_id, "Username": username}
        self._with_secret(params, username)
        answer = self._call("forgot_password", params)
        return ForgotPasswordResult(
            code_delivery=CodeDeliveryDetails.from_service(answer.get("CodeDeliveryDetails"))
        )

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        """Set a new password with the reset code."""
        params: dict[str, Any] = {
            "ClientId": self._client_id,
            "Username": username,
            "ConfirmationCode": code,
            "Password": new_password,
        }
        self._with_secret(params, username)
        self._call("confirm_forgot_password", params, new_password, code)

    def change_password(self, access_token: str, current: str, proposed: str) -> None:
        """Change the signed-in user's password."""
        self._call(
            "change_password",
            {
                "AccessToken": access_token,
                "PreviousPassword": current,
                "ProposedPassword": proposed,
            },
            access_token,
            current,
            proposed,
        )

    def get_user_attributes(self, access_token: str) -> dict[str, str]:
        """The signed-in user's attributes."""
        answer = self._call("get_user", {"AccessToken": access_token}, access_token)
        return {a["Name"]: a.get("Value", "") for a in answer.get("UserAttributes", [])}

    def update_user_attributes(
        self, access_token: str, attributes: Mapping[str, str]
    ) -> list[CodeDeliveryDetails]:
        """Update attributes; a changed e-mail or phone number gets a verification code."""
        answer = self._call(
            "update_user_attributes",
            {"AccessToken": access_token, "UserAttributes": _attribute_list(attributes)},
            access_token,
        )
        details = [
            CodeDeliveryDetails.from_service(d) for d in answer.get("CodeDeliveryDetailsList", [])
        ]
        return [d for d in details if d is not None]

    def verify_user_attribute(self, access_token: str, name: str) -> CodeDeliveryDetails:
        """Send a verification code for attribute ``name``."""
        answer = self._call(
            "get_user_attribute_verification_code",
            {"AccessToken": access_token, "AttributeName": name},
            access_token,
        )
        return CodeDeliveryDetails.from_service(
            answer.get("CodeDeliveryDetails")
        ) or CodeDeliveryDetails(attribute_name=name)

    def confirm_verify_user_attribute(self, access_token: str, name: str, code: str) -> None:
        """Verify attribute ``name`` with its code."""
        self._call(
            "verify_user_attribute",
            {"AccessToken": access_token, "AttributeName": name, "Code": code},
            access_token,
            code,
        )

    def delete_user(self, access_token: str) -> None:
        """Delete the signed-in user."""
        self._call("delete_user", {"AccessToken": access_token}, access_token)

    def global_sign_out(self, access_token: str) -> None:
        """Revoke every session of the user, on every device."""
        self._call("global_sign_out", {"AccessToken": access_token}, access_token)

    def revoke_token(self, refresh_token: str) -> None:
        """Revoke this session's refresh token (and the tokens issued from it)."""
        params: dict[str, Any] = {"Token": refresh_token, "ClientId": self._client_id}
        if self._pool.app_client_secret:
            params["ClientSecret"] = self._pool.app_client_secret
        self._call("revoke_token", params, refresh_token)
