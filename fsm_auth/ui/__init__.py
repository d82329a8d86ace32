"""Drop-in sign-in UIs: :class:`TerminalSignIn`, what ``AuthClient.show_sign_in()`` runs
without hosted-UI options.

Imported by ``show_sign_in()`` only, never by ``import fsm_auth``: an application that signs
in through its own UI pays nothing for this one.
"""

from ._terminal import SignInClient, TerminalSignIn

__all__ = ["SignInClient", "TerminalSignIn"]
