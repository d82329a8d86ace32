"""The built-in providers of fsm-auth, registered as entry points exactly as a plugin would be:
``userpool``, ``federated`` and ``guest`` (installed as ``fsm_auth_providers``)."""
