"""A conformance suite for provider authors: the tests a provider of ``fsm_auth`` must pass,
run by the provider's own test suite against its own service (like keyring's
``keyring.testing.backend.BackendBasicTests``). It needs pytest; nothing else in fsm_auth
imports this package.

Subclass a test class in a ``Test...`` class and supply its fixtures:

- :class:`UserPoolProviderTests` (the ``user_pool`` role): ``make_provider`` (``() -> a new
  provider instance``; ``provider`` defaults to ``make_provider()``) and ``new_user`` (``() ->
  (username, password)`` of a fresh confirmed user); optionally ``answer_prompt`` (``prompt ->
  Answer``, for the challenges your flow asks such a user), ``service_offline`` (``() ->``
  a context manager that takes your service offline), ``sign_in_flow`` (default
  ``USER_SRP_AUTH``) and ``provider_clock`` (default ``time.time``).
- :class:`IdentityPoolProviderTests` (the ``federated`` and ``guest`` roles): ``provider`` and
  ``logins`` (valid logins, ``{}`` for a guest provider); optionally ``service_offline`` and
  ``provider_clock``.

For example, for a user-pool provider ``my-idp`` that adds a ``PIN`` challenge::

    import time

    import pytest

    from fsm_auth.config import load_config
    from fsm_auth.plugins import PluginRegistry
    from fsm_auth.provider import ProviderContext
    from fsm_auth.signin import Answer
    from fsm_auth.testing import UserPoolProviderTests
    from fsm_auth.transport import RetryPolicy


    class TestMyProvider(UserPoolProviderTests):
        @pytest.fixture
        def make_provider(self):
            context = ProviderContext(load_config("test-config.json"), time.time, RetryPolicy())
            return lambda: PluginRegistry().build("user_pool", "my-idp", context)

        @pytest.fixture
        def new_user(self, my_service):
            return my_service.create_confirmed_user   # () -> (username, password)

        @pytest.fixture
        def answer_prompt(self):
            return lambda prompt: Answer("2468")       # every test user's PIN

        @pytest.fixture
        def service_offline(self, my_service):
            return my_service.stopped                  # a context manager factory

Each test names what failed; none shows a secret in its failure. :func:`drive_sign_in` runs a
sign-in flow with the provider's ``perform``, as the client does, for your own tests; the
``check_*`` functions and :func:`assert_no_secrets` are the checks the tests make.
"""

from ._checks import (
    assert_no_secrets,
    check_identity_pool_provider,
    check_user_pool_provider,
    error_texts,
)
from ._flows import AnswerPrompt, challenge_table, drive_sign_in, sign_in_request, sign_in_spec
from ._identity_pool import IdentityPoolProviderTests
from ._user_pool import (
    NewUser,
    ServiceOffline,
    SignedInUser,
    UserPoolProviderTests,
    unanswered_prompt,
)

__all__ = [
    "AnswerPrompt",
    "IdentityPoolProviderTests",
    "NewUser",
    "ServiceOffline",
    "SignedInUser",
    "UserPoolProviderTests",
    "assert_no_secrets",
    "challenge_table",
    "check_identity_pool_provider",
    "check_user_pool_provider",
    "drive_sign_in",
    "error_texts",
    "sign_in_request",
    "sign_in_spec",
    "unanswered_prompt",
]
