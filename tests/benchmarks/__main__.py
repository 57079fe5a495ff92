"""Run every benchmark and print a table: ``python -m tests.benchmarks [-k SUBSTRING]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

from rich.console import Console
from rich.table import Table

import tests.benchmarks as package
from tests.benchmarks import BenchResult


def _collect(filter_text: str) -> list[tuple[str, object]]:
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"tests.benchmarks.{info.name}")
        for attr in sorted(dir(module)):
            func = getattr(module, attr)
            full = f"{info.name}.{attr}"
            if attr.startswith("bench_") and callable(func) and filter_text in full:
                found.append((full, func))
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print their figures; exit 1 if one misses its target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", default="", help="only benchmarks whose name contains this")
    args = parser.parse_args(argv)
    console = Console()
    table = Table(title="PolyFlup benchmarks")
    for column in ("benchmark", "figure", "unit", "target", "ok", "note"):
        table.add_column(column, justify="right" if column == "figure" else "left")
    benches = _collect(args.k)
    if not benches:
        console.print("No benchmarks found yet.")
        return 0
    failed = False
    for name, func in benches:
        console.print(f"⏱️  {name} …")
        started = time.perf_counter()
        outcome = func()
        results = outcome if isinstance(outcome, list) else [outcome]
        for result in results:
            assert isinstance(result, BenchResult)
            mark = {True: "✅", False: "❌", None: ""}[result.ok]
            failed |= result.ok is False
            table.add_row(
                result.name,
                f"{result.value:,.3f}",
                result.unit,
                result.target,
                mark,
                result.note,
            )
        console.print(f"   done in {time.perf_counter() - started:.1f} s")
    console.print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
