"""``TerminalSignIn``: the drop-in sign-in in a terminal, what ``AuthClient.show_sign_in()``
runs without hosted-UI options.

A menu offers sign in (Enter chooses it), sign up and forgot password. The sign-in form asks
the password as the configured flow's declaration says (``password``): always (``required``:
USER_SRP_AUTH, USER_PASSWORD_AUTH, CUSTOM_WITH_SRP), never (``none``: CUSTOM_AUTH), or with the
hint that it may be left empty to choose another way to sign in (``optional``: USER_AUTH, whose
SELECT_CHALLENGE lists the first factors: the password, asked next when none was typed, or a
code sent by e-mail or SMS). With ``optional`` the sign-up form takes an empty password too:
the user is registered without one, to sign in with codes (where the pool allows it; the
service's refusal is said like any other).

Each challenge the sign-in reaches is asked from its declaration in the sign-in spec
(``_challenge_form``), so a challenge added to a spec later needs nothing here. What goes wrong
is said in one line and the step asked again: a wrong code asks the code again, a weak password
the password, a wrong password (at sign-in, or as the answer to a challenge its declaration says
``uses_password``) the user name and password; a user not confirmed yet is led through
confirmation (the sign-up code, or a new one) and signed in with the password already typed. An
answer the service no longer takes because its challenge session ended (expired, or ended by
the service after a refused answer) starts the sign-in again with that password, and the same
question asked again is answered with what the user typed, unless a new code was sent
meanwhile.

Ctrl-C or end of input at any point raises :class:`SignInCancelledError` and changes nothing
(a challenge may stay pending in the sign-in machine; the next sign-in abandons it). Without an
interactive terminal it is raised at once, before anything is written. Passwords and every
answer a challenge declares ``secret`` are read without echo; nothing the user typed is
printed back or put in an error's text; the one secret shown is the TOTP key of an
authenticator set-up, which the user must copy.

Why the standard library (input lines, ``termios`` for no echo as :func:`getpass.getpass`
does it) and not prompt_toolkit or questionary: the UI asks a handful of lines, and the
terminal's own line mode already gives what they need (typing, erasing, Enter, Ctrl-C,
Ctrl-D), so it works the same in any pty, over SSH, in a dumb terminal and under pexpect,
exchanging nothing but lines and one terminal flag. prompt_toolkit (3.0.53) takes the screen
over instead: it asks the terminal for the cursor position and, under pexpect, which does not
answer, warns that the terminal "doesn't support cursor position requests (CPR)" and draws
``Username:`` with cursor-movement escapes, so a test must emulate a terminal to read its
prompts; importing it costs 120-170 ms (questionary, built on it for menus that are three
numbered lines here, as much) against under 1 ms for getpass and termios, and either would be
a runtime dependency. This module is imported only by ``show_sign_in()``:
nothing of it loads with ``import fsm_auth``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, Protocol, TextIO

import attrs

from fsm_auth.errors import (
    ChallengeNotSupportedError,
    CodeMismatchError,
    ExpiredCodeError,
    IllegalTransitionError,
    InvalidParameterError,
    InvalidPasswordError,
    NetworkError,
    NotAuthorizedError,
    PasswordResetRequiredError,
    ServiceError,
    SignInCancelledError,
    UserNotConfirmedError,
)
from fsm_auth.values import SignInState

from ._challenge_form import Reply, ask_challenge
from ._console import Console
from ._text import delivery_line, error_line, printable
from ._totp import DEFAULT_ISSUER

if TYPE_CHECKING:
    from fsm_auth.errors import AuthError
    from fsm_auth.signin import ChallengeTable
    from fsm_auth.values import (
        CodeDeliveryDetails,
        ForgotPasswordResult,
        SignInResult,
        SignUpResult,
    )

__all__ = ["PasswordRule", "SignInClient", "TerminalSignIn"]

PasswordRule = Literal["required", "optional", "none"]
"""What a sign-in flow does with a password (its ``x-flows`` declaration's ``password``)."""


class SignInClient(Protocol):
    """What the terminal UI asks of a client: :class:`~fsm_auth.AuthClient` is one."""

    def sign_in(self, username: str, password: str | None = None) -> SignInResult:
        """Start a sign-in."""
        ...

    def confirm_sign_in(
        self, challenge_response: str, *, user_attributes: Mapping[str, str] | None = None
    ) -> SignInResult:
        """Answer the pending challenge."""
        ...

    def sign_up(
        self, username: str, password: str | None, *, attributes: Mapping[str, str] | None = None
    ) -> SignUpResult:
        """Register a user (without a password: a passwordless one)."""
        ...

    def confirm_sign_up(self, username: str, code: str) -> SignUpResult:
        """Confirm a registration."""
        ...

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        """Send the confirmation code again."""
        ...

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        """Send a code to reset the password."""
        ...

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        """Set a new password with that code."""
        ...


class TerminalSignIn:
    """The drop-in sign-in UI, in a terminal: ``TerminalSignIn(client, challenges).run()``.

    ``challenges`` are the sign-in spec's declarations (``SignInDriver.challenges``): what
    each challenge asks. ``password`` is what the client's sign-in flow does with a password,
    as the spec declares it (``SignInDriver.flows[flow].password``): ``"required"`` asks it,
    ``"none"`` does not (a flow that refuses one: CUSTOM_AUTH), ``"optional"`` asks it saying
    it may be left empty to choose another way to sign in (USER_AUTH), and lets a sign-up
    leave it empty (a passwordless user); an empty answer signs in without a password. It is
    the default, for a flow the UI knows nothing of. ``input_stream`` / ``output_stream``
    default to standard input and output; the input must be a terminal. ``totp_issuer`` is
    the name an authenticator app lists a new TOTP key under.
    """

    def __init__(
        self,
        client: SignInClient,
        challenges: ChallengeTable,
        *,
        input_stream: TextIO | None = None,
        output_stream: TextIO | None = None,
        totp_issuer: str = DEFAULT_ISSUER,
        password: PasswordRule = "optional",
    ) -> None:
        if password not in _PASSWORD_RULES:
            raise ValueError(f"password must be one of {', '.join(_PASSWORD_RULES)}")
        self._client = client
        self._challenges = challenges
        self._console = Console(input_stream, output_stream)
        self._issuer = totp_issuer
        self._password = password

    def run(self) -> SignInResult:
        """Ask until the user is signed in; the ``DONE`` result.

        :class:`SignInCancelledError` at once when the input is not an interactive terminal,
        and on Ctrl-C or end of input; either way nothing changed.
        """
        if not self._console.interactive:
            raise SignInCancelledError(
                "Sign-in cancelled: the input is not an interactive terminal (sign in with "
                "sign_in() and confirm_sign_in() instead)"
            )
        try:
            return _Dialogue(
                self._client,
                self._challenges,
                self._console,
                self._issuer,
                password=self._password,
            ).run()
        except (KeyboardInterrupt, EOFError):
            # After "^C" or Ctrl-D the caller's next line starts on a line of its own.
            with contextlib.suppress(OSError, ValueError):
                self._console.say()
            raise SignInCancelledError("Sign-in cancelled") from None


# An answer refused for what it says: the same challenge may be answered again (the provider
# asks it again with the error).
_ANSWER_AGAIN = (CodeMismatchError, InvalidPasswordError, InvalidParameterError, NetworkError)
# What an answer meets when its sign-in is over: the service ended the challenge session, or
# the sign-in machine holds no pending challenge any more.
_SESSION_OVER = (NotAuthorizedError, IllegalTransitionError)
# What the user may act on: said in one line, then asked again. Anything else (a sign-in
# cancelled by a sign-out, a closed client, a challenge no spec declares, a configuration
# error) ends the UI with that error.
_SHOWN = (ServiceError, NetworkError)
_UNANSWERABLE = (ChallengeNotSupportedError,)

_BACK = "Leave the username empty to go back to the menu."
_RESEND = "Type the code, or an empty line to have a new one sent."
_PASSWORD_RULES = ("required", "optional", "none")
# What the forms say of a password the flow may go without (``optional``), and of the contacts
# a sign-up gives, with a password or without one.
_NO_PASSWORD_SIGN_IN = "Leave the password empty to choose another way to sign in."
_NO_PASSWORD_SIGN_UP = "Leave the password empty to sign in with codes sent to you instead."
_CONTACTS = "Email and phone number (+15555550123) may be left empty."
_CODES_TO = "Sign-in codes are sent to your email or phone number (+15555550123): give one."


@attrs.frozen(repr=False)
class _Replay:
    """An answer whose sign-in ended under it, to give again to the same question."""

    challenge: str
    parameters: Mapping[str, str]
    reply: Reply

    def answers(self, result: SignInResult) -> bool:
        return (
            result.state.value == self.challenge
            and dict(result.parameters) == dict(self.parameters)
            and result.code_delivery is None
        )


@attrs.frozen
class _Restart:
    """The sign-in must start again (with an answer to replay, perhaps)."""

    replay: _Replay | None = None


@attrs.frozen
class _PasswordRefused:
    """The service refused the password a challenge was answered with (typed at its prompt,
    or given to ``sign_in`` with a password factor chosen): the user name and password are
    asked again, as for a wrong password at sign-in."""


class _Dialogue:
    """One run of the UI: the menu and the forms, driving ``client``."""

    def __init__(
        self,
        client: SignInClient,
        challenges: ChallengeTable,
        console: Console,
        issuer: str,
        *,
        password: PasswordRule = "optional",
    ) -> None:
        self._client = client
        self._challenges = challenges
        self._console = console
        self._issuer = issuer
        self._password = password

    def run(self) -> SignInResult:
        while True:
            done = self._menu()()
            if done is not None:
                return done

    def _menu(self) -> Callable[[], SignInResult | None]:
        actions = (
            ("Sign in", self._sign_in_form),
            ("Sign up", self._sign_up_form),
            ("Forgot password", self._forgot_password_form),
        )
        for number, (name, _) in enumerate(actions, 1):
            self._console.say(f"  {number}) {name}")
        while True:
            answer = self._console.ask("Choose", default="1")
            if answer.isdigit() and 1 <= int(answer) <= len(actions):
                return actions[int(answer) - 1][1]
            self._console.say(f"Type a number from 1 to {len(actions)}.")

    # -- the forms --------------------------------------------------------------------------

    def _sign_in_form(self) -> SignInResult | None:
        self._console.say(_BACK)
        if self._password == "optional":
            self._console.say(_NO_PASSWORD_SIGN_IN)
        while True:
            username = self._console.ask("Username")
            if not username:
                return None
            password: str | None = None
            if self._password == "required":
                password = self._new_secret("Password")
            elif self._password == "optional":
                # An empty password signs in without one: the service offers the other ways.
                password = self._console.ask_secret("Password") or None
            done = self._sign_in(username, password)
            if done is not None:
                return done

    def _sign_up_form(self) -> SignInResult | None:
        self._console.say(_BACK)
        if self._password == "optional":
            self._console.say(_NO_PASSWORD_SIGN_UP)
        while True:
            username = self._console.ask("Username")
            if not username:
                return None
            password = self._sign_up_password()
            self._console.say(_CONTACTS if password is not None else _CODES_TO)
            email = self._console.ask("Email", default=username if "@" in username else None)
            phone = self._console.ask("Phone number")
            attributes = {k: v for k, v in (("email", email), ("phone_number", phone)) if v}
            registered = self._register(username, password, attributes)
            if registered is None:
                continue  # a name taken, an address refused...: the form again
            signed_up, password = registered
            if not signed_up.confirmed and not self._confirm_account(
                username, signed_up.code_delivery
            ):
                return None
            return self._sign_in(username, password) or self._sign_in_form()

    def _forgot_password_form(self) -> SignInResult | None:
        self._console.say(_BACK)
        username = self._console.ask("Username")
        if not username:
            return None
        password = self._reset_password(username, send=True)
        if password is None:
            return None
        return self._sign_in(username, password) or self._sign_in_form()

    # -- the steps --------------------------------------------------------------------------

    def _sign_in(self, username: str, password: str | None) -> SignInResult | None:
        """Sign in and answer every challenge: the ``DONE`` result, or ``None`` to ask the user
        name and password again."""
        replay: _Replay | None = None
        while True:
            if self._password == "none":
                password = None  # a password set at sign-up or by a reset: the flow takes none
            try:
                result = self._client.sign_in(username, password)
            except UserNotConfirmedError as exc:
                self._error(exc, password)
                if not self._confirm_account(username, None):
                    return None
                continue
            except PasswordResetRequiredError as exc:
                self._error(exc, password)
                password = self._reset_password(username, send=False)
                if password is None:
                    return None
                continue
            except _UNANSWERABLE:
                raise
            except _SHOWN as exc:
                self._error(exc, password)
                return None
            outcome = self._answer_challenges(username, result, replay, password)
            if isinstance(outcome, _PasswordRefused):
                return None
            if isinstance(outcome, _Restart):
                self._console.say("Signing in again.")
                replay = outcome.replay
                continue
            self._console.say(f"Signed in as {printable(username)}.")
            return outcome

    def _answer_challenges(
        self, username: str, result: SignInResult, replay: _Replay | None, password: str | None
    ) -> SignInResult | _Restart | _PasswordRefused:
        """Answer every challenge from ``result`` on (``password``: the one ``sign_in`` was
        given): the ``DONE`` result, or what to do instead."""
        refused: Reply | None = None  # the last answer to this prompt, refused
        while result.state is not SignInState.DONE:
            challenge = self._challenges.get(result.state.value)
            if challenge is None:  # the sign-in machine refuses these before they get here
                raise ChallengeNotSupportedError(
                    f"The sign-in asked for the challenge {result.state.value}, which the "
                    "sign-in spec does not declare",
                    code=result.state.value,
                )
            given = replay.reply if replay is not None and replay.answers(result) else None
            replayed = given is not None
            reply = given or ask_challenge(
                self._console,
                challenge,
                result,
                account=username,
                issuer=self._issuer,
                previous=refused,
            )
            replay = None  # only the first question of a sign-in started again is replayed
            try:
                result = self._client.confirm_sign_in(
                    reply.response, user_attributes=dict(reply.attributes) or None
                )
            except _UNANSWERABLE:
                raise
            except _SESSION_OVER as exc:
                if isinstance(exc, NotAuthorizedError) and reply.uses_password:
                    # A wrong password, which ends the service's session: no replay of it.
                    self._error(exc, reply.response, password)
                    return _PasswordRefused()
                # Right after a refused answer this is the session the refusal spent (the
                # emulator ends a NEW_PASSWORD_REQUIRED session on a weak password, as Cognito
                # is reported to): nothing to say, the new answer goes to a new sign-in.
                if refused is None or replayed:
                    self._error(exc, reply.response)
                again = not replayed and result.code_delivery is None
                return _Restart(
                    _Replay(challenge.name, result.parameters, reply) if again else None
                )
            except _ANSWER_AGAIN as exc:
                self._error(exc, reply.response, *reply.attributes.values())
                refused = reply
                continue
            except _SHOWN as exc:
                self._error(exc, reply.response)
                return _Restart()
            refused = None
        return result

    def _register(
        self, username: str, password: str | None, attributes: Mapping[str, str]
    ) -> tuple[SignUpResult, str | None] | None:
        """Sign up, asking the password again while it is too weak: the result and the
        password it was accepted with (``None``: a passwordless user), or ``None`` to ask the
        whole form again."""
        while True:
            try:
                signed_up = self._client.sign_up(username, password, attributes=attributes or None)
                return signed_up, password
            except InvalidPasswordError as exc:
                self._error(exc, password)
                password = self._sign_up_password()
            except _SHOWN as exc:
                self._error(exc, password)
                return None

    def _confirm_account(self, username: str, delivery: CodeDeliveryDetails | None) -> bool:
        """Confirm ``username`` with the sign-up code (or a new one, on an empty line)."""
        self._console.say(delivery_line(delivery) or "This account must be confirmed.")
        self._console.say(_RESEND)
        while True:
            code = self._console.ask("Code")
            if not code:
                try:
                    delivery = self._client.resend_sign_up_code(username)
                except _SHOWN as exc:
                    self._error(exc)
                else:
                    self._console.say(delivery_line(delivery) or "A new code was sent.")
                continue
            try:
                self._client.confirm_sign_up(username, code)
            except (CodeMismatchError, ExpiredCodeError, NetworkError) as exc:
                self._error(exc, code)
                continue
            except _SHOWN as exc:
                self._error(exc, code)
                return False
            self._console.say("Account confirmed.")
            return True

    def _reset_password(self, username: str, *, send: bool) -> str | None:
        """Set a new password with a code (sent now when ``send``, else one the service
        already sent; an empty line sends a new one): the new password, or ``None``."""
        if send and not self._send_reset_code(username):
            return None
        self._console.say(_RESEND)
        code: str | None = None
        password: str | None = None
        while True:
            if code is None:
                code = self._console.ask("Code") or None
                if code is None:
                    self._send_reset_code(username)
                    continue
            if password is None:
                password = self._new_secret("New password")
            try:
                self._client.confirm_forgot_password(username, password, code)
            except (CodeMismatchError, ExpiredCodeError, NetworkError) as exc:
                self._error(exc, code, password)
                code = None
                continue
            except InvalidPasswordError as exc:
                self._error(exc, code, password)
                password = None
                continue
            except _SHOWN as exc:
                self._error(exc, code, password)
                return None
            self._console.say("Password changed.")
            return password

    def _send_reset_code(self, username: str) -> bool:
        try:
            sent = self._client.forgot_password(username)
        except _SHOWN as exc:
            self._error(exc)
            return False
        self._console.say(delivery_line(sent.code_delivery) or "A code was sent.")
        return True

    # -- saying things ----------------------------------------------------------------------

    def _sign_up_password(self) -> str | None:
        """The new user's password; ``None`` (an empty line) registers a passwordless user,
        where the sign-in flow may go without one."""
        if self._password == "optional":
            return self._console.ask_secret("Password") or None
        return self._new_secret("Password")

    def _new_secret(self, label: str) -> str:
        while True:
            secret = self._console.ask_secret(label)
            if secret.strip():
                return secret

    def _error(self, error: AuthError, *typed: str | None) -> None:
        self._console.say(error_line(error, *typed))
