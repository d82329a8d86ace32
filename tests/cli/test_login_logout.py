"""``fsm-auth login``, ``logout`` and ``whoami`` run as a user runs them: the real command in a
child process (``python -m fsm_auth``) against the emulator this test process hosts, with a
store of its own and no OS keyring.

The drop-in terminal UI is driven through a pseudo-terminal (pexpect, as in tests/ui); the
hosted UI through ``$BROWSER``, which Python's webbrowser in the command honours: it runs
``_hosted_ui_user.py``, the emulator's ``HostedUIBrowser`` acting as the user. The command
finds its configuration each of the three ways (``--config``, ``./awsconfiguration.json``,
``$FSM_AUTH_CONFIG``), and no password, token, client secret or authorization code ever
appears in what it prints.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pexpect
import pytest

# Shared test helpers (tests/ is on sys.path through the rootdir conftest): confirmed users,
# and tests/ui's child environment (this test's code, no OS keyring) and terminal driver.
from auth_testkit import confirmed_user
from ui.conftest import TIMEOUT, TerminalUI, child_env

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, Provisioned

pytestmark = pytest.mark.timeout(120)

PASSWORD = "Correct-Horse-9!"
WRONG_PASSWORD = "Wrong-Horse-9!"
HOSTED_UI_USER = Path(__file__).with_name("_hosted_ui_user.py")
WAYS = ("option", "cwd", "env")
"""How the command finds its configuration: ``--config FILE``, ``./awsconfiguration.json`` in
its working directory, ``$FSM_AUTH_CONFIG``."""


@attrs.define
class Cli:
    """``fsm-auth`` for one configuration and one store, found the way ``way`` says; keeps
    every text a command showed (``outputs``) for the check that no secret is in any."""

    config: dict[str, Any]
    home: Path
    way: str
    outputs: list[str] = attrs.field(factory=list)
    children: list[pexpect.spawn[str]] = attrs.field(factory=list)
    visits: Path = attrs.field(init=False)
    store: Path = attrs.field(init=False)
    cwd: Path = attrs.field(init=False)
    config_file: Path = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.store = self.home / "store"
        self.visits = self.home / "visits.jsonl"
        app = self.home / "app"
        app.mkdir(parents=True)
        self.config_file = app / "awsconfiguration.json"
        self.config_file.write_text(json.dumps(self.config), encoding="utf-8")
        # Found by name only in its own directory: elsewhere, the other ways must name it.
        self.cwd = app if self.way == "cwd" else self.home
        assert not (self.home / "awsconfiguration.json").exists()

    def argv(self, *args: str) -> list[str]:
        """The command line of ``fsm-auth ARGS`` (the configuration named if ``way`` says)."""
        extra = ["--config", str(self.config_file)] if self.way == "option" else []
        return ["-m", "fsm_auth", *args, *extra, "--storage-dir", str(self.store)]

    def env(self, **extra: str) -> dict[str, str]:
        """The child's environment: ``child_env()`` with ``$FSM_AUTH_CONFIG`` only for the
        ``env`` way, no display (no real browser can be chosen), and ``extra``."""
        env = child_env()
        env.pop("FSM_AUTH_CONFIG", None)
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        # A page the test did not expect to open is opened by `true`: nothing, no wait.
        env["BROWSER"] = "true"
        if self.way == "env":
            env["FSM_AUTH_CONFIG"] = str(self.config_file)
        env.update(extra)
        return env

    def browser_env(self, username: str | None = None, *, cancel: bool = False) -> dict[str, str]:
        """The environment for a command that opens hosted-UI pages: ``$BROWSER`` runs
        ``_hosted_ui_user.py`` as ``username`` (or pressing Cancel)."""
        command = f"{shlex.quote(sys.executable)} {shlex.quote(str(HOSTED_UI_USER))} %s"
        extra = {"BROWSER": command, "HOSTED_UI_RECORD": str(self.visits)}
        if username is not None:
            extra.update(HOSTED_UI_USERNAME=username, HOSTED_UI_PASSWORD=PASSWORD)
        if cancel:
            extra["HOSTED_UI_CANCEL"] = "1"
        return self.env(**extra)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``fsm-auth ARGS`` without a terminal, its output captured (and kept)."""
        done = subprocess.run(
            [sys.executable, *self.argv(*args)],
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=env or self.env(),
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT,
            check=False,
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def spawn(self, *args: str) -> TerminalUI:
        """``fsm-auth ARGS`` on a pseudo-terminal."""
        log = io.StringIO()
        child = pexpect.spawn(
            sys.executable,
            self.argv(*args),
            cwd=str(self.cwd),
            env=self.env(),
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
            dimensions=(60, 200),
        )
        # The UI turns echo off before a secret's prompt: an answer may follow it at once.
        child.delaybeforesend = None
        child.logfile_read = log
        self.children.append(child)
        return TerminalUI(child, log, self.store)

    def finish(self, ui: TerminalUI) -> int | None:
        """Wait for the terminal's command to end; its exit status (its text kept)."""
        ui.child.expect(pexpect.EOF)
        ui.child.close()
        self.outputs.append(ui.text)
        return ui.child.exitstatus

    def whoami(self) -> dict[str, Any]:
        """``fsm-auth whoami --json``, parsed."""
        done = self.run("whoami", "--json")
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    def visited(self) -> list[dict[str, Any]]:
        """The hosted-UI pages ``_hosted_ui_user.py`` visited, oldest first."""
        if not self.visits.exists():
            return []
        return [json.loads(line) for line in self.visits.read_text().splitlines()]

    def assert_no_secret(self, *secrets: str) -> None:
        """No output holds a password, a JWT (``eyJ``: a JSON header) or one of ``secrets``."""
        assert self.outputs
        for text in self.outputs:
            for secret in (PASSWORD, WRONG_PASSWORD, "eyJ", *secrets):
                assert secret not in text, f"a secret in the output:\n{text}"


@pytest.fixture
def make_cli(tmp_path: Path) -> Iterator[Any]:
    """``make_cli(pool, way="option")``: a :class:`Cli` on ``pool``'s configuration; every
    terminal child is ended at the end of the test."""
    made: list[Cli] = []

    def make(pool: Provisioned, way: str = "option") -> Cli:
        cli = Cli(pool.aws_configuration(), tmp_path / f"cli{len(made)}", way)
        made.append(cli)
        return cli

    yield make
    for cli in made:
        for child in cli.children:
            if child.isalive():
                child.close(force=True)


def terminal_login(cli: Cli, name: str) -> None:
    """``fsm-auth login`` through the terminal UI, signed in as ``name``."""
    ui = cli.spawn("login")
    ui.sign_in(name, PASSWORD)
    ui.expect(f"Signed in as {name}.")
    assert cli.finish(ui) == 0, ui.text


def error_lines(text: str, command: str) -> list[str]:
    """The lines of ``text`` that are ``fsm-auth COMMAND``'s error line."""
    return [
        line for line in text.splitlines() if line.strip().startswith(f"fsm-auth {command}: error:")
    ]


def assert_one_error_line(text: str, command: str, *naming: str) -> str:
    """``text`` holds exactly one error line of ``command``, naming each of ``naming``, and
    no traceback; that line."""
    assert "Traceback" not in text, text
    lines = error_lines(text, command)
    assert len(lines) == 1, text
    for name in naming:
        assert name in lines[0], lines[0]
    return lines[0]


# What whoami says once no user is signed in. The provisioned identity pools allow guests, but
# a sign-out goes to `guest` only when guest access is known to be on (the spec's guard
# guest_access_enabled): learnt from the identity pool giving guest credentials, which no
# command here asks for, or from the configuration, and an awsconfiguration.json does not say.
SIGNED_OUT = "signedOut"


@pytest.mark.parametrize("way", WAYS)
def test_terminal_login_whoami_logout(
    way: str, make_cli: Any, emulator: Emulator, pool: Provisioned
) -> None:
    name = confirmed_user(emulator, pool, f"tess-{way}", PASSWORD)
    cli = make_cli(pool, way)
    assert cli.whoami() == {
        "state": SIGNED_OUT,
        "username": None,
        "expiration": None,
        "identity_id": None,
    }

    terminal_login(cli, name)
    who = cli.whoami()
    assert who["state"] == "signedIn"
    assert who["username"] == name
    expiration = datetime.strptime(who["expiration"], "%Y-%m-%dT%H:%M:%SZ")
    expiration = expiration.replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    assert now < expiration <= now + timedelta(minutes=61)
    identity_id = who["identity_id"]
    assert identity_id is None or re.fullmatch(r"[a-z]{2}-[a-z]+-\d:[0-9a-f-]{36}", identity_id)

    done = cli.run("logout")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Signed out {name}.\n"
    assert done.stderr == ""
    after = cli.whoami()
    assert after["state"] == SIGNED_OUT
    assert after["username"] is None
    assert after["expiration"] is None
    cli.assert_no_secret()


def test_a_wrong_password_then_ctrl_c_is_one_error_line_and_no_session(
    make_cli: Any, emulator: Emulator, pool: Provisioned
) -> None:
    name = confirmed_user(emulator, pool, "quinn", PASSWORD)
    cli = make_cli(pool, "cwd")
    ui = cli.spawn("login")
    ui.sign_in(name, WRONG_PASSWORD)
    ui.expect("Incorrect username or password.")
    ui.expect("Username: ")
    ui.child.sendintr()
    assert cli.finish(ui) == 1, ui.text
    line = assert_one_error_line(ui.text, "login", "cancelled")
    assert line.strip().startswith("fsm-auth login: error: SignInCancelledError")
    assert cli.whoami()["state"] == SIGNED_OUT
    assert not list(cli.store.glob("session.*.bin")), "a cancelled sign-in saved a session"
    cli.assert_no_secret()


def test_logout_global_ends_the_sessions_on_every_device(
    make_cli: Any, emulator: Emulator, pool: Provisioned, no_os_keyring: None
) -> None:
    name = confirmed_user(emulator, pool, "gita", PASSWORD)
    cli = make_cli(pool, "env")
    terminal_login(cli, name)
    # The command's own refresh token, read from its store as the next run would (the key is
    # in the store's key file: no OS keyring here either).
    with AuthClient.from_config(cli.config_file, storage_dir=cli.store) as saved:
        assert saved.initialize().value == "signedIn"
        refresh_tokens = [saved.get_tokens().refresh_token]
    # Another device of the same user.
    with AuthClient.from_config(pool.aws_configuration(), storage_dir=cli.home / "other") as other:
        other.sign_in(name, PASSWORD)
        refresh_tokens.append(other.get_tokens().refresh_token)
        global_sign_outs = emulator.count("GlobalSignOut")

        done = cli.run("logout", "--global")
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"Signed out {name}.\n"
        assert done.stderr == ""
        assert emulator.count("GlobalSignOut") == global_sign_outs + 1

    admin = emulator.admin_client()
    for refresh_token in refresh_tokens:
        with pytest.raises(admin.exceptions.NotAuthorizedException):
            admin.initiate_auth(
                ClientId=pool.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
    assert cli.whoami()["state"] == SIGNED_OUT
    cli.assert_no_secret(*refresh_tokens)


def test_hosted_ui_login_whoami_logout(make_cli: Any, emulator: Emulator) -> None:
    """With a client secret: the command sends it to the token and revocation endpoints and
    never prints it."""
    pool = emulator.provision(hosted_ui=True, client_secret=True)
    name = confirmed_user(emulator, pool, "hana", PASSWORD)
    cli = make_cli(pool, "cwd")
    client_secret = cli.config["CognitoUserPool"]["Default"]["AppClientSecret"]
    assert client_secret

    done = cli.run("login", "--hosted-ui", env=cli.browser_env(name))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Signed in as {name}.\n"
    [visit] = cli.visited()
    sign_in_page = urlsplit(visit["opened"])
    assert sign_in_page.path == "/oauth2/authorize"
    assert parse_qs(sign_in_page.query)["redirect_uri"] == [pool.redirect_uri]
    redirect = parse_qs(urlsplit(visit["delivered"]).query)
    [code] = redirect["code"]
    who = cli.whoami()
    assert (who["state"], who["username"]) == ("signedIn", name)

    revokes, logouts = emulator.count("oauth2/revoke"), emulator.count("logout")
    done = cli.run("logout", env=cli.browser_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Signed out {name}.\n"
    assert done.stderr == "", "a server-side step of the sign-out failed"
    assert emulator.count("oauth2/revoke") == revokes + 1
    assert emulator.count("logout") == logouts + 1
    # The /logout page went through the same $BROWSER, and came back to the sign-out URI.
    logout_visit = cli.visited()[-1]
    logout_page = urlsplit(logout_visit["opened"])
    assert logout_page.path == "/logout"
    assert parse_qs(logout_page.query)["logout_uri"] == [pool.sign_out_uri]
    assert logout_visit["delivered"] == pool.sign_out_uri
    assert cli.whoami()["state"] == SIGNED_OUT
    cli.assert_no_secret(client_secret, code)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # oidc-provider-mock's authlib use
def test_login_with_an_upstream_provider(make_cli: Any, emulator: Emulator, upstream: str) -> None:
    """``--provider Mock``: the authorize URL names the provider, the user picks a subject at
    the real upstream OIDC provider, and the command signs in the federated user."""
    pool = emulator.provision(hosted_ui=True)
    pool.add_oidc_provider(
        "Mock", issuer=upstream, client_id="emulator-at-upstream", client_secret="up-secret-01"
    )
    cli = make_cli(pool, "option")
    env = cli.browser_env()
    env["HOSTED_UI_SUB"] = "cli-fed-1"
    done = cli.run("login", "--provider", "Mock", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Signed in as Mock_cli-fed-1.\n"
    [visit] = cli.visited()
    assert parse_qs(urlsplit(visit["opened"]).query)["identity_provider"] == ["Mock"]
    who = cli.whoami()
    assert (who["state"], who["username"]) == ("signedIn", "Mock_cli-fed-1")
    cli.assert_no_secret("up-secret-01")


def test_hosted_ui_cancel_is_one_line_naming_access_denied(
    make_cli: Any, emulator: Emulator
) -> None:
    pool = emulator.provision(hosted_ui=True)
    cli = make_cli(pool, "env")
    tokens = emulator.count("oauth2/token")
    done = cli.run("login", "--hosted-ui", env=cli.browser_env(cancel=True))
    assert done.returncode == 1, done.stdout + done.stderr
    assert_one_error_line(done.stderr, "login", "access_denied")
    assert done.stdout == ""
    [visit] = cli.visited()
    assert parse_qs(urlsplit(visit["delivered"]).query)["error"] == ["access_denied"]
    assert emulator.count("oauth2/token") == tokens
    assert cli.whoami()["state"] == SIGNED_OUT
    cli.assert_no_secret()


def test_a_missing_config_file_is_named(make_cli: Any, pool: Provisioned) -> None:
    cli = make_cli(pool, "cwd")
    done = cli.run("login", "--config", "missing.json")
    assert done.returncode == 1
    assert done.stdout == ""
    assert_one_error_line(done.stderr, "login", "missing.json")


def test_hosted_ui_without_an_oauth_section_says_so(make_cli: Any, pool: Provisioned) -> None:
    cli = make_cli(pool, "option")
    assert "OAuth" not in json.dumps(cli.config)
    done = cli.run("login", "--hosted-ui")
    assert done.returncode == 1
    assert done.stdout == ""
    assert_one_error_line(done.stderr, "login", "OAuth")
    assert not cli.visited()
