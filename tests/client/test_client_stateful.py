"""A property test of the whole client against the emulator: random sequences of what an app
and the world do (sign in by password or through the hosted UI, sign out, time passing, a
sign-out from another device, federation, guest access, restarts), with the ``user_state``
spec as the oracle. Every change a listener
sees must be a transition the spec declares, and the client's answers must fit its state."""

from __future__ import annotations

import itertools
import os
from typing import Any

from hypothesis import HealthCheck, settings
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
    GuestAccessNotAllowedError,
    HostedUIOptions,
    IdentityProvider,
    NotAuthorizedError,
    NotSignedInError,
    UnableToSignInError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault, HostedUIBrowser
from fsm_auth.engine import Spec
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD

_serial = itertools.count()
SPEC = Spec.load("user_state")
# Real changes only: listeners are not told of a transition that keeps the state.
LEGAL = {(s, t.dest) for t in SPEC.transitions for s in t.sources if s != t.dest}


def test_random_lives_follow_the_spec(emulator: Emulator, clock: FakeClock, admin_idp: Any) -> None:
    pool = emulator.provision(hosted_ui=True)  # sign-ins by password and by the hosted UI
    config = pool.aws_configuration()
    store = MemorySessionStore()  # shared by restarts, as a storage_dir would be

    class ClientLife(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            store.clear()
            emulator.faults.clear()
            self.username = f"life{next(_serial)}"
            self.clients: list[AuthClient] = []
            self.histories: list[list[str]] = []
            self._new_client()
            self.client.sign_up(
                self.username, PASSWORD, attributes={"email": f"{self.username}@example.com"}
            )
            self.client.confirm_sign_up(self.username, emulator.last_code(self.username, "sign_up"))

        def _new_client(self) -> None:
            client = AuthClient.from_config(config, store=store, clock=clock)
            history = [UserState.UNKNOWN.value]
            client.add_user_state_listener(lambda state, info: history.append(state.value))
            self.clients.append(client)
            self.histories.append(history)

        @property
        def client(self) -> AuthClient:
            return self.clients[-1]

        @initialize(
            how=st.sampled_from(["nothing", "user_pool", "hosted_ui", "federated", "guest"])
        )
        def start(self, how: str) -> None:
            # Lives start from each way in, so the later refusals have something to end.
            if how == "user_pool":
                self.sign_in()
            elif how == "hosted_ui":
                self.hosted_ui_sign_in()
            elif how == "federated":
                self.federated_sign_in()
            elif how == "guest":
                self.credentials()

        @rule()
        def initialize(self) -> None:
            self.client.initialize()

        @rule()
        def sign_in(self) -> None:
            self.client.sign_in(self.username, PASSWORD)
            assert self.client.current_user_state is UserState.SIGNED_IN

        @rule()
        def hosted_ui_sign_in(self) -> None:
            browser = HostedUIBrowser(self.username, PASSWORD)
            self.client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=browser))
            assert self.client.current_user_state is UserState.SIGNED_IN
            assert self.client.username == self.username

        @rule()
        def federated_sign_in(self) -> None:
            token = f"google-token-{next(_serial)}"
            before = self.client.current_user_state
            try:
                state = self.client.federated_sign_in(IdentityProvider.GOOGLE, token)
            except NotAuthorizedError:
                # The identity pool refuses logins (injected): nothing changed.
                assert self._pool_refuses()
                restored = (UserState.SIGNED_IN, UserState.GUEST, UserState.SIGNED_OUT)
                after = self.client.current_user_state
                assert after is before or (before is UserState.UNKNOWN and after in restored)
                return
            assert state is UserState.SIGNED_IN

        def _pool_refuses(self) -> bool:
            return any(f.operation == "GetCredentialsForIdentity" for f in emulator.faults.active)

        @rule(everywhere=st.booleans())
        def sign_out(self, everywhere: bool) -> None:
            self.client.sign_out(global_sign_out=everywhere)
            assert self.client.current_user_state in (UserState.GUEST, UserState.SIGNED_OUT)

        @rule()
        def tokens(self) -> None:
            try:
                tokens = self.client.get_tokens(wait=False)
            except (NotSignedInError, UnableToSignInError):
                assert self.client.current_user_state is not UserState.SIGNED_IN or (
                    self.client.username is None  # federated: no user-pool tokens
                )
                return
            assert tokens.username == self.client.username
            assert tokens.expiration.timestamp() - clock() >= 30

        @rule()
        def credentials(self) -> None:
            try:
                credentials = self.client.get_aws_credentials(wait=False)
            except (UnableToSignInError, GuestAccessNotAllowedError):
                assert self.client.current_user_state is not UserState.SIGNED_IN
                return
            except NotAuthorizedError:
                # The pool refused a user-pool login (federated ones change the state instead)
                # or a guest identity: both are the injected refusal.
                assert any(
                    f.operation == "GetCredentialsForIdentity" for f in emulator.faults.active
                )
                return
            assert credentials.expiration.timestamp() - clock() >= 30
            assert self.client.current_user_state in (UserState.SIGNED_IN, UserState.GUEST)

        @rule(seconds=st.sampled_from([60, 1800, 3700]))
        def time_passes(self, seconds: int) -> None:
            clock.advance(seconds)

        @rule(then_expire=st.booleans())
        def signed_out_on_another_device(self, then_expire: bool) -> None:
            admin_idp.admin_user_global_sign_out(
                UserPoolId=pool.user_pool_id, Username=self.username
            )
            if then_expire:
                clock.advance(3700)  # the next refresh is refused

        @rule()
        def identity_pool_refuses_logins(self) -> None:
            emulator.faults.inject(
                Fault(
                    operation="GetCredentialsForIdentity",
                    error=("NotAuthorizedException", "Invalid login token.", 400),
                )
            )
            clock.advance(3700)  # the cached credentials expire

        @rule()
        def identity_pool_accepts_again(self) -> None:
            emulator.faults.clear()

        @rule()
        def restart(self) -> None:
            self.client.close()
            self._new_client()
            self.client.initialize()

        @invariant()
        def every_change_is_a_declared_transition(self) -> None:
            for history in self.histories:
                for old, new in itertools.pairwise(history):
                    assert (old, new) in LEGAL, f"{old} -> {new} is not in the spec"
                assert history[-1] == self.clients[self.histories.index(history)].current_user_state

        @invariant()
        def signed_in_means_signed_in(self) -> None:
            client = self.client
            assert client.is_signed_in == (client.current_user_state is UserState.SIGNED_IN)

        def teardown(self) -> None:
            emulator.faults.clear()
            for client in self.clients:
                client.close()

    run_state_machine_as_test(
        ClientLife,
        settings=settings(
            max_examples=int(os.environ.get("FSM_AUTH_LIFE_EXAMPLES", "25")),
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
