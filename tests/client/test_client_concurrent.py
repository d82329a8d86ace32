"""A property test of the whole client under concurrency: random lives of one app in which
every step runs a batch of 2-3 operations at once, in threads started together, while the
world misbehaves (time jumps, a sign-out on another device, an identity pool that refuses
logins, lost connectivity, answers held back so that operations really overlap).

The ``user_state`` spec is the oracle, as in ``test_client_stateful.py`` (the sequential
version, kept). Each operation may only fail as the contract allows it in this batch's world.
After every step everything must agree, through the public API only: the listeners' history,
``current_user_state`` / ``username`` / ``is_signed_in``, what ``get_tokens(wait=False)``
answers, the saved session, and what a restart restores.

A sign-out that comes while a sign-in waits for the service wins (``no_sign_out_since_start``
in the spec): the batch ends signed out unless another sign-in succeeded after the sign-out
began, and a sign-in answered after the sign-out finished raises ``SignInCancelledError``.
"While" is proved from the emulator's records (a request of the sign-in recorded, or held back,
before the sign-out started), not from thread timestamps: a thread that has recorded its start
may not have begun the call yet.

A sign-in goes by any way of ``SIGN_IN_WAYS`` (every flow, USER_AUTH's first factors and its
SELECT_CHALLENGE), each step answered as ``sign_in_by`` does, so a sign-out or another sign_in
may land at its InitiateAuth, at a RespondToAuthChallenge, or between two steps while a code or
a choice waits for the user. ``confirm_sign_in`` answers whichever challenge is pending: a
sign-in whose challenge was abandoned meets no pending challenge, or answers the newer one.

Sizes: ``FSM_AUTH_LIFE_EXAMPLES`` lives (default 8, 15-22 s under ``pytest -n 2`` on two
cores: a life costs about 3 s, mostly SRP sign-ins and held answers) of up to 10 steps. The
test prints ``concurrent lives: N, steps: M, distinct interleavings: K``, also written to the
file named by ``FSM_AUTH_LIFE_REPORT``; an interleaving is a batch's (operation, outcome) pairs
in completion order with the state changes the listeners saw among them.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from auth_testkit import SIGN_IN_WAYS, sign_in_by, wait_until
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from fsm_auth import (
    AuthClient,
    AWSCredentials,
    CodeMismatchError,
    GuestAccessNotAllowedError,
    IdentityProvider,
    IllegalTransitionError,
    InvalidParameterError,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
    SignInCancelledError,
    SignInResult,
    SignInState,
    Tokens,
    UnableToSignInError,
    UserState,
)
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned, RequestRecord
from fsm_auth.engine import Spec
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD

EXAMPLES = int(os.environ.get("FSM_AUTH_LIFE_EXAMPLES", "8"))
pytestmark = pytest.mark.timeout(max(120, 12 * EXAMPLES))

SPEC = Spec.load("user_state")
# The changes a listener may see: the spec's non-internal transitions that change the state.
LEGAL = frozenset(
    (source, t.dest)
    for t in SPEC.transitions
    if not t.internal
    for source in t.sources
    if source != t.dest
)
SIGNED_OUT_STATES = (UserState.SIGNED_OUT, UserState.GUEST)
TOKEN_INVALID_STATES = (
    UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID,
    UserState.SIGNED_OUT_FEDERATED_TOKENS_INVALID,
)

OP_TIMEOUT = 20.0  # real seconds a batch may take before it counts as a deadlock
SETTLE = 3.0  # real seconds for effects of background work (a save, a listener) to land
# A jump of the clock this long during a request makes the tokens it brings expired on
# arrival (they live 3600 s): their verification fails like a refusal.
TOKEN_LIFETIME_JUMP = 3000
# A sign-in's challenge session lives 3 minutes at Cognito (and the emulator): a jump longer
# than that while the answer is on its way makes the service refuse the answer as expired.
CHALLENGE_SESSION_JUMP = 180

_serial = itertools.count()


# -- what a batch is made of -------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One operation of a batch, started ``after`` real seconds past the common start; a
    ``sign_in`` signs in by ``way``, one of ``SIGN_IN_WAYS`` (flow, first factor), answering
    every step as ``sign_in_by`` does, ``think`` real seconds after each challenge (the user
    typing a code: a window where nothing is in flight and the challenge waits)."""

    name: str
    arg: Any = None
    after: float = 0.0
    way: tuple[str, str | None] | None = None
    think: float = 0.0

    @property
    def label(self) -> str:
        if self.way is not None:
            flow, factor = self.way
            think = f", think {self.think}" if self.think else ""
            return f"{self.name}({flow}{'' if factor is None else '/' + factor}{think})"
        return self.name if self.arg is None else f"{self.name}({self.arg})"


@dataclass(frozen=True)
class World:
    """How the world misbehaves during one batch (set up before it, undone after it).

    ``delay``: the first ``operation`` request is held ``seconds`` (then answered);
    ``pool_refuses``: GetCredentialsForIdentity refuses every login;
    ``drop``: the first ``operation`` request loses its connection;
    ``offline``: the emulator is stopped for the whole batch.
    """

    kind: str
    operation: str | None = None
    seconds: float = 0.0


