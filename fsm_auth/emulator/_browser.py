"""A headless "browser" for the hosted UI: what a user's browser and a user would do.

:class:`HostedUIBrowser` is an ``open_browser(url)`` callable: it opens the URL with a
cookie-keeping :class:`requests.Session`, reads each page's forms (``html.parser``), signs in
(or presses Cancel, or fills in a new password or an MFA code, or an upstream provider's
fields), follows redirects, and ends by opening the app's loopback redirect URI, which the
app's listener answers. It keeps the pages it saw. It follows redirects to loopback hosts
only, and sends each kind of form once (a wrong password ends the run on the page that says
so, instead of trying again forever).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import attrs
import requests

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@attrs.frozen
class BrowserPage:
    """A page the browser was shown (or the redirect URI it delivered)."""

    url: str
    status: int
    text: str = attrs.field(repr=False)


@attrs.define
class _Field:
    name: str
    kind: str
    value: str
    element_id: str


@attrs.define
class _Form:
    action: str | None
    method: str
    fields: list[_Field] = attrs.field(factory=list)
    buttons: list[_Field] = attrs.field(factory=list)

    def names(self) -> set[str]:
        return {f.name for f in self.fields}

    def button(self, element_id: str) -> _Field | None:
        return next((b for b in self.buttons if b.element_id == element_id), None)


class _Forms(HTMLParser):
    """Every ``<form>`` of a page, with its inputs and submit buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs_}
        if tag == "form":
            self._current = _Form(found.get("action"), found.get("method", "get").lower())
            self.forms.append(self._current)
            return
        if self._current is None or not found.get("name"):
            return
        kind = found.get("type", "text" if tag == "input" else "submit").lower()
        field = _Field(found["name"], kind, found.get("value", ""), found.get("id", ""))
        if tag == "button" or kind == "submit":
            self._current.buttons.append(field)
        elif tag in ("input", "textarea", "select"):
            self._current.fields.append(field)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_endpoint(url: str, target: str) -> bool:
    """Whether ``url`` goes to ``target`` (scheme, host, port and path; any query)."""
    a, b = urlsplit(url), urlsplit(target)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


class HostedUIBrowser:
    """``open_browser(url) -> bool`` for the hosted UI, without a real browser.

    ``username``/``password``: what the user types on the sign-in page; ``cancel=True``
    presses Cancel there instead. ``new_password``: typed (twice) when Cognito asks for one.
    ``mfa_code``: the MFA code, or a callable giving it once the code page is shown (e.g.
    ``lambda: emulator.last_code("alice", kind="sms_mfa")``). ``fields``: values for any
    other form that has fields of these names (an upstream provider's page, e.g.
    ``{"sub": "user-1"}``).

    Calling it runs the whole visit and blocks until it is over; it returns whether it
    reached the app's redirect URI (the ``redirect_uri`` or ``logout_uri`` of the URL it was
    opened with) and delivered it. The same instance keeps its cookies from one call to the
    next (the hosted-UI session, as a real browser would). :attr:`pages` holds every page
    seen, the last being where it stopped.
    """

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        cancel: bool = False,
        new_password: str | None = None,
        mfa_code: str | Callable[[], str] | None = None,
        fields: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        max_steps: int = 20,
    ) -> None:
        self.username = username
        self._password = password
        self.cancel = cancel
        self._new_password = new_password
        self._mfa_code = mfa_code
        self.fields = dict(fields or {})
        self.timeout = timeout
        self.max_steps = max_steps
        self.session = requests.Session()
        self.pages: list[BrowserPage] = []
        self.opened: list[str] = []
        self.delivered: str | None = None
        """The redirect URI (with its query) the last visit delivered, if any."""

    def __repr__(self) -> str:
        return f"HostedUIBrowser(username={self.username!r}, pages={len(self.pages)})"

    @property
    def last_page(self) -> BrowserPage | None:
        """The last page seen (``None`` before any)."""
        return self.pages[-1] if self.pages else None

    def __call__(self, url: str) -> bool:
        """Visit ``url`` as a user would; ``True`` once the app's redirect URI got its
        answer."""
        self.opened.append(url)
        self.delivered = None
        query = dict(parse_qsl(urlsplit(url).query))
        target = query.get("redirect_uri") or query.get("logout_uri")
        submitted: set[str] = set()
        method, data = "GET", None
        for _ in range(self.max_steps):
            if not _loopback(url):
                return False
            if target is not None and _same_endpoint(url, target):
                return self._deliver(url)
            try:
                answer = self.session.request(
                    method, url, data=data, allow_redirects=False, timeout=self.timeout
                )
            except requests.RequestException:
                return False
            if answer.status_code in _REDIRECTS and "Location" in answer.headers:
                url = urljoin(url, answer.headers["Location"])
                method, data = "GET", None
                continue
            self.pages.append(BrowserPage(url, answer.status_code, answer.text))
            step = self._next(answer.text, url, submitted)
            if step is None:
                return False
            method, url, data = step
        return False

    def _deliver(self, url: str) -> bool:
        """Open the app's redirect URI (its listener answers; it may be gone already)."""
        self.delivered = url
        try:
            answer = self.session.get(url, allow_redirects=False, timeout=self.timeout)
        except requests.RequestException:
            self.pages.append(BrowserPage(url, 0, ""))
            return True
        self.pages.append(BrowserPage(url, answer.status_code, answer.text))
        return True

    def _next(
        self, text: str, url: str, submitted: set[str]
    ) -> tuple[str, str, dict[str, str]] | None:
        """The form to send from this page (method, URL, fields), or ``None`` to stop."""
        parser = _Forms()
        parser.feed(text)
        for form in parser.forms:
            filled = self._fill(form)
            if filled is None:
                continue
            kind, values = filled
            if kind in submitted:
                return None
            submitted.add(kind)
            action = urljoin(url, form.action) if form.action else url
            if form.method == "post":
                return "POST", action, values
            return "GET", action + ("&" if "?" in action else "?") + urlencode(values), {}
        return None

    def _fill(self, form: _Form) -> tuple[str, dict[str, str]] | None:
        """What the user enters in ``form``, and the kind of form it is; ``None`` when the
        user has nothing to do with it."""
        names = form.names()
        values = {f.name: f.value for f in form.fields if f.kind == "hidden"}
        cancel = form.button("cancel")
        if {"username", "password"} <= names:
            if self.cancel and cancel is not None:
                values[cancel.name] = cancel.value
                return "cancel", values
            if self.username is None or self._password is None:
                return None
            values.update(username=self.username, password=self._password)
            return "sign-in", self._submit(form, values, "signin")
        if {"new_password", "confirm_password"} <= names:
            if self._new_password is None:
                return None
            values.update(new_password=self._new_password, confirm_password=self._new_password)
            return "new-password", self._submit(form, values, "change")
        if "code" in names:
            code = self._mfa_code() if callable(self._mfa_code) else self._mfa_code
            if code is None:
                return None
            values["code"] = code
            return "mfa-code", self._submit(form, values, "verify")
        if self.fields and set(self.fields) <= names | {b.name for b in form.buttons}:
            values.update(self.fields)
            return "fields:" + ",".join(sorted(names)), values
        if self.cancel and cancel is not None and not names - {"_csrf"}:
            values[cancel.name] = cancel.value
            return "cancel", values
        return None

    @staticmethod
    def _submit(form: _Form, values: dict[str, str], button_id: str) -> dict[str, str]:
        button = form.button(button_id)
        if button is not None:
            values[button.name] = button.value
        return values
