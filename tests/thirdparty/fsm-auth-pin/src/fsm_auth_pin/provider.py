"""The ``userpool-pin`` provider: Cognito's sign-in, then a PIN.

It wraps fsm-auth's built-in ``userpool`` provider (built from the plugin registry by name)
and delegates everything to it but the sign-in. Its flow runs Cognito's flow to the end, reads
the user's PIN hash from the attribute :data:`PIN_ATTRIBUTE` (``GetUser``, run by the wrapped
provider's ``perform``) and asks the caller for the ``PIN`` challenge, which its own sign-in
spec declares; a wrong PIN asks again with ``CodeMismatchError``, the right one ends the
sign-in. The tokens Cognito issued are handed over only then.

The PIN is set at sign-up: ``attributes={PIN_ATTRIBUTE: hash_pin("2468")}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fsm_auth.errors import CodeMismatchError, InvalidParameterError, NotAuthorizedError
from fsm_auth.plugins import default_registry
from fsm_auth.provider import ProviderContext, RawTokens, SignUpAnswer, UserPoolProvider
from fsm_auth.signin import Answer, Prompt, ServiceCall, SignInFlow, SignInRequest
from fsm_auth.values import CodeDeliveryDetails, ForgotPasswordResult, Tokens

from ._pin import PinFormatError, is_pin_hash, pin_matches

__all__ = ["MAX_ATTEMPTS", "PIN_ATTRIBUTE", "PIN_CHALLENGE", "SPEC_PATH", "PinProvider"]

PIN_ATTRIBUTE = "nickname"
"""The standard Cognito attribute that holds the user's PIN hash."""

PIN_CHALLENGE = "PIN"
"""The challenge this provider adds (declared in :data:`SPEC_PATH`)."""

MAX_ATTEMPTS = 5
"""Wrong PINs allowed in one sign-in; one more ends it with ``NotAuthorizedError``."""

SPEC_PATH = Path(__file__).resolve().with_name("sign_in_pin.yaml")
"""This provider's sign-in spec: fsm-auth's ``sign_in`` plus the ``PIN`` challenge."""

WRAPPED = "userpool"
"""The provider this one wraps, by its entry-point name."""


def _check_pin_attribute(attributes: Mapping[str, str] | None) -> None:
    if attributes and PIN_ATTRIBUTE in attributes and not is_pin_hash(attributes[PIN_ATTRIBUTE]):
        # Never a PIN in clear in the user pool (nor in this message).
        raise InvalidParameterError(
            f"The {PIN_ATTRIBUTE} attribute must hold fsm_auth_pin.hash_pin(pin), not the PIN"
        )


def _attribute(user: Mapping[str, Any], name: str) -> str | None:
    for attribute in user.get("UserAttributes") or ():
        if isinstance(attribute, Mapping) and attribute.get("Name") == name:
            value = attribute.get("Value")
            return value if isinstance(value, str) else None
    return None