_AFTER = st.sampled_from([0.0, 0.0, 0.03, 0.12])
_THINK = st.sampled_from([0.0, 0.0, 0.1])
# Every flow and first factor; those with a RespondToAuthChallenge (all but the one-request
# password ways) for the race that holds one back.
WAYS = st.sampled_from(SIGN_IN_WAYS)
ONE_REQUEST_WAYS = (("USER_PASSWORD_AUTH", None), ("USER_AUTH", "PASSWORD"))
CHALLENGED_WAYS = st.sampled_from([w for w in SIGN_IN_WAYS if w not in ONE_REQUEST_WAYS])
# The flows a sign-in's InitiateAuth names (CUSTOM_WITH_SRP is CUSTOM_AUTH with SRP_A); a
# refresh names REFRESH_TOKEN_AUTH.
SIGN_IN_AUTH_FLOWS = frozenset({"USER_SRP_AUTH", "USER_PASSWORD_AUTH", "CUSTOM_AUTH", "USER_AUTH"})
FIRST_FACTORS = ("PASSWORD", "EMAIL_OTP", "SMS_OTP")
OPS = st.one_of(
    st.builds(Op, st.just("sign_in"), after=_AFTER, way=WAYS, think=_THINK),
    st.builds(Op, st.just("sign_out"), st.sampled_from(["local", "global"]), after=_AFTER),
    st.builds(Op, st.just("federated_sign_in"), after=_AFTER),
    st.builds(Op, st.just("get_tokens"), after=_AFTER),
    st.builds(Op, st.just("get_aws_credentials"), after=_AFTER),
    st.builds(Op, st.just("get_identity_id"), after=_AFTER),
    st.builds(Op, st.just("time_passes"), st.sampled_from([60, 1800, 3700]), after=_AFTER),
    st.builds(Op, st.just("signed_out_on_another_device"), after=_AFTER),
)
HELD_OPERATIONS = ("InitiateAuth", "RespondToAuthChallenge", "GetCredentialsForIdentity")
DROPPED_OPERATIONS = (
    "InitiateAuth",
    "RespondToAuthChallenge",
    "GetId",
    "GetCredentialsForIdentity",
    "RevokeToken",
    "GlobalSignOut",
)
WORLD = st.one_of(
    st.builds(
        World,
        st.just("delay"),
        st.sampled_from(HELD_OPERATIONS),
        st.sampled_from([0.05, 0.1, 0.2, 0.3]),
    ),
    st.just(World("pool_refuses")),
    st.builds(World, st.just("drop"), st.sampled_from(DROPPED_OPERATIONS)),
    st.just(World("offline")),
)
# The ways that prompt the caller (a code, a choice): a sign-out may land between two steps.
PROMPTING_WAYS = st.sampled_from(
    [(flow, factor) for flow, factor in SIGN_IN_WAYS if flow.startswith("CUSTOM")]
    + [(flow, factor) for flow, factor in SIGN_IN_WAYS if factor and "OTP" in factor]
    + [(flow, factor) for flow, factor in SIGN_IN_WAYS if factor and "SELECT:" in factor]
)
# The sign-in side of the targeted race: which request of which sign-in (and way) is held
# back; RespondToAuthChallenge only for the ways that send one (the first is held: the SRP
# proof, the choice at SELECT_CHALLENGE, or the code). None: nothing is held, the user takes
# that long to answer each challenge (the sign-out lands while one waits, or in flight).
HELD_SIGN_INS = st.one_of(
    st.tuples(st.just("sign_in"), st.just("InitiateAuth"), WAYS),
    st.tuples(st.just("sign_in"), st.just("RespondToAuthChallenge"), CHALLENGED_WAYS),
    st.tuples(st.just("sign_in"), st.none(), PROMPTING_WAYS),
    st.tuples(st.just("federated_sign_in"), st.just("GetCredentialsForIdentity"), st.none()),
)


@dataclass(eq=False)
class Run:
    """One operation of a batch as it ran: when, what it answered, what the emulator had
    recorded around it."""

    op: Op
    token: str | None = None  # the provider token of a federated sign-in
    start: float = 0.0
    end: float = 0.0
    result: Any = None
    error: BaseException | None = None
    done: bool = False
    requests_before: int = 0  # emulator records made before the call started
    requests_after: int = 0  # ... and before it returned (a lower bound)
    held_before: tuple[int, ...] = ()  # hits of the batch's delay faults when it started
    # A sign_in's calls in order, each "call->STATE" once answered: the last is bare when it
    # raised (sign_in, or confirm_sign_in once a challenge was prompted).
    calls: list[str] = field(default_factory=list)

    @property
    def raised_in(self) -> str | None:
        """The sign-in call that raised (``sign_in`` or ``confirm_sign_in``), if one did."""
        if self.error is None or not self.calls or "->" in self.calls[-1]:
            return None
        return self.calls[-1]

    @property
    def prompted(self) -> bool:
        """A sign_in that reached a challenge for the caller (an attempt another sign-in's
        confirm_sign_in could answer, or that another sign_in could abandon)."""
        return any("->" in c and not c.endswith("->DONE") for c in self.calls)

    @property
    def sent_nothing(self) -> bool:
        """A sign_in refused at once, another sign-in being in flight: it sent no request."""
        return isinstance(self.error, IllegalTransitionError) and self.raised_in == "sign_in"

    @property
    def ok(self) -> bool:
        return self.done and self.error is None

    @property
    def outcome(self) -> str:
        if not self.done:
            return "stuck"
        if self.error is not None:
            return type(self.error).__name__
        result = self.result
        if isinstance(result, SignInResult):
            return result.state.value
        if isinstance(result, UserState):
            return result.value
        if isinstance(result, Tokens):
            return "tokens"
        if isinstance(result, AWSCredentials):
            return "credentials"
        if isinstance(result, str):
            return "identity_id"
        return "ok"


@dataclass(eq=False)
class Step:
    """What the world did during one step (its batch)."""

    first_request: int  # the emulator's first record of the step
    offline: bool = False
    pool_refuses: bool = False
    clock_jump: int = 0


