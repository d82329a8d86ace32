"""A property test of the whole asyncio client against the emulator: random lives of one app
whose steps run batches of operations as concurrent asyncio tasks on one ``AsyncAuthClient``
(sign-ins by every flow and first factor, sign-outs, tokens, AWS credentials, federation,
initialize), one of them cancelled at a random moment in some batches, while the world moves
between batches (time passing, a sign-out from another device, an identity pool that refuses
logins).

The oracle is the ``user_state`` spec, as in ``test_client_stateful.py`` (sequential) and
``test_client_concurrent.py`` (threads): every change the listeners (a plain one and a
coroutine one, both on the loop) saw is a declared transition, in the same order, the last is
``current_user_state``; each operation's outcome is one the contract allows for the states it
overlapped (its start and end, and every change seen meanwhile); a cancelled task raises
``CancelledError`` and leaves the state as other operations made it: a sign-in step whose
cancellation the library took while nobody was signed in signs nobody in (its work may still
run: its answer is discarded), unless another sign-in of the batch did; a cancelled sign-out
still signs out. (A cancellation that lands after the step's work committed does not undo it:
that sign-in had returned, asyncio only lost its result.) After each batch, once the library's
worker calls have all returned, ``is_signed_in`` and what ``get_tokens(wait=False)`` serves
agree with the state. Some batches start while the process's worker threads are all busy, so a
call may be cancelled while it waits for one: ``test_a_sign_in_cancelled_while_it_waits_...``
below is that failing example made deterministic.

The whole life runs on one event loop made in ``__init__`` (the client binds to the first loop
it is used on), each step through ``loop.run_until_complete``; the loop is closed in
``teardown``. Sizes: ``FSM_AUTH_LIFE_EXAMPLES`` lives (default 25) of up to 10 steps.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from auth_testkit import SIGN_IN_WAYS, answer_for, sign_in_arguments
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
    AsyncAuthClient,
    AWSCredentials,
    CodeMismatchError,
    GuestAccessNotAllowedError,
    IdentityProvider,
    IllegalTransitionError,
    InvalidParameterError,
    NotAuthorizedError,
    NotSignedInError,
    SignInCancelledError,
    SignInResult,
    SignInState,
    Tokens,
    UnableToSignInError,
    UserState,
)
from fsm_auth._async_client import _WORKERS, _workers
from fsm_auth.emulator import Emulator, FakeClock, Fault
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD
from .test_client_stateful import LEGAL

EXAMPLES = int(os.environ.get("FSM_AUTH_LIFE_EXAMPLES", "25"))
pytestmark = pytest.mark.timeout(max(120, 8 * EXAMPLES))

T = TypeVar("T")
BATCH_TIMEOUT = 20.0  # real seconds a batch (and the worker calls it started) may take
SETTLE = 3.0  # real seconds for a listener's call to land after the work is done
SIGNED_OUT_STATES = (UserState.SIGNED_OUT, UserState.GUEST)
_serial = itertools.count()


async def sign_in_by(
    client: Any, emulator: Any, username: str, password: str, flow: str, factor: str | None
) -> list[str]:
    """``auth_testkit.sign_in_by`` for an ``AsyncAuthClient`` (its steps, awaited): sign
    ``username`` in by ``flow`` and ``factor`` (a way of ``SIGN_IN_WAYS``), answering every
    challenge as the user would; the states it went through, ending with ``DONE``."""
    given, preferred = sign_in_arguments(password, flow, factor)
    result = await client.sign_in(username, given, auth_flow=flow, preferred_challenge=preferred)
    states = [result.state.value]
    while result.state.value != "DONE":
        answer = answer_for(result, emulator, username, password, flow, factor)
        result = await client.confirm_sign_in(answer)
        states.append(result.state.value)
    return states


# -- what a batch is made of -------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One operation of a batch, started ``after`` real seconds into it."""

    name: str
    arg: Any = None
    after: float = 0.0

    @property
    def label(self) -> str:
        if self.name == "sign_in":
            flow, factor = self.arg
            return f"sign_in({flow}{'' if factor is None else '/' + factor})"
        return self.name if self.arg is None else f"{self.name}({self.arg})"


