"""``fsm-auth demo``: the whole life of a user against the embedded local Cognito emulator.

Guest credentials, sign-up with the code the emulator "sends", SRP sign-in, verified token
claims, the signed-in user's AWS credentials used on the emulator's S3, a token refresh, going
offline, a restart that restores the session with the emulator offline, sign-out, and a
sign-in through the hosted UI (the emulator's sign-in page, filled in headlessly by its
HostedUIBrowser: no browser needed) with the sign-out that ends it, and passwordless sign-in: a
second user signs up without a password and is signed in by the sign-up's confirmation, then
signs in again with a one-time e-mail code. Every user-state change is printed as it happens;
codes never are. Time is moved forward with a fake clock shared by the emulator and the
client, so the refresh happens at once instead of in an hour.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TextIO
from urllib.parse import urlsplit

from fsm_auth.errors import AuthError, NetworkError
from fsm_auth.values import CodeDeliveryDetails, HostedUIOptions, SignInState, UserState

__all__ = ["run_demo"]

_USER = "demo-user"
_PASSWORD = "Demo-Passw0rd!"
_OTP_USER = "demo-otp-user"


def run_demo(out: TextIO) -> int:
    """Run the demo, printing to ``out``; returns the exit code (0 when every step worked)."""
    try:
        from fsm_auth.emulator import Emulator, FakeClock, HostedUIBrowser
    except ImportError:
        out.write("fsm-auth demo needs the emulator: pip install 'fsm-auth[emulator]'\n")
        return 2
    from fsm_auth.client import AuthClient

    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    def on_change(state: UserState, info: Mapping[str, str]) -> None:
        details = f" {dict(info)}" if info else ""
        say(f"    [user state] -> {state.value}{details}")

    clock = FakeClock()
    with Emulator(clock=clock) as emulator, tempfile.TemporaryDirectory() as storage:
        # With the hosted UI set up from the start, so that step 10 signs the same user in
        # through it (the password steps do not use the configuration's OAuth section), and
        # choice-based sign-in with one-time codes for step 11 (the other steps do not ask
        # for USER_AUTH: their flows are the configuration's).
        pool = emulator.provision(
            bucket="fsm-auth-demo",
            hosted_ui=True,
            first_factors=("PASSWORD", "EMAIL_OTP", "SMS_OTP"),
        )
        config = pool.aws_configuration()
        say(f"Local Cognito emulator on {emulator.url}")
        say(f"  user pool {pool.user_pool_id}, identity pool {pool.identity_pool_id}")

        client = AuthClient.from_config(config, storage_dir=storage, clock=clock)
        client.add_user_state_listener(on_change)
        say(f"\n1. initialize() (no network call): {client.initialize().value}")

        say("\n2. Guest access: AWS credentials for the unauthenticated role")
        guest = client.get_aws_credentials()
        say(f"    identity id {client.get_identity_id()}")
        say(f"    credentials {guest!r}")

        say(f"\n3. sign_up({_USER!r}) and confirm with the code the emulator sent")
        signed_up = client.sign_up(_USER, _PASSWORD, attributes={"email": "demo@example.com"})
        say(f"    confirmed={signed_up.confirmed}; code sent by {_where(signed_up.code_delivery)}")
        client.confirm_sign_up(_USER, emulator.last_code(_USER, "sign_up"))
        say("    confirmed")

        say("\n4. sign_in() with SRP: the password never leaves the process")
        result = client.sign_in(_USER, _PASSWORD)
        say(f"    sign-in state {result.state.value}")
        tokens = client.get_tokens()
        claims = tokens.id_claims
        say(
            f"    verified id token: sub={claims.get('sub')} email={claims.get('email')} "
            f"token_use={claims.get('token_use')}"
        )
        say(f"    tokens {tokens!r}")

        say("\n5. The user's AWS credentials, used on the emulator's S3 through boto3")
        s3 = client.boto3_session().client("s3", endpoint_url=emulator.url)
        key = f"users/{client.get_identity_id()}/hello.txt"
        s3.put_object(Bucket=pool.bucket, Key=key, Body=b"hello from fsm-auth")
        listed = s3.list_objects_v2(Bucket=pool.bucket).get("Contents", [])
        say(f"    put s3://{pool.bucket}/{key}; the bucket holds {len(listed)} object(s)")

        say("\n6. An hour later: get_tokens() refreshes with the refresh token")
        before = emulator.count("GetTokensFromRefreshToken")
        clock.advance(3600)
        refreshed = client.get_tokens()
        say(
            f"    new expiry {_when(refreshed.expiration)}; "
            f"{emulator.count('GetTokensFromRefreshToken') - before} refresh request(s)"
        )
        s3.list_objects_v2(Bucket=pool.bucket)
        say("    S3 still works: the boto3 session's credentials refreshed themselves")

        say("\n7. Offline: the emulator stops")
        emulator.stop()
        cached = client.get_tokens()
        say(f"    get_tokens() still serves the cached tokens (expire {_when(cached.expiration)})")
        try:
            client.get_user_attributes()
        except NetworkError as exc:
            say(f"    a call that needs the network raises NetworkError: {exc.message[:60]}...")
        say(f"    user state unchanged: {client.current_user_state.value}")

        say("\n8. Restart: a new client on the same storage restores the session, still offline")
        client.close()
        restarted = AuthClient.from_config(config, storage_dir=storage, clock=clock)
        restarted.add_user_state_listener(on_change)
        say(f"    initialize() -> {restarted.initialize().value} as {restarted.username}")
        say(f"    tokens served offline, expire {_when(restarted.get_tokens().expiration)}")

        say("\n9. Back online: sign out (revoking the refresh token)")
        emulator.start()
        signed_out = restarted.sign_out()
        say(f"    sign_out() -> {signed_out!r}")
        say(f"    final state {restarted.current_user_state.value}")

        say("\n10. show_sign_in(hosted_ui=...): the hosted UI, with PKCE, state and nonce")
        # The user's browser: HostedUIBrowser opens the page the client gives it, fills in the
        # emulator's sign-in form and follows the redirect to the client's loopback listener.
        # sign_out() opens /logout with the same opener, as it would the system browser.
        browser = HostedUIBrowser(_USER, _PASSWORD)
        # HostedUIBrowser delivers the redirect before it returns, or never: 30 s, not the
        # default five minutes a user gets, before a demo that went wrong says so.
        restarted.show_sign_in(hosted_ui=HostedUIOptions(open_browser=browser, timeout=30))
        # Paths only: the query holds the sign-in's state and nonce, the redirect its code.
        opened = urlsplit(browser.opened[0])
        say(
            f"    signed in as {restarted.username} through the emulator's hosted UI sign-in "
            "page, driven headlessly (no browser needed)"
        )
        say(
            f"    the client opened {opened.path}, received the redirect on "
            f"{pool.redirect_uri} and exchanged the code at /oauth2/token"
        )
        revokes, logouts = emulator.count("oauth2/revoke"), emulator.count("logout")
        signed_out = restarted.sign_out()
        say(f"    sign_out() -> {signed_out!r}")
        say(
            f"    {emulator.count('oauth2/revoke') - revokes} revocation at /oauth2/revoke; "
            f"the browser's hosted-UI session ended at /logout "
            f"({emulator.count('logout') - logouts} visit)"
        )
        say(f"    final state {restarted.current_user_state.value}")

        say(f"\n11. Passwordless: sign_up({_OTP_USER!r}) with no password and auto_sign_in=True")
        signed_up = restarted.sign_up(
            _OTP_USER, attributes={"email": "otp@example.com"}, auto_sign_in=True
        )
        say(f"    confirmed={signed_up.confirmed}; code sent by {_where(signed_up.code_delivery)}")
        confirmed = restarted.confirm_sign_up(_OTP_USER, emulator.last_code(_OTP_USER, "sign_up"))
        say(f"    confirm_sign_up() -> signed_in={confirmed.signed_in}, without a sign_in() call")
        if not confirmed.signed_in:  # confirmed, but the auto sign-in failed: the demo did too
            raise confirmed.sign_in_error or AuthError("the auto sign-in did not happen")
        say(f"    sign_out() -> {restarted.sign_out()!r}")
        result = restarted.sign_in(
            _OTP_USER, auth_flow="USER_AUTH", preferred_challenge="EMAIL_OTP"
        )
        say(
            "    sign_in(auth_flow='USER_AUTH', preferred_challenge='EMAIL_OTP') -> "
            + result.state.value
        )
        say(f"    one-time code sent by {_where(result.code_delivery)}")
        # The code the emulator "sent", typed in by the user: it is never printed.
        result = restarted.confirm_sign_in(emulator.last_code(_OTP_USER, "email_otp"))
        say(f"    confirm_sign_in(the e-mailed code) -> sign-in state {result.state.value}")
        if result.state is not SignInState.DONE:
            raise AuthError(f"the e-mail code sign-in ended at {result.state.value}")
        say(f"    sign_out() -> {restarted.sign_out()!r}")
        say(f"    final state {restarted.current_user_state.value}")
        restarted.close()
    say("\nDemo finished.")
    return 0


def _where(delivery: CodeDeliveryDetails | None) -> str:
    """Where a code went, as the service says (the destination masked): never the code."""
    return f"{delivery.delivery_medium} to {delivery.destination}" if delivery else "?"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
