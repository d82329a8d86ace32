"""A third-party provider, really installed: ``tests/thirdparty/fsm-auth-pin`` is a
distribution of its own (package ``fsm_auth_pin``, entry point ``userpool-pin`` in the group
``fsm_auth.providers``) that wraps the built-in Cognito provider and adds a ``PIN`` challenge,
declared in a sign-in spec it ships. Nothing in ``fsm_auth`` knows about it.

It is installed once per test session with pip (no index, no network) into a temporary
directory, found through its entry point by a fresh ``PluginRegistry``, and then:
(a) passes the conformance suite ``fsm_auth.testing.UserPoolProviderTests``;
(b) drives ``AuthClient`` against the emulator, the PIN reaching the caller by name;
(c) a variant whose spec names a provider step it lacks is refused, naming the step.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from fsm_auth import AuthClient, SignInState, UserState, plugins
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock
from fsm_auth.engine import Spec, shipped_specs_dir, to_dot, to_mermaid
from fsm_auth.errors import (
    CodeMismatchError,
    InvalidParameterError,
    NotAuthorizedError,
    ProviderError,
)
from fsm_auth.plugins import PluginRegistry
from fsm_auth.provider import ProviderContext, UserPoolProvider
from fsm_auth.session import MemorySessionStore
from fsm_auth.signin import Answer, ChallengeTable, Prompt
from fsm_auth.testing import (
    NewUser,
    ServiceOffline,
    UserPoolProviderTests,
    challenge_table,
    check_user_pool_provider,
    drive_sign_in,
    sign_in_request,
)
from fsm_auth.transport import RetryPolicy

DISTRIBUTION = Path(__file__).resolve().parent / "fsm-auth-pin"
PACKAGE = "fsm_auth_pin"
ENTRY_POINT = "userpool-pin"
PASSWORD = "Correct-Horse-9!"
PIN = "2468"
WRONG_PIN = "1357"
FAST = 10_000  # PBKDF2 iterations for the test users' PINs (the default is slower)
_names = itertools.count(1)


# -- the installed distribution ----------------------------------------------------------------


@pytest.fixture(scope="session")
def pin_distribution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The distribution installed by pip into a directory of its own (not yet on sys.path)."""
    target = tmp_path_factory.mktemp("fsm-auth-pin-site")
    # Built from a copy: setuptools writes build files next to the sources, and each xdist
    # worker installs it once.
    source = tmp_path_factory.mktemp("fsm-auth-pin-src") / DISTRIBUTION.name
    shutil.copytree(DISTRIBUTION, source)
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
        "--no-index", "--target", str(target), str(source),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    if done.returncode != 0:
        pytest.fail(f"pip could not install {DISTRIBUTION}:\n{done.stdout}\n{done.stderr}")
    assert (target / PACKAGE / "sign_in_pin.yaml").is_file(), "the spec was not installed"
    return target


@pytest.fixture(scope="module")
def pin_site(pin_distribution: Path) -> Iterator[Path]:
    """The installed distribution on sys.path for this module; its modules forgotten after."""
    sys.path.insert(0, str(pin_distribution))
    importlib.invalidate_caches()
    try:
        yield pin_distribution
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(pin_distribution))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        plugins.refresh()  # the default registry may have seen the entry point meanwhile


@pytest.fixture(scope="module")
def pin_registry(pin_site: Path) -> PluginRegistry:
    """A registry that found the distribution through its entry point."""
    registry = PluginRegistry()
    assert ENTRY_POINT in registry.available(), registry.load_errors()
    return registry


@pytest.fixture(scope="module")
def pin(pin_registry: PluginRegistry, pin_site: Path) -> ModuleType:
    """The installed ``fsm_auth_pin`` package (imported from the install, not the source)."""
    module = importlib.import_module(PACKAGE)
    assert Path(module.__file__ or "").resolve().is_relative_to(pin_site.resolve())
    return module


def context(config: dict[str, Any], clock: FakeClock) -> ProviderContext:
    return ProviderContext(load_config(config), clock, RetryPolicy(max_attempts=1))


def with_provider(config: dict[str, Any], name: str) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["Auth"]["Default"]["Providers"] = {"user_pool": name}
    return config


