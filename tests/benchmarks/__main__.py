"""Run every benchmark and print a table: ``python -m tests.benchmarks [-k TEXT]...``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import tests.benchmarks as package
from tests.benchmarks import BenchResult


def _collect(filters: list[str]) -> list[tuple[str, object]]:
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"tests.benchmarks.{info.name}")
        for attr in sorted(dir(module)):
            func = getattr(module, attr)
            full = f"{info.name}.{attr}"
            wanted = not filters or any(text in full for text in filters)
            if attr.startswith("bench_") and callable(func) and wanted:
                found.append((full, func))
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print their figures; exit 1 if one misses its target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "-k",
        action="append",
        default=[],
        help="only benchmarks whose name contains this (repeatable)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        help="also write the results as a Markdown table to this file",
    )
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    rows: list[BenchResult] = []
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
            rows.append(result)
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
    if args.markdown is not None:
        args.markdown.write_text(markdown_table(rows), encoding="utf-8")
        console.print(f"📝 wrote {args.markdown}")
    return 1 if failed else 0


def markdown_table(rows: list[BenchResult]) -> str:
    """The results as a Markdown table (for docs/BENCHMARKS.md)."""
    lines = [
        "| benchmark | figure | unit | target | ok | note |",
        "|---|---:|---|---|---|---|",
    ]
    for r in rows:
        mark = {True: "✅", False: "❌", None: ""}[r.ok]
        lines.append(
            f"| {r.name} | {r.value:,.3f} | {r.unit} | {r.target} | {mark} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