@dataclass(eq=False)
class Batch:
    runs: list[Run]
    world: Sequence[World]
    faults: list[tuple[World, Fault]]
    first_request: int
    t0: float
    requests: list[RequestRecord] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def offline(self) -> bool:
        return any(w.kind in ("offline", "drop") for w in self.world)

    @property
    def pool_refuses(self) -> bool:
        return any(w.kind == "pool_refuses" for w in self.world)

    @property
    def clock_jump(self) -> int:
        jump = 0
        for run in self.runs:
            if run.op.name == "time_passes":
                jump += int(run.op.arg)
            elif run.op.name == "signed_out_on_another_device":
                jump += 3700
        return jump

    def of(self, *names: str) -> list[Run]:
        return [run for run in self.runs if run.op.name in names]

    def describe(self) -> str:
        lines = [f"world: {list(self.world)}"]
        for run in sorted(self.runs, key=lambda r: r.start):
            lines.append(
                f"  {run.op.label} +{run.op.after}: {run.start - self.t0:.3f}s.."
                f"{run.end - self.t0:.3f}s -> {run.outcome}"
                + (f" ({run.error})" if run.error is not None else "")
                + (f" {run.calls}" if run.calls else "")
                + f" [records {run.requests_before}..{run.requests_after}]"
            )
        for index, record in enumerate(self.requests[self.first_request :], self.first_request):
            lines.append(f"  record {index}: {record.operation} {record.status}")
        lines.append(f"  events: {self.events}")
        return "\n".join(lines)


def _overlap(a: Run, b: Run) -> bool:
    return a.start < b.end and b.start < a.end


def _auth_flow(record: RequestRecord) -> Any:
    return record.params.get("AuthFlow")


def _is_refused_refresh(record: RequestRecord) -> bool:
    return (
        record.operation == "InitiateAuth"
        and _auth_flow(record) == "REFRESH_TOKEN_AUTH"
        and record.status >= 400
    )


class _StoreView:
    """The app's store as a restarted client sees it: the very same store while the client
    is open. Once it is closed, its writes are counted in ``late_writes`` and held back: a
    closed client's in-flight guest refresh still saves its (older) session, a library bug
    pinned by ``test_a_closed_client_no_longer_writes_the_session`` below, which would
    otherwise overwrite the app's newer session here at random."""

    def __init__(self, store: MemorySessionStore, late_writes: list[str]) -> None:
        self._store = store
        self._late = late_writes
        self.closed = False

    def load(self) -> dict[str, Any] | None:
        return self._store.load()

    def save(self, data: Mapping[str, Any]) -> None:
        if self.closed:
            self._late.append("save")
        else:
            self._store.save(data)

    def clear(self) -> None:
        if self.closed:
            self._late.append("clear")
        else:
            self._store.clear()

    def lock(self) -> Any:
        return self._store.lock()

    def version(self) -> object:
        return self._store.version()

    def scoped(self, configuration: str) -> _StoreView:
        # A view of the app's record, already the configuration's (the one app there is).
        return self


class _Steps:
    """The client as ``sign_in_by`` sees it: each sign_in / confirm_sign_in is noted on the
    run (``Run.calls``) with the state it answered, the last answer kept as the result."""

    def __init__(self, client: AuthClient, run: Run) -> None:
        self._client, self._run = client, run

    def sign_in(self, *args: Any, **kwargs: Any) -> SignInResult:
        return self._noted("sign_in", self._client.sign_in, *args, **kwargs)

    def confirm_sign_in(self, *args: Any, **kwargs: Any) -> SignInResult:
        if self._run.op.think:
            time.sleep(self._run.op.think)
        return self._noted("confirm_sign_in", self._client.confirm_sign_in, *args, **kwargs)

    def _noted(self, call: str, method: Any, *args: Any, **kwargs: Any) -> SignInResult:
        self._run.calls.append(call)
        result: SignInResult = method(*args, **kwargs)
        self._run.calls[-1] = f"{call}->{result.state.value}"
        self._run.result = result
        return result


