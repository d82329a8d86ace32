"""The ``fsm-auth`` command line.

Each subcommand is a pair of functions, one adding its arguments and one running it,
registered in ``_COMMANDS``; adding a subcommand is adding an entry there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from fsm_auth.errors import AuthError

__all__ = ["main"]

_Configure = Callable[[argparse.ArgumentParser], None]
_Run = Callable[[argparse.Namespace], int]


def _diagram_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        nargs="?",
        default="user_state",
        help="a shipped spec name or a path to a YAML spec (default: user_state)",
    )
    parser.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="mermaid stateDiagram-v2 (default) or graphviz DOT",
    )


def _diagram(args: argparse.Namespace) -> int:
    from fsm_auth.engine import Spec, to_dot, to_mermaid

    spec = Spec.load(args.spec)
    sys.stdout.write(to_dot(spec) if args.format == "dot" else to_mermaid(spec))
    return 0


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def _demo(args: argparse.Namespace) -> int:
    from fsm_auth.demo import run_demo

    return run_demo(sys.stdout)


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 (any free port) to 65535."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{port} is not a port number (0 to 65535; 0 picks a free port)"
        )
    return port


def _output_file(text: str) -> Path:
    """An argparse type: a file that can be created, in an existing directory."""
    path = Path(text)
    if not text or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file name")
    parent = path.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"the directory {str(parent)!r} does not exist")
    return path


def _dev_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=_port,
        default=4566,
        help="port on 127.0.0.1, 0 to 65535 (default 4566; 0 picks a free port)",
    )
    parser.add_argument(
        "--config-out",
        type=_output_file,
        default=Path("awsconfiguration.json"),
        help="where to write the awsconfiguration.json (default ./awsconfiguration.json)",
    )
    parser.add_argument(
        "--mfa",
        type=str.lower,
        choices=("off", "optional", "on"),
        default="off",
        help="the user pool's MFA: off (default), optional or on (TOTP, or SMS with a phone)",
    )


def _dev(args: argparse.Namespace) -> int:
    try:
        from fsm_auth.emulator import run_dev
    except ImportError:
        print("fsm-auth dev needs the emulator: pip install 'fsm-auth[emulator]'", file=sys.stderr)
        return 2
    return run_dev(args.port, args.config_out, sys.stdout, mfa=args.mfa.upper())


def _credentials_arguments(parser: argparse.ArgumentParser) -> None:
    from fsm_auth._credential_process import add_credentials_arguments

    add_credentials_arguments(parser)


def _credentials(args: argparse.Namespace) -> int:
    from fsm_auth._credential_process import run_credentials_command

    return run_credentials_command(args)


def _whoami_arguments(parser: argparse.ArgumentParser) -> None:
    from fsm_auth._credential_process import add_whoami_arguments

    add_whoami_arguments(parser)


def _whoami(args: argparse.Namespace) -> int:
    from fsm_auth._credential_process import run_whoami_command

    return run_whoami_command(args)


def _login_arguments(parser: argparse.ArgumentParser) -> None:
    from fsm_auth._login_commands import add_login_arguments

    add_login_arguments(parser)


def _login(args: argparse.Namespace) -> int:
    from fsm_auth._login_commands import run_login_command

    return run_login_command(args)


def _logout_arguments(parser: argparse.ArgumentParser) -> None:
    from fsm_auth._login_commands import add_logout_arguments

    add_logout_arguments(parser)


def _logout(args: argparse.Namespace) -> int:
    from fsm_auth._login_commands import run_logout_command

    return run_logout_command(args)


# name → (help, add arguments, run)
_COMMANDS: dict[str, tuple[str, _Configure, _Run]] = {
    "demo": (
        "the whole life of a user against the embedded local Cognito emulator",
        _no_arguments,
        _demo,
    ),
    "dev": (
        "run the local Cognito emulator, provisioned, until Ctrl-C",
        _dev_arguments,
        _dev,
    ),
    "credentials": (
        "print AWS credentials for the current session (credential_process)",
        _credentials_arguments,
        _credentials,
    ),
    "login": (
        "sign in interactively: the drop-in terminal UI, or the hosted UI (--hosted-ui)",
        _login_arguments,
        _login,
    ),
    "logout": ("sign out (--global: on every device)", _logout_arguments, _logout),
    "whoami": (
        "print the saved session's user state, user name, token expiry and identity id "
        "(no network call, no secret)",
        _whoami_arguments,
        _whoami,
    ),
    "diagram": ("print a state diagram of a spec", _diagram_arguments, _diagram),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fsm-auth",
        description="Cognito user pools and identity pools as an explicit state machine.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, configure, run) in _COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        configure(command)
        command.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``fsm-auth`` with ``argv`` (default: the process arguments); returns the exit code.

    A malformed argument exits 2 with argparse's usage line; an error while running exits 1
    with one line on stderr (``fsm-auth COMMAND: error: ...``), never a traceback.
    """
    args = _parser().parse_args(argv)
    run: _Run = args.run
    try:
        return run(args)
    except AuthError as exc:
        # AuthError texts are scrubbed of secrets; one line for a terminal or a log.
        return _fail(args.command, str(exc))
    except OSError as exc:
        # The file system or the network refused (a port in use, a file not writable): the
        # arguments were well formed, the environment said no.
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(args.command, f"{exc.strerror or exc}{where}")


def _fail(command: str, message: str) -> int:
    print(f"fsm-auth {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
