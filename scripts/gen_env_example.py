"""Regenerate ``.env.example`` from the settings table: ``python scripts/gen_env_example.py``.

The test suite fails when ``.env.example`` misses a setting, so run this after adding one.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.config.profiles import PROFILES
from src.config.settings import Settings, options

HEADER = """\
# PolyFlup settings. Copy to .env and edit; the process environment wins over .env,
# the risk profile (POLYFLUP_PROFILE or --profile) wins over both for the keys it sets,
# and `--set NAME=VALUE` flags win over everything. Check with `polyflup config validate`.
# Secrets (marked SECRET) are read only from the environment or .env: never commit them.
"""


def render() -> str:
    """The full text of ``.env.example``."""
    defaults = Settings()
    profile_keys = set(next(iter(PROFILES.values())))
    lines = [HEADER]
    group = None
    for option in options():
        if option.group != group:
            group = option.group
            lines.append(f"\n# ---- {group} " + "-" * max(0, 80 - len(group)))
        notes = [option.help, f"Allowed: {option.allowed()}."]
        if option.secret:
            notes.append("SECRET.")
        if option.env in profile_keys:
            notes.append("Set by every risk profile (see docs/RISK_PROFILES.md).")
        for line in textwrap.wrap(" ".join(notes), 86):
            lines.append(f"# {line}")
        value = option.render(getattr(defaults, option.field))
        lines.append(f"{option.env}={value}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / ".env.example"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