_AFTER = st.sampled_from([0.0, 0.0, 0.002, 0.01, 0.04])
SIGN_IN_OP = st.builds(Op, st.just("sign_in"), st.sampled_from(SIGN_IN_WAYS), after=_AFTER)
SIGN_OUT_OP = st.builds(Op, st.just("sign_out"), st.sampled_from(["local", "global"]), after=_AFTER)
OPS = st.one_of(
    SIGN_IN_OP,
    SIGN_OUT_OP,
    st.builds(Op, st.just("get_tokens"), after=_AFTER),
    st.builds(Op, st.just("get_aws_credentials"), after=_AFTER),
    st.builds(Op, st.just("federated_sign_in"), after=_AFTER),
    st.builds(Op, st.just("initialize"), after=_AFTER),
)
# How long after the batch starts the cancellation comes (real seconds): before any request,
# while the first is on the wire, or later in a sign-in's steps.
SIGN_IN_FIRST = -1  # the cancellation's pick: the first sign_in still in flight
CANCEL_DELAYS = st.sampled_from([0.0, 0.001, 0.004, 0.01, 0.02, 0.04, 0.08, 0.15])


@dataclass(eq=False)
class Run:
    """One operation of a batch as it ran."""

    op: Op
    token: str | None = None  # a federated sign-in's provider token
    start: float = 0.0  # loop time
    end: float = 0.0
    start_state: UserState = UserState.UNKNOWN
    end_state: UserState = UserState.UNKNOWN
    start_user: str | None = None
    end_user: str | None = None
    seen: tuple[str, ...] = ()  # the changes the listener saw while it ran
    result: Any = None
    error: BaseException | None = None
    done: bool = False
    cancelled: bool = False  # this test cancelled its task (cancel() returned True)
    called: bool = False  # the client's call began (not cancelled while waiting to start)
    state_at_cancel: UserState | None = None
    # Where the cancellation landed in a sign_in: the step it cancelled and the state right
    # after the library let it go (its late answer must then be discarded).
    landed: tuple[str, UserState] | None = None
    # A sign_in's calls in order, each "call->STATE" once answered: the last is bare when it
    # raised (or was cancelled).
    calls: list[str] = field(default_factory=list)

    @property
    def states(self) -> set[UserState]:
        """Every state the operation overlapped."""
        return {self.start_state, self.end_state, *(UserState(s) for s in self.seen)}

    @property
    def work_end(self) -> float:
        """When its work ended: a cancelled call's goes on in its worker thread (until the
        batch's end, as far as this test knows)."""
        return math.inf if self.cancelled and self.called else self.end

    @property
    def users(self) -> set[str | None]:
        return {self.start_user, self.end_user}

    @property
    def raised_in(self) -> str | None:
        if self.error is None or not self.calls or "->" in self.calls[-1]:
            return None
        return self.calls[-1]

    @property
    def prompted(self) -> bool:
        return any("->" in c and not c.endswith("->DONE") for c in self.calls)

    @property
    def ok(self) -> bool:
        return self.done and self.error is None

    @property
    def outcome(self) -> str:
        if not self.done:
            return "running"
        if self.error is not None:
            return type(self.error).__name__
        if isinstance(self.result, SignInResult):
            return self.result.state.value
        if isinstance(self.result, UserState):
            return self.result.value
        if isinstance(self.result, Tokens):
            return "tokens"
        if isinstance(self.result, AWSCredentials):
            return "credentials"
        return "ok"