class _ErrorLog(logging.Handler):
    """Keeps the first line of every ERROR the library logs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        failure = f": {record.exc_info[1]!r}" if record.exc_info else ""
        self.messages.append(record.getMessage().splitlines()[0] + failure)


def test_concurrent_lives_follow_the_spec(
    emulator: Emulator, clock: FakeClock, admin_idp: Any
) -> None:
    # Every sign-in flow, and USER_AUTH's first factors (a password, codes by e-mail and SMS);
    # the custom challenge is a code the emulator sends.
    pool = emulator.provision(first_factors=FIRST_FACTORS)
    config = pool.aws_configuration()
    counts = {"lives": 0, "steps": 0}
    interleavings: set[tuple[tuple[str, str, str], ...]] = set()
    late_writes: list[str] = []
    errors = _ErrorLog()  # what the library logged as an error (a failed effect...)
    # The first failure as it happened, with its life: hypothesis's replay of a failing life
    # may run differently (timing), and then reports only that it did (Flaky...).
    first_failure: list[str] = []

    class ConcurrentLife(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            counts["lives"] += 1
            # One app per life: its store is shared by its restarts (the clients of earlier
            # lives, closed, must not reach it).
            self.store = store = MemorySessionStore().scoped(load_config(config).config_key)
            emulator.faults.clear()
            emulator.reset_requests()
            self.username = f"crowd{next(_serial)}"
            self.history: list[str] = [UserState.UNKNOWN.value]
            self._lock = threading.Lock()
            self._events: list[tuple[str, str, str]] | None = None
            self.client = AuthClient.from_config(config, store=store, clock=clock)
            self.client.add_user_state_listener(self._listener)
            self.client.sign_up(
                self.username, PASSWORD, attributes={"email": f"{self.username}@example.com"}
            )
            self.client.confirm_sign_up(self.username, emulator.last_code(self.username, "sign_up"))
            # A verified phone, for the SMS_OTP first factor.
            admin_idp.admin_update_user_attributes(
                UserPoolId=pool.user_pool_id,
                Username=self.username,
                UserAttributes=[
                    {"Name": "phone_number", "Value": "+15555550123"},
                    {"Name": "phone_number_verified", "Value": "true"},
                ],
            )
            self.steps: list[Step] = []
            self.trace: list[str] = []
            # Whether the clock ever jumped past a token's life in this life (see below).
            self.clock_jumped = False
            self._new_step()

        def _listener(self, state: UserState, info: Mapping[str, str]) -> None:
            with self._lock:
                self.history.append(state.value)
                if self._events is not None:
                    self._events.append(("state", state.value, ""))

        def _new_step(self) -> Step:
            """A step begins. What the world did in it and in the step before justifies a
            failure seen now (background work may land a little later)."""
            step = Step(len(emulator.requests))
            self.steps = [*self.steps[-1:], step]
            return step

        def _recently(self, what: Callable[[Step], bool]) -> bool:
            return any(what(step) for step in self.steps)

        @contextlib.contextmanager
        def _noted(self, call: str | None = None) -> Iterator[None]:
            """Run a step (``call``) or the invariant, keeping the first failure."""
            if call is not None:
                self.trace.append(call)
            try:
                yield
            except Exception as exc:
                if not first_failure:
                    life = "\n".join(f"  state.{c}" for c in self.trace)
                    when = "in the last step" if call else "after the last step"
                    first_failure.append(
                        f"life {self.username}:\n{life}\nfailed {when}: {type(exc).__name__}: {exc}"
                    )
                raise

        # -- the life -------------------------------------------------------------------------

        @initialize(how=st.sampled_from(["nothing", "user_pool", "federated", "guest"]), way=WAYS)
        def start(self, how: str, way: tuple[str, str | None]) -> None:
            # Lives start from each way in, so later operations have something to end.
            with self._noted(f"start(how={how!r}, way={way!r})"):
                self.client.initialize()
                if how == "user_pool":
                    sign_in_by(self.client, emulator, self.username, PASSWORD, *way)
                elif how == "federated":
                    self.client.federated_sign_in(IdentityProvider.GOOGLE, self._token())
                elif how == "guest":
                    self.client.get_aws_credentials(wait=False)

        @rule(ops=st.lists(OPS, min_size=2, max_size=3), world=st.lists(WORLD, max_size=2))
        def batch(self, ops: list[Op], world: list[World]) -> None:
            with self._noted(f"batch(ops={ops!r}, world={world!r})"):
                self._batch(ops, world)

        @rule(
            held=HELD_SIGN_INS,
            seconds=st.sampled_from([0.3, 0.15]),
            after=st.sampled_from([0.08, 0.15, 0.03]),
            everywhere=st.sampled_from(["local", "global"]),
            third=st.none() | OPS,
        )
        def sign_out_during_sign_in(
            self,
            held: tuple[str, str | None, tuple[str, str | None] | None],
            seconds: float,
            after: float,
            everywhere: str,
            third: Op | None,
        ) -> None:
            # The race of test_sign_out_races, among the others: a sign-in's request is held
            # back and a sign-out starts while it waits (a sign-in by any way: at its
            # InitiateAuth, or at the RespondToAuthChallenge of a proof, a choice or a code), or
            # while a challenge waits for the user's answer (``seconds`` of thinking).
            sign_in, operation, way = held
            think = seconds if operation is None else 0.0
            ops = [Op(sign_in, way=way, think=think), Op("sign_out", everywhere, after=after)]
            if third is not None:
                ops.append(third)
            call = (
                f"sign_out_during_sign_in(held={held!r}, seconds={seconds!r}, after={after!r}, "
                f"everywhere={everywhere!r}, third={third!r})"
            )
            with self._noted(call):
                world = [] if operation is None else [World("delay", operation, seconds)]
                self._batch(ops, world)

        @rule(
            way=PROMPTING_WAYS,
            rival=WAYS,
            think=st.sampled_from([0.15, 0.3]),
            after=st.sampled_from([0.03, 0.08, 0.15]),
            rival_thinks=st.sampled_from([0.0, 0.1]),
        )
        def sign_in_during_sign_in(
            self,
            way: tuple[str, str | None],
            rival: tuple[str, str | None],
            think: float,
            after: float,
            rival_thinks: float,
        ) -> None:
            # A second sign_in while the first one's challenge waits for the user's answer (or
            # while its request is in flight): it abandons the pending challenge, and the
            # first one's confirm_sign_in answers whatever challenge is pending then.
            ops = [
                Op("sign_in", way=way, think=think),
                Op("sign_in", way=rival, think=rival_thinks, after=after),
            ]
            call = (
                f"sign_in_during_sign_in(way={way!r}, rival={rival!r}, think={think!r}, "
                f"after={after!r}, rival_thinks={rival_thinks!r})"
            )
            with self._noted(call):
                self._batch(ops, [])

        # -- running a batch ------------------------------------------------------------------

        def _token(self) -> str:
            return f"google-token-{self.username}-{next(_serial)}"

        def _batch(self, ops: Sequence[Op], world: Sequence[World]) -> None:
            step = self._new_step()
            counts["steps"] += 1
            runs = [Run(op, token=self._token() if op.name == "federated_sign_in" else None)
                    for op in ops]  # fmt: skip
            batch = Batch(runs, world, [], step.first_request, time.monotonic())
            offline = any(w.kind == "offline" for w in world)
            if any(r.op.name == "signed_out_on_another_device" for r in runs) and offline:
                # The other device reaches the service even while this one is offline.
                self._other_device_signs_out()
            barrier = threading.Barrier(len(runs))
            threads = [
                threading.Thread(target=self._run, args=(run, batch, barrier, offline), daemon=True)
                for run in runs
            ]
            with self._lock:
                self._events = batch.events
            try:
                for w in world:
                    self._misbehave(w, batch)
                if offline:
                    emulator.stop()
                batch.t0 = time.monotonic()
                for thread in threads:
                    thread.start()
                deadline = time.monotonic() + OP_TIMEOUT
                for run, thread in zip(runs, threads, strict=True):
                    thread.join(max(0.0, deadline - time.monotonic()))
                    if thread.is_alive():
                        raise AssertionError(
                            f"deadlock: {run.op.label} did not finish within {OP_TIMEOUT} s\n"
                            + batch.describe()
                        )
            finally:
                with self._lock:
                    self._events = None
                emulator.faults.clear()
                if offline:
                    emulator.start()
            batch.requests = emulator.requests
            step.offline, step.pool_refuses = batch.offline, batch.pool_refuses
            step.clock_jump = batch.clock_jump
            interleavings.add(tuple(batch.events))
            self.last_batch = batch
            for run in runs:
                self._check_outcome(run, batch)
            self._check_sign_out_wins(batch)

        def _misbehave(self, world: World, batch: Batch) -> None:
            if world.kind == "delay":
                fault = Fault(operation=world.operation, delay=world.seconds, times=1)
            elif world.kind == "drop":
                fault = Fault(operation=world.operation, drop=True, times=1)
            elif world.kind == "pool_refuses":
                fault = Fault(
                    operation="GetCredentialsForIdentity",
                    error=("NotAuthorizedException", "Invalid login token.", 400),
                )
            else:
                return
            batch.faults.append((world, emulator.faults.inject(fault)))

        def _run(self, run: Run, batch: Batch, barrier: threading.Barrier, offline: bool) -> None:
            try:
                barrier.wait(OP_TIMEOUT)
                if run.op.after:
                    time.sleep(run.op.after)
                run.held_before = tuple(f.hits for w, f in batch.faults if w.kind == "delay")
                run.requests_before = len(emulator.requests)
                run.start = time.monotonic()
                run.result = self._call(run, offline)
            except BaseException as exc:  # every outcome is judged after the batch
                run.error = exc
            run.end = time.monotonic()
            run.requests_after = len(emulator.requests)
            run.done = True
            with self._lock:
                batch.events.append(("done", run.op.label, run.outcome))

        def _call(self, run: Run, offline: bool) -> Any:
            client, op = self.client, run.op
            if op.name == "sign_in":
                assert op.way is not None
                sign_in_by(_Steps(client, run), emulator, self.username, PASSWORD, *op.way)
                return run.result  # the last answer: DONE
            if op.name == "sign_out":
                return client.sign_out(global_sign_out=op.arg == "global")
            if op.name == "federated_sign_in":
                return client.federated_sign_in(IdentityProvider.GOOGLE, str(run.token))
            if op.name == "get_tokens":
                return client.get_tokens(wait=False)
            if op.name == "get_aws_credentials":
                return client.get_aws_credentials(wait=False)
            if op.name == "get_identity_id":
                return client.get_identity_id()
            if op.name == "time_passes":
                return clock.advance(op.arg)
            if op.name == "signed_out_on_another_device":
                if not offline:
                    self._other_device_signs_out()
                return clock.advance(3700)  # then the refresh token's answer: refused
            raise AssertionError(f"unknown operation {op.name}")

        def _other_device_signs_out(self) -> None:
            admin_idp.admin_user_global_sign_out(
                UserPoolId=pool.user_pool_id, Username=self.username
            )

        # -- judging a batch ------------------------------------------------------------------

        def _check_outcome(self, run: Run, batch: Batch) -> None:
            """Only what the contract allows the operation, in this batch's world."""
            name, error = run.op.name, run.error
            others = [r for r in batch.runs if r is not run]
            sign_out_overlaps = any(r.op.name == "sign_out" and _overlap(r, run) for r in others)
            allowed: list[type[BaseException]] = []
            if batch.offline:
                allowed.append(NetworkError)
            if name == "sign_in":
                allowed += self._sign_in_may_raise(run, batch, sign_out_overlaps)
            elif name == "federated_sign_in":
                if sign_out_overlaps:
                    allowed.append(SignInCancelledError)
                if batch.pool_refuses:
                    allowed.append(NotAuthorizedError)
            elif name == "get_tokens":
                allowed += [NotSignedInError, UnableToSignInError]
            elif name in ("get_aws_credentials", "get_identity_id"):
                allowed.append(UnableToSignInError)
                if name == "get_identity_id":
                    allowed.append(NotSignedInError)
                if batch.pool_refuses:
                    allowed += [NotAuthorizedError, GuestAccessNotAllowedError]
                if batch.clock_jump >= TOKEN_LIFETIME_JUMP:
                    # The clock jumped past the id token's life while the identity pool was
                    # asked with it: the pool refuses it as expired on arrival (as it refuses
                    # a sign-in's tokens above); the state is judged by the invariants.
                    allowed.append(NotAuthorizedError)
            else:  # sign_out, time passing, the other device: nothing may fail
                allowed = []
            if error is not None:
                assert isinstance(error, tuple(allowed)), (
                    f"{run.op.label} raised {type(error).__name__}: {error}\n" + batch.describe()
                )
                return
            result = run.result
            if name == "sign_in":
                assert result.state is SignInState.DONE, batch.describe()
            elif name == "get_tokens":
                assert result.username == self.username, batch.describe()
                if batch.clock_jump == 0:
                    assert result.expiration.timestamp() - clock() >= 30, batch.describe()
            elif name == "get_aws_credentials" and batch.clock_jump == 0:
                assert result.expiration.timestamp() - clock() >= 30, batch.describe()

        def _sign_in_may_raise(
            self, run: Run, batch: Batch, sign_out_overlaps: bool
        ) -> list[type[BaseException]]:
            """What a sign_in (by any way, each step answered as ``sign_in_by`` does) may raise
            in this batch, beyond the world's NetworkError. A step is the sign_in call, or a
            confirm_sign_in once a challenge was prompted (``run.raised_in``)."""
            error, raised_in = run.error, run.raised_in
            message = str(error)
            # Other sign-ins of the batch that ran at the same time, and those of them that
            # started an attempt (not refused at once), which abandons a pending challenge.
            rivals = [r for r in batch.of("sign_in") if r is not run and _overlap(r, run)]
            starters = [r for r in rivals if not r.sent_nothing]
            allowed: list[type[BaseException]] = []
            if sign_out_overlaps:
                # The sign-out abandoned the attempt in flight, or its tokens were discarded.
                allowed.append(SignInCancelledError)
            if (
                isinstance(error, SignInCancelledError)
                and starters
                and raised_in == "confirm_sign_in"
                and "The challenge was abandoned" in message
            ):
                # A rival's sign_in abandoned this pending challenge between this
                # confirm_sign_in's look at it and its answer (the driver's answer()).
                allowed.append(SignInCancelledError)
            if isinstance(error, IllegalTransitionError):
                if raised_in == "sign_in" and rivals:
                    # A rival's attempt was in flight: "a sign-in is already in progress".
                    allowed.append(IllegalTransitionError)
                elif raised_in == "confirm_sign_in":
                    if "needs a pending sign-in challenge" in message and (
                        sign_out_overlaps or starters
                    ):
                        # This attempt was abandoned between two steps: a sign-out reset it,
                        # or a rival's sign_in took its place (then was in flight, done or
                        # failed, with no challenge pending).
                        allowed.append(IllegalTransitionError)
                    if "already being sent" in message and any(r.prompted for r in rivals):
                        # A rival answered the same pending challenge (the rival's, or this
                        # one's) first.
                        allowed.append(IllegalTransitionError)
            if raised_in == "confirm_sign_in" and any(r.prompted for r in rivals):
                # confirm_sign_in answers whichever challenge is pending: a rival's sign_in
                # that reached a challenge since replaced this one, so this answer (a code, a
                # choice, the password) went to the rival's challenge, which may not take it:
                # a code of another kind or a superseded one (CodeMismatch), a code as the
                # choice at SELECT_CHALLENGE (InvalidParameter), a choice or a code as the
                # password asked there (NotAuthorized).
                allowed += [CodeMismatchError, InvalidParameterError, NotAuthorizedError]
            if batch.clock_jump >= CHALLENGE_SESSION_JUMP:
                # The challenge session expired in flight (or between two steps), or the
                # tokens on arrival.
                allowed.append(NotAuthorizedError)
            return allowed

        def _sign_in_requests(self, run: Run, batch: Batch) -> list[tuple[int, RequestRecord]]:
            """The emulator's records of ``run``'s own requests (empty when they cannot be told
            from another operation's)."""
            records = list(enumerate(batch.requests))[batch.first_request :]
            if run.op.name == "federated_sign_in":
                return [
                    (i, r)
                    for i, r in records
                    if run.token in (r.params.get("Logins") or {}).values()
                ]
            sign_ins = [r for r in batch.of("sign_in") if not r.sent_nothing]
            if sign_ins != [run]:
                return []
            return [
                (i, r)
                for i, r in records
                if (r.operation == "InitiateAuth" and _auth_flow(r) in SIGN_IN_AUTH_FLOWS)
                or r.operation == "RespondToAuthChallenge"
            ]

        def _started_before(self, run: Run, out: Run, batch: Batch) -> bool:
            """Proof that ``run`` (a sign-in) took the sign-out epoch before ``out`` (a
            sign-out) started: one of its requests was recorded, or held back by a delay
            fault that only its requests met, before ``out`` started."""
            own = self._sign_in_requests(run, batch)
            if any(index < out.requests_before for index, _ in own):
                return True
            delays = [f for w, f in batch.faults if w.kind == "delay"]
            for fault, hits in zip(delays, out.held_before, strict=True):
                if hits == 0:
                    continue
                # The held request was answered by out.start + delay: wait for its record,
                # whoever sent it (a background refresh may have).
                pause = out.start + (fault.delay or 0.0) + 0.2 - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                    batch.requests = emulator.requests
                same_operation = [
                    i
                    for i, r in enumerate(batch.requests)
                    if i >= batch.first_request and r.operation == fault.operation
                ]
                own_indexes = {index for index, _ in own}
                if same_operation and set(same_operation) <= own_indexes:
                    return True
            return False

        def _check_sign_out_wins(self, batch: Batch) -> None:
            """A sign-out that came while a sign-in waited for the service wins: the sign-in's
            late answer is discarded (SignInCancelledError) and the batch ends signed out,
            unless another sign-in, not proved older than the sign-out, succeeded after it
            began."""
            final = self.client.current_user_state
            sign_ins = batch.of("sign_in", "federated_sign_in")
            for out in batch.of("sign_out"):
                older = [s for s in sign_ins if self._started_before(s, out, batch)]
                for s in older:
                    own = self._sign_in_requests(s, batch)
                    # Any request of a user-pool sign-in answered after the sign-out finished
                    # ends it: tokens are discarded, a challenge is dropped (its attempt is no
                    # longer current), an SRP proof is not sent. A federated sign-in's last.
                    final_requests = [
                        (i, r)
                        for i, r in own
                        if s.op.name == "sign_in" or r.operation == "GetCredentialsForIdentity"
                    ]
                    answered_late = any(
                        i >= out.requests_after and r.status == 200 for i, r in final_requests
                    )
                    if answered_late:
                        # The answer came after the sign-out had finished: discarded.
                        allowed: tuple[type[BaseException], ...] = (SignInCancelledError,)
                        if batch.offline:
                            allowed += (NetworkError,)
                        if batch.clock_jump >= TOKEN_LIFETIME_JUMP:
                            allowed += (NotAuthorizedError,)
                        assert isinstance(s.error, allowed), (
                            f"{s.op.label} was answered after {out.op.label} finished, yet "
                            f"it ended with {s.outcome}: the sign-out must win\n" + batch.describe()
                        )
                if not older or final is not UserState.SIGNED_IN:
                    continue
                later = [p for p in sign_ins if p not in older and p.ok and p.end > out.start]
                assert later, (
                    f"{out.op.label} came while {[s.op.label for s in older]} waited for the "
                    f"service, and nothing signed in after it, yet the batch ended signedIn\n"
                    + batch.describe()
                )

        # -- everything agrees, after every step ----------------------------------------------

        def _refusal_this_step(self) -> bool:
            records = emulator.requests[self.steps[0].first_request :]
            return any(_is_refused_refresh(r) for r in records) or self._recently(
                lambda step: step.clock_jump >= TOKEN_LIFETIME_JUMP
            )

        def _context(self) -> str:
            batch = getattr(self, "last_batch", None)
            late = f"\nlate writes of closed clients: {late_writes}" if late_writes else ""
            return f"\nhistory: {self.history}" + ("\n" + batch.describe() if batch else "") + late

        @invariant()
        def everything_agrees(self) -> None:
            with self._noted():
                self._tokens_fit_the_state()
                self._listeners_saw_declared_transitions()
                self._saved_session_agrees()
                self._restart_restores_it()

        def _tokens_fit_the_state(self) -> None:
            self.clock_jumped = self.clock_jumped or self._recently(
                lambda step: step.clock_jump >= TOKEN_LIFETIME_JUMP
            )
            client = self.client
            state, username = client.current_user_state, client.username
            assert client.is_signed_in == (state is UserState.SIGNED_IN)
            outcome: Any
            try:
                outcome = client.get_tokens(wait=False)
            except (NotSignedInError, UnableToSignInError, NetworkError) as exc:
                outcome = exc
            after = client.current_user_state
            what = f"{state.value} (user {username!r}) -> {outcome!r}, then {after.value}"
            if isinstance(outcome, NetworkError):
                assert self._recently(lambda step: step.offline), what + self._context()
                return
            if state in SIGNED_OUT_STATES:
                assert username is None, what + self._context()
                assert isinstance(outcome, NotSignedInError), what + self._context()
            elif state is UserState.SIGNED_IN and username is not None:
                if isinstance(outcome, Tokens):
                    assert outcome.username == username, what + self._context()
                    # Judged by the client's estimate of the service's time: a clock jump
                    # while tokens were on their way is learnt as an offset from their iat
                    # (ServerClock), as a device clock that moves mid-request is in the field;
                    # only such a jump may have moved that estimate off the test's clock.
                    service_now = client._clock()
                    if service_now != clock():
                        assert self.clock_jumped, what + self._context()
                    assert outcome.expiration.timestamp() - service_now >= 30, what
                else:
                    # Only a refused refresh (or tokens expired on arrival), and it moved on.
                    assert isinstance(outcome, UnableToSignInError), what + self._context()
                    assert self._refusal_this_step(), what + self._context()
                    assert after is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID, what
            elif state is UserState.SIGNED_IN:  # federated: no user pool tokens
                if isinstance(outcome, UnableToSignInError):
                    # A refusal of the provider's token landed meanwhile (background refresh).
                    assert self._recently(lambda step: step.pool_refuses), what + self._context()
                    assert after is UserState.SIGNED_OUT_FEDERATED_TOKENS_INVALID, what
                else:
                    assert isinstance(outcome, NotSignedInError), what + self._context()
            else:  # *TokenInvalid: wait for a sign-in, and wait=False says so at once
                assert isinstance(outcome, UnableToSignInError), what + self._context()
                if state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID:
                    assert username == self.username, what + self._context()
                else:
                    assert username is None, what + self._context()

        def _settled(self, check: Callable[[], str | None]) -> None:
            """``check()`` (a mismatch, or None) must hold once background work has landed:
            a save or a notification runs just after its transition commits."""
            deadline = time.monotonic() + SETTLE
            while (problem := check()) is not None:
                assert time.monotonic() < deadline, problem + self._context()
                time.sleep(0.01)

        def _listeners_saw_declared_transitions(self) -> None:
            with self._lock:
                history = list(self.history)
            for old, new in itertools.pairwise(history):
                assert old != new, f"a self-loop {old} -> {new} was reported" + self._context()
                assert (old, new) in LEGAL, f"{old} -> {new} is not in the spec" + self._context()

            def last_notified_is_current() -> str | None:
                with self._lock:
                    last = self.history[-1]
                current = self.client.current_user_state.value
                return None if last == current else f"listeners last saw {last}, state {current}"

            self._settled(last_notified_is_current)

        def _saved_session_agrees(self) -> None:
            def mismatch() -> str | None:
                client = self.client
                state, username = client.current_user_state, client.username
                document = self.store.load()
                if document is None:  # nothing saved yet
                    ok = state in SIGNED_OUT_STATES and username is None
                    return None if ok else f"no saved session, but {state.value}"
                if document.get("schema") != 2:
                    return f"saved schema {document.get('schema')!r}"
                user = document["user"]
                what = f"{state.value} (user {username!r}) saved as {user and user.get('kind')}"
                if (user is None) != (state in SIGNED_OUT_STATES):
                    return what
                if user is None:
                    return None if username is None else what
                if user["kind"] == "user_pool":
                    ok = user["username"] == username and username is not None
                    ok = ok and state is not UserState.SIGNED_OUT_FEDERATED_TOKENS_INVALID
                else:
                    ok = user["kind"] == "federated" and user.get("provider") and username is None
                    ok = ok and state is not UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID
                return None if ok else what

            self._settled(mismatch)

        def _restart_restores_it(self) -> None:
            """A second client on the same store and clock restores what the spec's restore
            rules say for the saved session, with the same user."""
            client, store = self.client, self.store

            def session() -> tuple[Any, Any]:
                document = store.load() or {}
                return document.get("user"), (document.get("guest") or {}).get("access")

            for _ in range(5):
                state, username, document = client.current_user_state, client.username, store.load()
                saved = session()
                view = _StoreView(store, late_writes)
                restarted = AuthClient.from_config(config, store=view, clock=clock)
                try:
                    restored = restarted.initialize()
                    restored_username = restarted.username
                finally:
                    restarted.close()
                    view.closed = True
                if client.current_user_state is state and session() == saved:
                    break  # nothing that decides the restore moved while the restart read it
            else:
                raise AssertionError("the session kept changing while the restart read it")
            user = document["user"] if document else None
            access = ((document or {}).get("guest") or {}).get("access")
            identity_pool = client.config.identity_pool
            assert identity_pool is not None
            # The spec's guards of `restore`, read from the saved document.
            guards = {
                "has_user": user is not None,
                "guest_access_enabled": access
                if access is not None
                else bool(identity_pool.unauthenticated_identities_enabled),
            }
            expected = next(
                UserState(t.dest)
                for t in SPEC.transitions_from(UserState.UNKNOWN.value, "restore")
                if all(guards[g] for g in t.conditions) and not any(guards[g] for g in t.unless)
            )
            what = (
                f"{state.value} (user {username!r}) restarted as {restored.value} "
                f"(user {restored_username!r}), saved access {access!r}"
            )
            assert restored is expected, what + self._context()
            assert restored_username == username, what + self._context()
            if state is UserState.SIGNED_IN or state in TOKEN_INVALID_STATES:
                assert restored is UserState.SIGNED_IN, what + self._context()
            elif state is UserState.SIGNED_OUT:
                assert restored is UserState.SIGNED_OUT, what + self._context()
            else:  # a guest stays a guest, unless the pool refused guests since (kept in guest)
                assert restored is UserState.GUEST or access is False, what + self._context()

        def teardown(self) -> None:
            emulator.faults.clear()
            emulator.start()
            self.client.close()

    library = logging.getLogger("fsm_auth")
    library.addHandler(errors)
    try:
        run_state_machine_as_test(
            ConcurrentLife,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                # No shrinking: a failure depends on timing, so shrinking replays lives for
                # minutes and ends in FlakyFailure anyway. The failing life (10 steps at
                # most) is printed as it ran, and the message describes the failing batch.
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            ),
        )
    except Exception as exc:
        if first_failure:
            raise AssertionError(
                "first failure, as it happened (hypothesis's replay below may differ):\n"
                + first_failure[0]
            ) from exc
        raise
    finally:
        library.removeHandler(errors)
        report = (
            f"concurrent lives: {counts['lives']}, steps: {counts['steps']}, "
            f"distinct interleavings: {len(interleavings)}"
        )
        print(report)
        if late_writes:
            print(f"writes by closed (restarted) clients, held back: {len(late_writes)}")
        for line in sorted(set(errors.messages)):
            print(f"library error logged ({errors.messages.count(line)}x): {line}")
        path = os.environ.get("FSM_AUTH_LIFE_REPORT")
        if path:
            with open(path, "w", encoding="utf-8") as out:
                out.write(report + "\n")