def pin_user(
    provider: UserPoolProvider, emulator: Emulator, pin: ModuleType, username: str | None = None
) -> tuple[str, str]:
    """A confirmed user whose PIN is :data:`PIN`, signed up through ``provider``."""
    username = username or f"pinuser{next(_names)}"
    provider.sign_up(
        username,
        PASSWORD,
        attributes={
            "email": f"{username}@example.com",
            pin.PIN_ATTRIBUTE: pin.hash_pin(PIN, iterations=FAST),
        },
        validation_data=None,
        client_metadata=None,
    )
    provider.confirm_sign_up(
        username, emulator.last_code(username, "sign_up"), client_metadata=None
    )
    return username, PASSWORD


def test_the_distribution_is_found_through_its_entry_point(
    pin_registry: PluginRegistry, pin: ModuleType
) -> None:
    assert pin_registry.factory(ENTRY_POINT) is pin.PinProvider
    assert pin_registry.load_errors() == {}
    assert {"userpool", "federated", "guest", ENTRY_POINT} <= set(pin_registry.available())


# -- (a) the conformance suite -------------------------------------------------------------------


class TestPinProviderConformance(UserPoolProviderTests):
    @pytest.fixture
    def make_provider(
        self, pin_registry: PluginRegistry, aws_config: dict[str, Any], clock: FakeClock
    ) -> Callable[[], UserPoolProvider]:
        built = context(aws_config, clock)
        return lambda: pin_registry.build("user_pool", ENTRY_POINT, built)  # type: ignore[no-any-return]

    @pytest.fixture
    def new_user(self, provider: UserPoolProvider, emulator: Emulator, pin: ModuleType) -> NewUser:
        return lambda: pin_user(provider, emulator, pin)

    @pytest.fixture
    def answer_prompt(self) -> Callable[[Prompt], Answer]:
        def answer(prompt: Prompt) -> Answer:
            if prompt.challenge != "PIN":
                pytest.fail(f"unexpected challenge {prompt.challenge!r}")
            assert prompt.error is None, "the right PIN was refused"
            return Answer(PIN)

        return answer

    @pytest.fixture
    def service_offline(self, emulator: Emulator) -> ServiceOffline:
        @contextlib.contextmanager
        def offline() -> Iterator[None]:
            emulator.stop()
            try:
                yield
            finally:
                emulator.start()

        return offline

    @pytest.fixture
    def provider_clock(self, clock: FakeClock) -> Callable[[], float]:
        return clock


# -- the flow and the spec ----------------------------------------------------------------------


@pytest.fixture
def pin_provider(
    pin_registry: PluginRegistry, aws_config: dict[str, Any], clock: FakeClock
) -> UserPoolProvider:
    built: UserPoolProvider = pin_registry.build(
        "user_pool", ENTRY_POINT, context(aws_config, clock)
    )
    return built


def test_a_wrong_pin_asks_the_same_prompt_again_with_the_error(
    pin_provider: UserPoolProvider, emulator: Emulator, pin: ModuleType
) -> None:
    username, password = pin_user(pin_provider, emulator, pin)
    answers = iter([WRONG_PIN, "not a pin", PIN])
    signed_in, steps = drive_sign_in(
        pin_provider,
        sign_in_request(pin_provider, username, password),
        lambda prompt: Answer(next(answers)),
    )
    prompts = [step for step in steps if isinstance(step, Prompt)]
    assert [p.challenge for p in prompts] == ["PIN", "PIN", "PIN"]
    assert prompts[0].error is None
    assert all(isinstance(p.error, CodeMismatchError) for p in prompts[1:])
    # The PIN is read with the tokens Cognito issued, through the wrapped provider's perform.
    assert [s.operation for s in steps if not isinstance(s, Prompt)][-1] == "get_user"
    assert pin_provider.verify(signed_in.tokens).username == username


def test_its_spec_is_package_data_declaring_pin(
    pin_provider: UserPoolProvider, pin: ModuleType, pin_site: Path
) -> None:
    source = Path(pin_provider.sign_in_spec)  # type: ignore[attr-defined]
    assert source == pin_site / PACKAGE / "sign_in_pin.yaml"
    table = challenge_table(pin_provider)
    assert isinstance(table, ChallengeTable)
    challenge = table["PIN"]
    assert challenge.answered_by == "user"
    assert challenge.label == "PIN"
    assert challenge.secret is True
    assert challenge.answer_key == "PIN"
    assert "PIN" in [c.name for c in table.user_challenges()]
    assert check_user_pool_provider(pin_provider) == table


