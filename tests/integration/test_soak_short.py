"""The short soak inside ``make test``: one simulated hour of ``polyflup run --sim`` with four
coins at high speed, its RSS sampled (``make soak``: 24 simulated hours).

Memory is measured and printed, not asserted: the only bound is a grotesque one (the end
three times the warmed-up start), which no machine difference can trip.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from tests.soak.run_soak import report, run_soak

pytestmark = pytest.mark.integration

HOURS = 1.0
SPEED = 1200.0
DEADLINE_S = 120.0


def test_one_simulated_hour_completes_and_reports_rss(tmp_path: Path) -> None:
    result = run_soak(HOURS, SPEED, tmp_path / "soak", timeout_s=DEADLINE_S)
    console = Console(file=StringIO(), width=120)
    report(result, console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    print(f"\n{printed}")
    assert not result.timed_out, "\n".join(result.stderr_tail)
    assert result.exit_code == 0, "\n".join(result.stderr_tail)
    assert "Run stopped (duration)" in (tmp_path / "soak" / "stdout.txt").read_text("utf-8")
    assert result.start is not None and result.end is not None, printed
    assert result.end.sim_s >= HOURS * 3600 - 120  # it ran the whole hour
    assert result.end.windows >= 3
    assert "drift" in printed
    assert result.end.rss_kib < 3 * result.start.rss_kib, printed  # sanity, not a target