@dataclass(eq=False)
class Batch:
    runs: list[Run]
    before: UserState
    pool_refuses: bool
    t0: float
    cancel: tuple[float, int] | None = None
    events: list[str] = field(default_factory=list)

    def of(self, *names: str) -> list[Run]:
        return [run for run in self.runs if run.op.name in names]

    def describe(self) -> str:
        lines = [f"before: {self.before.value}, pool refuses: {self.pool_refuses}"]
        if self.cancel is not None:
            lines.append(f"cancel after {self.cancel[0]} s, pick {self.cancel[1]}")
        for run in self.runs:
            cancel = (
                f" cancelled (state then {run.state_at_cancel.value}, landed in "
                f"{run.landed and (run.landed[0], run.landed[1].value)})"
                if run.cancelled and run.state_at_cancel is not None
                else ""
            )
            lines.append(
                f"  {run.op.label} +{run.op.after}: {run.start - self.t0:.3f}s.."
                f"{run.end - self.t0:.3f}s {run.start_state.value}->{run.end_state.value} "
                f"seen {list(run.seen)} -> {run.outcome}"
                + (f" ({run.error})" if run.error is not None and str(run.error) else "")
                + (f" {run.calls}" if run.calls else "")
                + cancel
            )
        lines.append(f"  events: {self.events}")
        return "\n".join(lines)


def _overlap(a: Run, b: Run) -> bool:
    return a.start <= b.work_end and b.start <= a.work_end


class _Steps:
    """The client as ``sign_in_by`` sees it: each step noted on the run."""

    def __init__(self, client: AsyncAuthClient, run: Run) -> None:
        self._client, self._run = client, run

    async def sign_in(self, *args: Any, **kwargs: Any) -> SignInResult:
        return await self._noted("sign_in", self._client.sign_in(*args, **kwargs))

    async def confirm_sign_in(self, *args: Any, **kwargs: Any) -> SignInResult:
        return await self._noted("confirm_sign_in", self._client.confirm_sign_in(*args, **kwargs))

    async def _noted(self, call: str, step: Awaitable[SignInResult]) -> SignInResult:
        self._run.calls.append(call)
        try:
            result = await step
        except asyncio.CancelledError:
            # The library has let the step go (its work may still run, to be discarded).
            self._run.landed = (call, self._client.current_user_state)
            raise
        self._run.calls[-1] = f"{call}->{result.state.value}"
        self._run.result = result
        return result