class PinProvider:
    """A ``user_pool`` provider: the built-in Cognito one, with a PIN after the password."""

    name = "userpool-pin"
    sign_in_spec = str(SPEC_PATH)

    def __init__(self, context: ProviderContext) -> None:
        # The registry the client found this provider in (the default one otherwise).
        registry = context.plugins or default_registry()
        self._inner: UserPoolProvider = registry.build("user_pool", WRAPPED, context)

    def __repr__(self) -> str:
        return f"PinProvider({self._inner!r})"

    @property
    def flow_steps(self) -> frozenset[str]:
        """The wrapped provider's steps (the PIN needs none of its own)."""
        return frozenset(getattr(self._inner, "flow_steps", ()))

    @property
    def sign_in_flows(self) -> frozenset[str]:
        """The wrapped provider's flows (the PIN follows any of them)."""
        return frozenset(getattr(self._inner, "sign_in_flows", ()))

    # -- sign-in -----------------------------------------------------------------------------

    def sign_in(self, request: SignInRequest) -> SignInFlow:
        """Cognito's sign-in, then the ``PIN`` challenge."""
        return self._sign_in(request)

    def _sign_in(self, request: SignInRequest) -> SignInFlow:
        signed_in = yield from self._inner.sign_in(request)
        access_token = signed_in.tokens.access_token
        user = yield ServiceCall("get_user", {"AccessToken": access_token}, (access_token,))
        stored = _attribute(user, PIN_ATTRIBUTE)
        if not stored:
            raise NotAuthorizedError(
                f"This user has no PIN (the {PIN_ATTRIBUTE} attribute is not set)",
                code="NotAuthorizedException",
            )
        prompt = Prompt(PIN_CHALLENGE)
        for _attempt in range(MAX_ATTEMPTS):
            reply = yield prompt
            if not isinstance(reply, Answer):
                raise InvalidParameterError("The PIN challenge needs an answer")
            try:
                if pin_matches(reply.response, stored):
                    return signed_in
            except PinFormatError:
                raise NotAuthorizedError(
                    f"This user's {PIN_ATTRIBUTE} attribute holds no PIN hash",
                    code="NotAuthorizedException",
                ) from None
            prompt = Prompt(PIN_CHALLENGE, error=CodeMismatchError("Wrong PIN"))
        raise NotAuthorizedError("Too many wrong PINs", code="NotAuthorizedException")

    def perform(self, call: ServiceCall) -> Mapping[str, Any]:
        """Run one request of the flow with the wrapped provider (which knows the pool)."""
        return self._inner.perform(call)

    # -- everything else: the wrapped provider's ------------------------------------------------

    def sign_up(
        self,
        username: str,
        password: str | None,
        *,
        attributes: Mapping[str, str] | None,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignUpAnswer:
        """Register a user; a PIN, if given, must be a :func:`hash_pin` value."""
        _check_pin_attribute(attributes)
        return self._inner.sign_up(
            username,
            password,
            attributes=attributes,
            validation_data=validation_data,
            client_metadata=client_metadata,
        )

    def confirm_sign_up(
        self,
        username: str,
        code: str,
        *,
        client_metadata: Mapping[str, str] | None,
        session: str | None = None,
    ) -> SignUpAnswer:
        return self._inner.confirm_sign_up(
            username, code, client_metadata=client_metadata, session=session
        )

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        return self._inner.resend_sign_up_code(username)

    def verify(
        self,
        raw: RawTokens,
        *,
        keys: Mapping[str, Any] | None = None,
        check_expiry: bool = True,
    ) -> Tokens:
        return self._inner.verify(raw, keys=keys, check_expiry=check_expiry)

    def keys(self) -> Mapping[str, Any] | None:
        return self._inner.keys()

    def refresh(self, tokens: Tokens) -> RawTokens:
        return self._inner.refresh(tokens)

    def logins(self, tokens: Tokens) -> Mapping[str, str]:
        return self._inner.logins(tokens)

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        return self._inner.forgot_password(username)

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        self._inner.confirm_forgot_password(username, new_password, code)

    def change_password(self, access_token: str, current: str, proposed: str) -> None:
        self._inner.change_password(access_token, current, proposed)

    def get_user_attributes(self, access_token: str) -> dict[str, str]:
        return self._inner.get_user_attributes(access_token)

    def update_user_attributes(
        self, access_token: str, attributes: Mapping[str, str]
    ) -> list[CodeDeliveryDetails]:
        """Update attributes; a new PIN must be a :func:`hash_pin` value."""
        _check_pin_attribute(attributes)
        return self._inner.update_user_attributes(access_token, attributes)

    def verify_user_attribute(self, access_token: str, name: str) -> CodeDeliveryDetails:
        return self._inner.verify_user_attribute(access_token, name)

    def confirm_verify_user_attribute(self, access_token: str, name: str, code: str) -> None:
        self._inner.confirm_verify_user_attribute(access_token, name, code)

    def delete_user(self, access_token: str) -> None:
        self._inner.delete_user(access_token)

    def global_sign_out(self, access_token: str) -> None:
        self._inner.global_sign_out(access_token)

    def revoke_token(self, refresh_token: str) -> None:
        self._inner.revoke_token(refresh_token)