def test_a_closed_client_no_longer_writes_the_session(
    emulator: Emulator, clock: FakeClock, pool: Provisioned
) -> None:
    hold = 3.0  # real seconds the old client's refresh waits for the service
    config = pool.aws_configuration()
    store = MemorySessionStore().scoped(load_config(config).config_key)
    old = AuthClient.from_config(config, store=store, clock=clock)
    new = AuthClient.from_config(config, store=store, clock=clock)  # the app's next run
    try:
        new.sign_up("dora", PASSWORD, attributes={"email": "dora@example.com"})
        new.confirm_sign_up("dora", emulator.last_code("dora", "sign_up"))
        old.initialize()
        old.get_aws_credentials(wait=False)  # a guest, whose credentials are kept warm
        assert old.current_user_state is UserState.GUEST
        held = emulator.faults.inject(
            Fault(operation="GetCredentialsForIdentity", delay=hold, times=1)
        )
        clock.advance(3000)  # the guest's credentials are due for their refresh ahead
        assert wait_until(lambda: held.hits == 1), "the guest's refresh never started"
        held_since = time.monotonic()
        old.close()  # the app quits while that refresh waits for the service

        new.initialize()
        assert new.sign_in("dora", PASSWORD).state is SignInState.DONE
        assert (store.load() or {})["user"]["username"] == "dora"
        if time.monotonic() - held_since > hold - 0.5:
            pytest.skip("this machine signed in too slowly to land inside the held refresh")
        time.sleep(held_since + hold + 0.5 - time.monotonic())  # the refresh is answered

        restarted = AuthClient.from_config(config, store=store, clock=clock)
        try:
            assert restarted.initialize() is UserState.SIGNED_IN
            assert restarted.username == "dora"
        finally:
            restarted.close()
    finally:
        old.close()
        new.close()
