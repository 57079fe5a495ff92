"""Benchmarks, run with ``make bench`` (never part of ``make test``).

Each ``bench_*.py`` module here exposes functions named ``bench_*`` that take no argument
and return a :class:`BenchResult` (or a list of them). Speed is measured here, never
asserted by timed tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchResult:
    """One measured figure, with the target it is compared against (if any)."""

    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""
