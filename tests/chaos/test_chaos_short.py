"""The short chaos run inside ``make test``: 3 SIGKILLs over 20 coin-windows with every
kind of fault injected; the ledger must still equal the venue's (``make chaos``: 20 kills
over 200)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from tests.chaos.runner import ChaosConfig, run_chaos

pytestmark = pytest.mark.integration


def test_the_ledger_survives_faults_and_kills(tmp_path: Path) -> None:
    console = Console(file=StringIO(), width=120)
    report = run_chaos(ChaosConfig(windows=5, kills=3), tmp_path, console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert report.ok, f"{report.problems}\n{printed}"
    assert report.restarts == 3
    assert "Faults injected and survived" in printed
    # the run injected the fault kinds it promises (the rarest may miss a short run)
    assert {"latency", "ws_drop", "postonly"} <= set(report.injected), report.injected
    assert report.orders > 0