def test_its_spec_is_the_shipped_one_plus_pin(pin: ModuleType) -> None:
    """The shipped spec, as it is now, with PIN added: re-copy specs/sign_in.yaml into
    fsm-auth-pin/src/fsm_auth_pin/sign_in_pin.yaml (keeping its PIN entry) if this fails."""
    # Copies: to_mapping() shares the loaded (and cached) spec's extension values.
    shipped = copy.deepcopy(Spec.load("sign_in").to_mapping())
    own = copy.deepcopy(Spec.load(pin.SPEC_PATH).to_mapping())
    challenged = next(s for s in own["states"] if s["name"] == "challenged")
    del challenged["x-challenges"]["PIN"]
    assert own["name"] == "sign_in_pin"
    shipped.pop("name")
    own.pop("name")
    assert own == shipped


def test_its_spec_draws_the_challenge_state(pin: ModuleType) -> None:
    spec = Spec.load(pin.SPEC_PATH)
    assert "challenged" in to_mermaid(spec)
    assert "challenged" in to_dot(spec)


def test_its_diagram_shows_the_pin_challenge(pin: ModuleType) -> None:
    spec = Spec.load(pin.SPEC_PATH)
    assert "PIN" in to_mermaid(spec)
    assert "PIN" in to_dot(spec)


def test_deriving_a_spec_from_a_loaded_one_leaves_it_alone(tmp_path: Path) -> None:
    # A copy of the shipped spec at a path of its own: its cache entry is this test's alone.
    path = tmp_path / "sign_in_copy.yaml"
    path.write_text((shipped_specs_dir() / "sign_in.yaml").read_text(encoding="utf-8"))
    derived = Spec.load(path).to_mapping()
    challenged = next(s for s in derived["states"] if s["name"] == "challenged")
    challenged["x-challenges"]["PIN"] = {"answer": "PIN", "label": "PIN"}
    assert "PIN" in ChallengeTable.from_spec(Spec.load(derived))
    assert "PIN" not in ChallengeTable.from_spec(Spec.load(path))


# -- (b) through AuthClient ----------------------------------------------------------------------


@pytest.fixture
def pin_client(
    pin_registry: PluginRegistry, aws_config: dict[str, Any], clock: FakeClock
) -> Iterator[AuthClient]:
    client = AuthClient.from_config(
        with_provider(aws_config, ENTRY_POINT),
        plugins=pin_registry,
        store=MemorySessionStore(),
        clock=clock,
    )
    try:
        yield client
    finally:
        client.close()


def sign_up_with_pin(
    client: AuthClient, emulator: Emulator, pin: ModuleType, username: str, **hashing: int
) -> None:
    """Sign ``username`` up with the PIN (hashed as the package does by default)."""
    hashed = pin.hash_pin(PIN, **hashing)
    client.sign_up(
        username,
        PASSWORD,
        attributes={"email": f"{username}@example.com", pin.PIN_ATTRIBUTE: hashed},
    )
    client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


def test_the_client_asks_for_the_pin_by_name(
    pin_client: AuthClient, emulator: Emulator, pin: ModuleType
) -> None:
    states: list[UserState] = []
    pin_client.add_user_state_listener(lambda state, info: states.append(state))
    sign_up_with_pin(pin_client, emulator, pin, "pia")
    assert "PIN" not in SignInState.__members__

    result = pin_client.sign_in("pia", PASSWORD)
    assert result.state is SignInState("PIN")
    assert result.state.value == "PIN"
    assert str(result.state) == "PIN"
    assert not pin_client.is_signed_in

    with pytest.raises(CodeMismatchError):
        pin_client.confirm_sign_in(WRONG_PIN)
    assert not pin_client.is_signed_in
    assert UserState.SIGNED_IN not in states

    assert pin_client.confirm_sign_in(PIN).state is SignInState.DONE
    assert pin_client.current_user_state is UserState.SIGNED_IN
    assert states[-1] is UserState.SIGNED_IN
    assert states.count(UserState.SIGNED_IN) == 1
    assert pin_client.username == "pia"
    stored = pin_client.get_user_attributes()[pin.PIN_ATTRIBUTE]
    assert stored != PIN
    assert pin.pin_matches(PIN, stored)


