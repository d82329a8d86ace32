"""``python -m fsm_auth``: the same as the ``fsm-auth`` command."""

import sys

from fsm_auth.cli import main

sys.exit(main())