def test_async_lives_follow_the_spec(emulator: Emulator, clock: FakeClock, admin_idp: Any) -> None:
    pool = emulator.provision(first_factors=("PASSWORD", "EMAIL_OTP", "SMS_OTP"))
    config = pool.aws_configuration()
    counts: dict[str, int] = {
        "lives": 0,
        "batches": 0,
        "cancelled": 0,
        "cancelled sign-in steps": 0,
        "... while signed out": 0,
    }
    first_failure: list[str] = []

    class AsyncLife(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            counts["lives"] += 1
            emulator.faults.clear()
            self.loop = asyncio.new_event_loop()
            # Every worker call the client starts, to wait for them after each batch (a
            # cancelled caller leaves its work running).
            self.work: set[asyncio.Future[Any]] = set()
            run_in_executor = self.loop.run_in_executor

            def recorded(executor: Any, func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
                future = run_in_executor(executor, func, *args)
                self.work.add(future)
                future.add_done_callback(self.work.discard)
                return future

            self.loop.run_in_executor = recorded  # type: ignore[method-assign]
            self.username = f"alife{next(_serial)}"
            self.client = AsyncAuthClient.from_config(
                config, store=MemorySessionStore(), clock=clock
            )
            self.history: list[str] = [UserState.UNKNOWN.value]
            self.async_history: list[str] = [UserState.UNKNOWN.value]
            self.pool_refuses = False
            self.clock_jumped = False
            self.last_batch: Batch | None = None
            self.trace: list[str] = []
            self._do(self._setup())

        def _do(self, work: Coroutine[Any, Any, T]) -> T:
            try:
                return self.loop.run_until_complete(work)
            except Exception as exc:
                self._first_failure(exc)
                raise

        def _first_failure(self, exc: BaseException) -> None:
            # Kept as it happened: hypothesis's replay of a life depends on timing.
            if not first_failure:
                life = "\n".join(f"  {step}" for step in self.trace)
                first_failure.append(f"life:\n{life}\n{type(exc).__name__}: {exc}")

        async def _setup(self) -> None:
            def plain(state: UserState, info: Mapping[str, str]) -> None:
                self.history.append(state.value)

            async def coroutine(state: UserState, info: Mapping[str, str]) -> None:
                self.async_history.append(state.value)

            self.client.add_user_state_listener(plain)
            self.client.add_user_state_listener(coroutine)
            await self.client.sign_up(
                self.username, PASSWORD, attributes={"email": f"{self.username}@example.com"}
            )
            await self.client.confirm_sign_up(
                self.username, emulator.last_code(self.username, "sign_up")
            )
            # A verified phone, for the SMS_OTP first factor.
            admin_idp.admin_update_user_attributes(
                UserPoolId=pool.user_pool_id,
                Username=self.username,
                UserAttributes=[
                    {"Name": "phone_number", "Value": "+15555550123"},
                    {"Name": "phone_number_verified", "Value": "true"},
                ],
            )

        def _token(self) -> str:
            return f"google-token-{self.username}-{next(_serial)}"

        # -- the life ---------------------------------------------------------------------------

        @initialize(
            how=st.sampled_from(["nothing", "user_pool", "federated", "guest"]),
            way=st.sampled_from(SIGN_IN_WAYS),
        )
        def start(self, how: str, way: tuple[str, str | None]) -> None:
            self.trace.append(f"start({how!r}, {way!r})")

            async def start() -> None:
                if how == "nothing":
                    return  # not even initialize: the first batch's operations do it
                await self.client.initialize()
                if how == "user_pool":
                    await sign_in_by(self.client, emulator, self.username, PASSWORD, *way)
                elif how == "federated":
                    await self.client.federated_sign_in(IdentityProvider.GOOGLE, self._token())
                else:
                    await self.client.get_aws_credentials(wait=False)

            self._do(start())

        @rule(ops=st.lists(OPS, min_size=1, max_size=4))
        def batch(self, ops: list[Op]) -> None:
            self.trace.append(f"batch({ops!r})")
            self._do(self._batch(ops, None))

        @rule(
            first=st.one_of(SIGN_IN_OP, SIGN_IN_OP, SIGN_OUT_OP, OPS),
            rest=st.lists(OPS, max_size=2),
            delay=CANCEL_DELAYS,
            pick=st.integers(0, 3) | st.just(SIGN_IN_FIRST),
            busy=st.sampled_from([0.0, 0.0, 0.03]),
        )
        def batch_with_a_cancellation(
            self, first: Op, rest: list[Op], delay: float, pick: int, busy: float
        ) -> None:
            # One task still in flight after ``delay`` (the pick-th of those, in the order
            # they were made, or the first sign_in if one is) is cancelled; ``busy``: the
            # process's worker threads are all busy for that long as the batch starts (other
            # clients' work), so a call may be cancelled while it waits for one.
            ops = [first, *rest]
            self.trace.append(
                f"batch_with_a_cancellation({ops!r}, delay={delay}, pick={pick}, busy={busy})"
            )
            if busy:
                for _ in range(_WORKERS):
                    _workers.pool().submit(time.sleep, busy)
            self._do(self._batch(ops, (delay, pick)))

        @rule(
            sign_in=SIGN_IN_OP,
            also=st.none() | SIGN_OUT_OP,
            delay=CANCEL_DELAYS,
            busy=st.sampled_from([0.0, 0.03]),
        )
        def a_sign_in_cancelled(
            self, sign_in: Op, also: Op | None, delay: float, busy: float
        ) -> None:
            # The batch's only sign-in is cancelled (with a sign-out, or alone).
            self.batch_with_a_cancellation(
                sign_in, [] if also is None else [also], delay, SIGN_IN_FIRST, busy
            )

        # The world, between batches.

        @rule(seconds=st.sampled_from([60, 1800, 3700]))
        def time_passes(self, seconds: int) -> None:
            self.trace.append(f"time_passes({seconds})")
            clock.advance(seconds)
            self.clock_jumped = True

        @rule(then_expire=st.booleans())
        def signed_out_on_another_device(self, then_expire: bool) -> None:
            self.trace.append(f"signed_out_on_another_device({then_expire})")
            admin_idp.admin_user_global_sign_out(
                UserPoolId=pool.user_pool_id, Username=self.username
            )
            if then_expire:
                clock.advance(3700)  # the next refresh is refused
                self.clock_jumped = True

        @rule()
        def identity_pool_refuses_logins(self) -> None:
            self.trace.append("identity_pool_refuses_logins()")
            emulator.faults.inject(
                Fault(
                    operation="GetCredentialsForIdentity",
                    error=("NotAuthorizedException", "Invalid login token.", 400),
                )
            )
            self.pool_refuses = True
            clock.advance(3700)  # the cached credentials expire
            self.clock_jumped = True

        @rule()
        def identity_pool_accepts_again(self) -> None:
            self.trace.append("identity_pool_accepts_again()")
            emulator.faults.clear()
            self.pool_refuses = False

        # -- running a batch ------------------------------------------------------------------

        async def _batch(self, ops: Sequence[Op], cancel: tuple[float, int] | None) -> None:
            counts["batches"] += 1
            loop = asyncio.get_running_loop()
            runs = [Run(op, token=self._token() if op.name == "federated_sign_in" else None)
                    for op in ops]  # fmt: skip
            batch = Batch(
                runs, self.client.current_user_state, self.pool_refuses, loop.time(), cancel
            )
            self.last_batch = batch
            tasks = [asyncio.ensure_future(self._run(run, batch)) for run in runs]
            if cancel is not None:
                await self._cancel_one(batch, tasks, *cancel)
            _, pending = await asyncio.wait(tasks, timeout=BATCH_TIMEOUT)
            assert not pending, "deadlock: tasks still running\n" + batch.describe()
            await self._quiesce(batch)
            for task in tasks:  # none raises: _run keeps every outcome
                task.result()
            for run in runs:
                self._check_outcome(run, batch)
            self._check_cancellations(batch)
            await self._check_tokens_fit_the_state()

        async def _cancel_one(
            self, batch: Batch, tasks: list[asyncio.Task[None]], delay: float, pick: int
        ) -> None:
            await asyncio.sleep(delay)
            in_flight = [(run, task) for run, task in zip(batch.runs, tasks, strict=True)
                         if not task.done()]  # fmt: skip
            if not in_flight:
                return
            sign_ins = [(r, t) for r, t in in_flight if r.op.name == "sign_in"]
            if pick == SIGN_IN_FIRST and sign_ins:
                run, task = sign_ins[0]
            else:
                run, task = in_flight[pick % len(in_flight)]
            run.state_at_cancel = self.client.current_user_state
            if task.cancel():
                run.cancelled = True
                counts["cancelled"] += 1
                batch.events.append(f"cancel {run.op.label}")

        async def _run(self, run: Run, batch: Batch) -> None:
            loop = asyncio.get_running_loop()
            try:
                if run.op.after:
                    await asyncio.sleep(run.op.after)
                run.start = loop.time()
                run.start_state, run.start_user = self._now()
                first_seen = len(self.history)
                run.called = True
                try:
                    run.result = await self._call(run)
                except (Exception, asyncio.CancelledError) as exc:
                    run.error = exc
                run.seen = tuple(self.history[first_seen:])
            except asyncio.CancelledError as exc:  # cancelled before it started
                run.start = loop.time()
                run.start_state, run.start_user = self._now()
                run.error = exc
            run.end = loop.time()
            run.end_state, run.end_user = self._now()
            run.done = True
            batch.events.append(f"{run.op.label} -> {run.outcome}")

        def _now(self) -> tuple[UserState, str | None]:
            return self.client.current_user_state, self.client.username

        async def _call(self, run: Run) -> Any:
            client, op = self.client, run.op
            if op.name == "sign_in":
                await sign_in_by(_Steps(client, run), emulator, self.username, PASSWORD, *op.arg)
                return run.result  # the last answer: DONE
            if op.name == "sign_out":
                return await client.sign_out(global_sign_out=op.arg == "global")
            if op.name == "federated_sign_in":
                return await client.federated_sign_in(IdentityProvider.GOOGLE, str(run.token))
            if op.name == "get_tokens":
                return await client.get_tokens(wait=False)
            if op.name == "get_aws_credentials":
                return await client.get_aws_credentials(wait=False)
            if op.name == "initialize":
                return await client.initialize()
            raise AssertionError(f"unknown operation {op.name}")

        async def _quiesce(self, batch: Batch) -> None:
            """Wait for every worker call of the batch (cancelled callers leave theirs
            running), then for the listeners' calls to land."""
            deadline = time.monotonic() + BATCH_TIMEOUT
            while self.work:
                remaining = deadline - time.monotonic()
                assert remaining > 0, "deadlock: worker calls still running\n" + batch.describe()
                await asyncio.wait(set(self.work), timeout=remaining)
            deadline = time.monotonic() + SETTLE
            while True:
                await asyncio.sleep(0.002)
                current = self.client.current_user_state.value
                if self.history[-1] == current and self.async_history == self.history:
                    return
                if time.monotonic() > deadline:
                    return  # the invariant reports what disagrees

        # -- judging a batch ------------------------------------------------------------------

        def _context(self, batch: Batch | None = None) -> str:
            batch = batch or self.last_batch
            life = "\n".join(f"  {step}" for step in self.trace)
            described = batch.describe() if batch is not None else ""
            return f"\nlife:\n{life}\nhistory: {self.history}\n{described}"

        def _check_outcome(self, run: Run, batch: Batch) -> None:
            """Only what the contract allows the operation in the states it overlapped."""
            name, error, states = run.op.name, run.error, run.states
            others = [r for r in batch.runs if r is not run and _overlap(r, run)]
            what = f"{run.op.label} -> {run.outcome}: {error}" + self._context(batch)
            if isinstance(error, asyncio.CancelledError):
                assert run.cancelled, what
                return
            assert not run.cancelled or run.ok or error is not None, what
            allowed: list[type[BaseException]] = []
            not_signed_in = any(s is not UserState.SIGNED_IN for s in states)
            if name == "sign_in":
                allowed += self._sign_in_may_raise(run, others)
            elif name == "federated_sign_in":
                if any(r.op.name == "sign_out" for r in others):
                    allowed.append(SignInCancelledError)
                if batch.pool_refuses:
                    allowed.append(NotAuthorizedError)
            elif name == "get_tokens":
                if not_signed_in or None in run.users:  # a federated user has no pool tokens
                    allowed += [NotSignedInError, UnableToSignInError]
            elif name == "get_aws_credentials":
                if not_signed_in:
                    allowed += [UnableToSignInError, GuestAccessNotAllowedError]
                if batch.pool_refuses:
                    allowed.append(NotAuthorizedError)
            # sign_out and initialize: nothing may fail
            if error is not None:
                assert isinstance(error, tuple(allowed)), what
                return
            result = run.result
            if name == "sign_in":
                assert result.state is SignInState.DONE, what
                rivals = [r for r in others if r.op.name in ("sign_out", "federated_sign_in")]
                if not rivals:
                    assert UserState.SIGNED_IN in states, what
            elif name == "federated_sign_in":
                assert result is UserState.SIGNED_IN, what
            elif name == "sign_out":
                signing_in = [r for r in others if r.op.name in ("sign_in", "federated_sign_in")]
                if not signing_in:
                    assert run.end_state in SIGNED_OUT_STATES, what
            elif name == "initialize":
                assert result in states, what
            elif name == "get_tokens":
                assert UserState.SIGNED_IN in states, what
                assert result.username == self.username, what
                self._valid_for_a_while(result.expiration.timestamp(), what)
            elif name == "get_aws_credentials":
                assert states & {UserState.SIGNED_IN, UserState.GUEST}, what
                self._valid_for_a_while(result.expiration.timestamp(), what)

        def _valid_for_a_while(self, expiration: float, what: str) -> None:
            # Judged by the client's estimate of the service's time: a request held across a
            # clock jump (a background refresh waits for the loop between steps) is learnt as
            # an offset from the answer's iat, as a device clock that moves mid-request is.
            service_now = self.client._sync._clock()
            if service_now != clock():
                assert self.clock_jumped, what
            assert expiration - service_now >= 30, what

        def _sign_in_may_raise(self, run: Run, others: list[Run]) -> list[type[BaseException]]:
            """What a sign_in (each step answered as ``sign_in_by`` does) may raise, given what
            overlapped it (the reasoning of ``test_client_concurrent.py``)."""
            rivals = [r for r in others if r.op.name == "sign_in"]
            allowed: list[type[BaseException]] = []
            if rivals or any(r.op.name == "sign_out" for r in others):
                # Abandoned by a sign-out, a rival's sign_in or a rival's cancelled step; or
                # refused at once ("a sign-in is already in progress"), or its challenge gone
                # or already being answered by the rival.
                allowed += [SignInCancelledError, IllegalTransitionError]
            if run.raised_in == "confirm_sign_in" and any(r.prompted for r in rivals):
                # confirm_sign_in answers whichever challenge is pending: a rival's since.
                allowed += [CodeMismatchError, InvalidParameterError, NotAuthorizedError]
            return allowed

        def _check_cancellations(self, batch: Batch) -> None:
            final = self.client.current_user_state
            signing_in = batch.of("sign_in", "federated_sign_in")
            for run in batch.runs:
                if not run.cancelled:
                    continue
                what = f"cancelled {run.op.label}, final {final.value}" + self._context(batch)
                assert isinstance(run.error, asyncio.CancelledError), what
                if run.op.name == "sign_in":
                    if run.landed is None:
                        continue  # cancelled before its first step
                    counts["cancelled sign-in steps"] += 1
                    others = [r for r in signing_in if r is not run]
                    if run.landed[1] is not UserState.SIGNED_IN:
                        counts["... while signed out"] += 1
                        if not others:
                            # Let go before it signed anyone in, and nothing else signs in:
                            # its late answer is discarded.
                            assert final is not UserState.SIGNED_IN, what
                elif run.op.name == "sign_out" and run.called and not signing_in:
                    # Its work was not cancelled: the sign-out still happened.
                    assert final in SIGNED_OUT_STATES, what

        async def _check_tokens_fit_the_state(self) -> None:
            client = self.client
            state, username = client.current_user_state, client.username
            assert client.is_signed_in == (state is UserState.SIGNED_IN), self._context()
            outcome: Any
            try:
                outcome = await client.get_tokens(wait=False)
            except (NotSignedInError, UnableToSignInError) as exc:
                outcome = exc
            after = client.current_user_state
            what = f"{state.value} (user {username!r}) -> {outcome!r}, then {after.value}"
            what += self._context()
            if state in SIGNED_OUT_STATES or state is UserState.UNKNOWN:
                assert username is None, what
                assert isinstance(outcome, NotSignedInError), what
            elif state is UserState.SIGNED_IN and username is not None:
                if isinstance(outcome, Tokens):
                    assert client.is_signed_in, what
                    assert outcome.username == username == self.username, what
                    self._valid_for_a_while(outcome.expiration.timestamp(), what)
                else:  # a refresh refused (signed out on another device, then time passed)
                    assert isinstance(outcome, UnableToSignInError), what
                    assert after is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID, what
            elif state is UserState.SIGNED_IN:  # federated: no user-pool tokens
                assert isinstance(outcome, NotSignedInError | UnableToSignInError), what
                if isinstance(outcome, UnableToSignInError):
                    assert after is UserState.SIGNED_OUT_FEDERATED_TOKENS_INVALID, what
            else:  # *TokensInvalid: waits for a sign-in, and wait=False says so at once
                assert isinstance(outcome, UnableToSignInError), what
                assert not client.is_signed_in, what

        @invariant()
        def listeners_saw_declared_transitions(self) -> None:
            try:
                self._listeners_saw_declared_transitions()
            except Exception as exc:
                self._first_failure(exc)
                raise

        def _listeners_saw_declared_transitions(self) -> None:
            for old, new in itertools.pairwise(self.history):
                assert (old, new) in LEGAL, f"{old} -> {new} is not in the spec" + self._context()
            assert self.async_history == self.history, (
                f"the coroutine listener saw {self.async_history}" + self._context()
            )
            current = self.client.current_user_state
            assert self.history[-1] == current.value, (
                f"listeners last saw {self.history[-1]}, state {current.value}" + self._context()
            )
            assert self.client.is_signed_in == (current is UserState.SIGNED_IN)

        def teardown(self) -> None:
            emulator.faults.clear()
            try:
                self._do(self.client.close())
            finally:
                self.loop.close()

    try:
        run_state_machine_as_test(
            AsyncLife,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                # No shrinking: a failure depends on timing, so a replay may run differently
                # (and end in Flaky...); the first failure is reported as it happened.
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            ),
        )
    except Exception as exc:
        if first_failure:
            raise AssertionError(
                "first failure, as it happened (hypothesis's replay may differ):\n"
                + first_failure[0]
            ) from exc
        raise
    finally:
        print("async lives: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


def test_a_sign_in_cancelled_while_it_waits_for_a_worker_signs_nobody_in(
    emulator: Emulator, clock: FakeClock
) -> None:
    # The failing example the lives found, made deterministic: the process's worker threads
    # are all busy (other clients' work) when sign_in is called, and the call is cancelled
    # while it waits for one. Its work still runs later: it must not sign the user in.
    pool = emulator.provision(with_identity_pool=False, bucket=None)
    store = MemorySessionStore()

    async def life() -> tuple[UserState, list[str]]:
        seen: list[str] = []
        async with AsyncAuthClient.from_config(
            pool.aws_configuration(), store=store, clock=clock
        ) as client:
            client.add_user_state_listener(lambda state, info: seen.append(state.value))
            await client.sign_up("cancelled", PASSWORD, attributes={"email": "c@example.com"})
            await client.confirm_sign_up("cancelled", emulator.last_code("cancelled", "sign_up"))
            assert await client.initialize() is UserState.SIGNED_OUT
            loop = asyncio.get_running_loop()
            busy = [loop.run_in_executor(_workers.pool(), time.sleep, 0.3) for _ in range(_WORKERS)]
            task = asyncio.ensure_future(client.sign_in("cancelled", PASSWORD))
            await asyncio.sleep(0.05)  # the call waits for a worker
            assert task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.gather(*busy)
            await asyncio.sleep(1.0)  # the sign-in's work has run by now
            return client.current_user_state, seen

    state, seen = asyncio.run(life())
    assert state is UserState.SIGNED_OUT, f"listeners saw {seen}"
