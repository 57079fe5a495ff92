"""``python -m tests.chaos``: the full chaos run (see runner.py)."""

import sys

from tests.chaos.runner import main

sys.exit(main())
