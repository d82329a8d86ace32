"""fsm-auth: Cognito user pools and identity pools as an explicit finite-state machine."""