def test_a_provider_without_mfa_management_says_so(
    pin_client: AuthClient, emulator: Emulator, pin: ModuleType
) -> None:
    # The PIN provider wraps Cognito's but forwards no MFA management: still a user-pool
    # provider, and the client's MFA calls name what is missing instead of failing oddly.
    sign_up_with_pin(pin_client, emulator, pin, "pim")
    pin_client.sign_in("pim", PASSWORD)
    pin_client.confirm_sign_in(PIN)
    before = emulator.count()
    with pytest.raises(ProviderError, match="does not manage MFA"):
        pin_client.fetch_mfa_preference()
    with pytest.raises(ProviderError, match="PinProvider"):
        pin_client.set_up_totp()
    assert emulator.count() == before


def test_too_many_wrong_pins_end_the_sign_in(
    pin_client: AuthClient, emulator: Emulator, pin: ModuleType
) -> None:
    sign_up_with_pin(pin_client, emulator, pin, "pete", iterations=FAST)
    assert pin_client.sign_in("pete", PASSWORD).state is SignInState("PIN")
    for _ in range(pin.MAX_ATTEMPTS - 1):
        with pytest.raises(CodeMismatchError):
            pin_client.confirm_sign_in(WRONG_PIN)
    with pytest.raises(NotAuthorizedError, match="Too many wrong PINs"):
        pin_client.confirm_sign_in(WRONG_PIN)
    assert pin_client.current_user_state is UserState.SIGNED_OUT
    # A new sign-in starts over.
    assert pin_client.sign_in("pete", PASSWORD).state is SignInState("PIN")
    assert pin_client.confirm_sign_in(PIN).state is SignInState.DONE


def test_a_user_without_a_pin_is_refused(pin_client: AuthClient, emulator: Emulator) -> None:
    pin_client.sign_up("nopin", PASSWORD, attributes={"email": "nopin@example.com"})
    pin_client.confirm_sign_up("nopin", emulator.last_code("nopin", "sign_up"))
    with pytest.raises(NotAuthorizedError, match="no PIN"):
        pin_client.sign_in("nopin", PASSWORD)
    assert pin_client.current_user_state is UserState.SIGNED_OUT


def test_a_pin_in_clear_is_refused_at_sign_up(
    pin_client: AuthClient, emulator: Emulator, pin: ModuleType
) -> None:
    before = emulator.count("SignUp")
    with pytest.raises(InvalidParameterError, match="hash_pin") as caught:
        pin_client.sign_up("clear", PASSWORD, attributes={pin.PIN_ATTRIBUTE: PIN})
    assert PIN not in str(caught.value)
    assert emulator.count("SignUp") == before


# -- (c) a spec that names a step the provider lacks -----------------------------------------------


def test_a_provider_lacking_a_step_its_spec_names_is_refused(
    pin: ModuleType,
    pin_site: Path,
    tmp_path: Path,
    aws_config: dict[str, Any],
    emulator: Emulator,
    clock: FakeClock,
) -> None:
    spec = yaml.safe_load(Path(pin.SPEC_PATH).read_text(encoding="utf-8"))
    challenged = next(s for s in spec["states"] if s["name"] == "challenged")
    challenged["x-challenges"]["PIN_RESET"] = {"answered_by": "provider", "handler": "reset_pin"}
    path = tmp_path / "sign_in_pin_reset.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")

    class PinWithReset(pin.PinProvider):  # type: ignore[misc,name-defined]
        sign_in_spec = str(path)

    registry = PluginRegistry()
    registry.register("userpool-pin-reset", PinWithReset)
    # The suite names the step...
    built = registry.build("user_pool", "userpool-pin-reset", context(aws_config, clock))
    with pytest.raises(AssertionError, match="reset_pin"):
        check_user_pool_provider(built)
    # ...and so does the client, before any request.
    client = AuthClient.from_config(
        with_provider(aws_config, "userpool-pin-reset"),
        plugins=registry,
        store=MemorySessionStore(),
        clock=clock,
    )
    try:
        before = emulator.count("InitiateAuth")
        with pytest.raises(ProviderError, match="reset_pin"):
            client.sign_in("pia", PASSWORD)
        assert emulator.count("InitiateAuth") == before
        assert client.current_user_state is UserState.SIGNED_OUT
    finally:
        client.close()
