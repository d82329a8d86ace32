"""Cognito's hosted UI on the client's side: its configuration (``_config``), the OAuth 2.0
pieces free of I/O (``_protocol``: PKCE, state, nonce, the authorization and logout URLs) and
the loopback listener for the sign-in redirect (``_listener``). The built-in ``hostedui``
provider (``fsm_auth_providers.hostedui``) puts them together; ``AuthClient.show_sign_in``
runs it under the sign-in spec."""
