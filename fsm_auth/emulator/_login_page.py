"""The hosted UI's pages: sign-in, new password, MFA code, messages and errors.

Plain HTML with stable element ids (a headless browser fills them in tests): the sign-in form
has ``username``, ``password``, ``signin`` and ``cancel``; the new-password form
``new_password``, ``confirm_password`` and ``change``; the code form ``code`` and ``verify``.
Every form carries ``_csrf`` (Cognito's name), the server-side login session it belongs to.
Every piece of text that came from a request or a user is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# The languages Cognito's managed login offers (``lang``); any other falls back to English.
LANGUAGES = frozenset({"de", "en", "es", "fr", "id", "it", "ja", "ko", "pt-BR", "zh-CN", "zh-TW"})
_STYLE = """
body { font-family: sans-serif; background: #f4f4f4; margin: 0; }
main { max-width: 24rem; margin: 3rem auto; background: #fff; padding: 1.5rem 2rem;
       border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.2); }
h1 { font-size: 1.3rem; } label { display: block; margin-top: .8rem; }
input { width: 100%; padding: .4rem; box-sizing: border-box; }
button, a.button { margin-top: 1rem; padding: .5rem 1rem; }
.error { color: #b00020; } .note { color: #555; font-size: .9rem; }
"""


def _document(title: str, body: str, lang: str = "en") -> str:
    language = lang if lang in LANGUAGES else "en"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(language)}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _error_line(error: str | None, element_id: str) -> str:
    if not error:
        return ""
    return f'<p id="{element_id}" class="error" role="alert">{escape(error)}</p>'


def _csrf(value: str) -> str:
    return f'<input type="hidden" name="_csrf" value="{escape(value)}">'


def _cancel() -> str:
    # A submit button of the same form: ``formnovalidate`` lets it through empty fields.
    return (
        '<button id="cancel" name="cancel" value="cancel" type="submit" formnovalidate>'
        "Cancel</button>"
    )


def login_page(
    *,
    csrf: str,
    username: str = "",
    error: str | None = None,
    lang: str = "en",
    with_form: bool = True,
    providers: Sequence[tuple[str, str]] = (),
    client_name: str = "",
) -> str:
    """The sign-in page: the user-name/password form and one link per identity provider
    (``providers``: ``(name, authorize URL)``)."""
    parts = [f"<h1>Sign in{' to ' + escape(client_name) if client_name else ''}</h1>"]
    parts.append(_error_line(error, "loginErrorMessage"))
    for name, url in providers:
        parts.append(
            f'<p><a class="button idp" href="{escape(url)}">Sign in with {escape(name)}</a></p>'
        )
    if with_form:
        parts.append(
            '<form method="post" id="signInForm">'
            + _csrf(csrf)
            + '<label for="username">Username</label>'
            + '<input id="username" name="username" type="text" autocomplete="username" '
            + f'autocapitalize="none" required value="{escape(username)}">'
            + '<label for="password">Password</label>'
            + '<input id="password" name="password" type="password" '
            + 'autocomplete="current-password" required>'
            + '<button id="signin" name="signInSubmitButton" value="Sign in" type="submit">'
            + "Sign in</button> "
            + _cancel()
            + "</form>"
        )
    else:
        parts.append('<form method="post">' + _csrf(csrf) + _cancel() + "</form>")
    return _document("Signin", "".join(parts), lang)


def new_password_page(*, csrf: str, username: str, error: str | None, lang: str) -> str:
    """The form a user with a temporary password sets a password of their own in."""
    body = (
        "<h1>Change Password</h1>"
        f'<p class="note">Please enter a new password for {escape(username)}.</p>'
        + _error_line(error, "passwordErrorMessage")
        + '<form method="post" id="changePasswordForm">'
        + _csrf(csrf)
        + '<label for="new_password">New Password</label>'
        + '<input id="new_password" name="new_password" type="password" '
        + 'autocomplete="new-password" required>'
        + '<label for="confirm_password">Enter New Password Again</label>'
        + '<input id="confirm_password" name="confirm_password" type="password" '
        + 'autocomplete="new-password" required>'
        + '<button id="change" name="reset_password" value="Send" type="submit">Send</button> '
        + _cancel()
        + "</form>"
    )
    return _document("Change Password", body, lang)


def code_page(*, csrf: str, kind: str, destination: str, error: str | None, lang: str) -> str:
    """The MFA code form: ``kind`` ``"SMS"`` (sent to ``destination``, masked) or ``"TOTP"``."""
    if kind == "SMS":
        note = f"We have delivered the authentication code by SMS to {destination}."
    else:
        note = "Enter the code from your authenticator app."
    body = (
        "<h1>Multi-factor authentication</h1>"
        f'<p class="note">{escape(note)}</p>'
        + _error_line(error, "codeErrorMessage")
        + '<form method="post" id="mfaForm">'
        + _csrf(csrf)
        + '<label for="code">Code</label>'
        + '<input id="code" name="code" type="text" inputmode="numeric" '
        + 'autocomplete="one-time-code" required>'
        + '<button id="verify" name="signInSubmitButton" value="Sign in" type="submit">'
        + "Sign in</button> "
        + _cancel()
        + "</form>"
    )
    return _document("Multi-factor authentication", body, lang)


def message_page(title: str, message: str, lang: str = "en") -> str:
    """A page that ends the sign-in with a message (user not confirmed, MFA not set up...)."""
    body = f"<h1>{escape(title)}</h1>" + _error_line(message, "message")
    return _document(title, body, lang)


def error_page(error: str, description: str) -> str:
    """Cognito's error page: a fixed sentence, the error code and what it means."""
    body = (
        "<h1>An error was encountered with the requested page.</h1>"
        f'<p id="error" class="error" role="alert">{escape(error)}</p>'
        f'<p id="errorDescription">{escape(description)}</p>'
    )
    return _document("Error", body)
