"""A property test of the whole client against the emulator: random sequences of what an app
and the world do (sign in by any flow and first factor, or through the hosted UI, sign out,
time passing, a sign-out from another device, federation, guest access, restarts), with the
``user_state`` spec as the oracle. Every change a listener
sees must be a transition the spec declares, and the client's answers must fit its state."""

from __future__ import annotations

import itertools
import os
from typing import Any

from auth_testkit import SIGN_IN_WAYS, sign_in_by
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
    InvalidParameterError,
    MFAPreference,
    MFAPreferences,
    NotAuthorizedError,
    NotSignedInError,
    ResourceNotFoundError,
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
    # Sign-ins by password and by the hosted UI; e-mail MFA offered (MFA itself is off, so a
    # preference changes what GetUser says, not how the user signs in).
    # Devices tracked on the user's say-so: every password sign-in of a new device confirms
    # it (the hosted UI's do not), remember_device() remembers it.
    # Every sign-in flow, and USER_AUTH's first factors (codes by e-mail and SMS).
    pool = emulator.provision(
        hosted_ui=True,
        mfa_types=("SMS", "TOTP", "EMAIL"),
        device_tracking="user_opt_in",
        first_factors=("PASSWORD", "EMAIL_OTP", "SMS_OTP"),
    )
    config = pool.aws_configuration()
    store = MemorySessionStore()  # shared by restarts, as a storage_dir would be
    # The model of each user's e-mail MFA at the pool, (on, preferred): the pool outlives a
    # life, and a restart may restore whoever the store last held.
    email_mfa: dict[str, tuple[bool, bool]] = {}

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
            admin_idp.admin_update_user_attributes(
                UserPoolId=pool.user_pool_id,
                Username=self.username,
                UserAttributes=[
                    {"Name": "phone_number", "Value": "+15555550123"},
                    {"Name": "phone_number_verified", "Value": "true"},
                ],
            )

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

        @rule(way=st.sampled_from(SIGN_IN_WAYS))
        def sign_in(self, way: tuple[str, str | None] = SIGN_IN_WAYS[0]) -> None:
            flow, factor = way
            states = sign_in_by(self.client, emulator, self.username, PASSWORD, flow, factor)
            assert states[-1] == "DONE"
            assert self.client.current_user_state is UserState.SIGNED_IN
            assert self.client.username == self.username
            # This device is one the pool knows: kept, or (new, or forgotten at the pool
            # meanwhile) confirmed by this sign-in.
            assert self._this_device() in self._pool_devices()

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

        @rule(preference=st.sampled_from(list(MFAPreference)))
        def email_mfa_preference(self, preference: MFAPreference) -> None:
            try:
                self.client.update_mfa_preference(email=preference)
            except (NotSignedInError, UnableToSignInError, NotAuthorizedError):
                # No user-pool session (or one the pool no longer honours, or a hosted-UI
                # token without the user-pool scope): nothing changed at the pool.
                return
            user = self.client.username
            assert user is not None
            on, preferred = email_mfa.get(user, (False, False))
            on, preferred = email_mfa[user] = {
                MFAPreference.ENABLED: (True, preferred),
                MFAPreference.DISABLED: (False, False),
                MFAPreference.PREFERRED: (True, True),
                MFAPreference.NOT_PREFERRED: (True, False),
            }[preference]
            assert self.client.fetch_mfa_preference() == MFAPreferences(
                frozenset({"EMAIL"} if on else ()), "EMAIL" if preferred else None
            )

        # Devices: the pool, as its administrator lists it, is the oracle (a restart may
        # restore another life's user, whose devices are theirs: those lives are skipped).
        def _pool_devices(self) -> dict[str, bool]:
            listed = admin_idp.admin_list_devices(
                UserPoolId=pool.user_pool_id, Username=self.username
            )["Devices"]
            return {
                d["DeviceKey"]: {a["Name"]: a["Value"] for a in d["DeviceAttributes"]}.get(
                    "dev:device_remembered_status"
                )
                == "remembered"
                for d in listed
            }

        def _this_device(self) -> str | None:
            """The key of this device for the signed-in user (the session's own view)."""
            key: str | None = self.client._session.device_key
            return key

        def _mine(self) -> bool:
            return self.client.username == self.username

        @rule()
        def remember_device(self) -> None:
            if not self._mine():
                return
            key = self._this_device()
            try:
                self.client.remember_device()
            except (NotSignedInError, UnableToSignInError, NotAuthorizedError):
                return  # no user-pool session (or one the pool no longer honours)
            except InvalidParameterError:
                assert key is None  # no device confirmed for the user here
                return
            except ResourceNotFoundError:
                assert key not in self._pool_devices()  # the pool forgot it meanwhile
                return
            assert self._pool_devices()[str(key)] is True

        @rule()
        def forget_device(self) -> None:
            if not self._mine():
                return
            key = self._this_device()
            try:
                self.client.forget_device()
            except (NotSignedInError, UnableToSignInError, NotAuthorizedError):
                return
            # Forgotten on both sides (one the pool had forgotten already is dropped here).
            assert self._this_device() is None
            assert key not in self._pool_devices()

        @rule()
        def list_devices(self) -> None:
            if not self._mine():
                return
            try:
                devices = self.client.list_devices()
            except (NotSignedInError, UnableToSignInError, NotAuthorizedError):
                return
            assert {d.key: d.remembered for d in devices} == self._pool_devices()

        @rule()
        def devices_forgotten_by_an_administrator(self) -> None:
            for key in self._pool_devices():
                admin_idp.admin_forget_device(
                    UserPoolId=pool.user_pool_id, Username=self.username, DeviceKey=key
                )
            # The client still keeps its device: its next password sign-in recovers.

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
