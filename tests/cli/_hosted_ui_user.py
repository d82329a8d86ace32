"""A user at the hosted UI, standing in for the system browser of ``fsm-auth login --hosted-ui``
and ``fsm-auth logout``: ``$BROWSER`` is ``"<python> _hosted_ui_user.py %s"``, so Python's
:mod:`webbrowser` in the command runs this script with the page's URL.

It visits the URL with the emulator's :class:`~fsm_auth.emulator.HostedUIBrowser` as the user named
by ``HOSTED_UI_USERNAME`` (``HOSTED_UI_PASSWORD``; ``HOSTED_UI_CANCEL=1`` presses Cancel instead;
``HOSTED_UI_SUB`` is the subject it picks at an upstream OIDC provider), following redirects to the
app's loopback redirect URI, which the command's listener answers. It appends one JSON line per
visit to the file ``HOSTED_UI_RECORD`` names (the URL it was opened with and the redirect it
delivered, authorization code included, for the test to compare with the command's output) and
prints nothing: its output is the command's output.

Exit status 0 when it delivered the redirect, 1 otherwise (webbrowser then reports the page as
not opened).
"""

from __future__ import annotations

import json
import os
import sys

from fsm_auth.emulator import HostedUIBrowser


def main(argv: list[str]) -> int:
    """Visit ``argv[1]``; 0 once the app's redirect URI was delivered."""
    if len(argv) != 2:
        return 2
    url = argv[1]
    browser = HostedUIBrowser(
        os.environ.get("HOSTED_UI_USERNAME"),
        os.environ.get("HOSTED_UI_PASSWORD"),
        cancel=os.environ.get("HOSTED_UI_CANCEL") == "1",
        fields={"sub": os.environ["HOSTED_UI_SUB"]} if "HOSTED_UI_SUB" in os.environ else None,
    )
    delivered = browser(url)
    record = os.environ.get("HOSTED_UI_RECORD")
    if record:
        last = browser.last_page
        visit = {
            "opened": url,
            "delivered": browser.delivered,
            "last_status": last.status if last else None,
        }
        with open(record, "a", encoding="utf-8") as file:
            file.write(json.dumps(visit) + "\n")
    return 0 if delivered else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
