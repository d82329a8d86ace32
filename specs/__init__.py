"""The state-machine specs shipped with fsm-auth (installed as ``fsm_auth.specs``)."""
