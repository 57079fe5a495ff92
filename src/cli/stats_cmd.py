"""``polyflup stats``: performance and calibration from the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from src.cli.common import console, db_option, emit_json, err_console, handle_errors
from src.cli.db_cmd import read_database
from src.data.stats import GroupStats, Stats, compute_stats
from src.utils.money import format_micro, micro_str


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _group_json(group: GroupStats) -> dict[str, Any]:
    return {
        "key": group.key,
        "positions": group.positions,
        "wins": group.wins,
        "win_rate": group.win_rate,
        "cost": micro_str(group.cost_micro),
        "fees": micro_str(group.fees_micro),
        "pnl": micro_str(group.pnl_micro),
        "roi": group.roi,
    }


def stats_json(stats: Stats) -> dict[str, Any]:
    """The figures as JSON-ready data (amounts as decimal strings)."""
    return {
        "cash": micro_str(stats.cash_micro),
        "open_positions": stats.open_positions,
        "total": _group_json(stats.total),
        "by_symbol": [_group_json(g) for g in stats.by_symbol],
        "by_day": [_group_json(g) for g in stats.by_day],
        "by_exit_reason": [_group_json(g) for g in stats.by_exit_reason],
        "calibration": [
            {
                "method": b.method,
                "low": b.low,
                "high": b.high,
                "count": b.count,
                "mean_confidence": round(b.mean_confidence, 4),
                "hit_rate": round(b.hit_rate, 4),
            }
            for b in stats.calibration
        ],
    }


def _group_table(title: str, groups: tuple[GroupStats, ...]) -> Table:
    table = Table(title=title)
    table.add_column(title.split(" by ")[-1].capitalize(), no_wrap=True)
    for name in ("Positions", "Win rate", "Cost", "Fees", "PnL", "ROI"):
        table.add_column(name, justify="right", no_wrap=True)
    for g in groups:
        style = "green" if g.pnl_micro > 0 else "red" if g.pnl_micro < 0 else ""
        table.add_row(
            g.key,
            str(g.positions),
            _pct(g.win_rate),
            format_micro(g.cost_micro),
            format_micro(g.fees_micro, 4),
            f"[{style}]{format_micro(g.pnl_micro)}[/]"
            if style
            else format_micro(g.pnl_micro),
            _pct(g.roi),
        )
    return table


@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (amounts as strings).")
@click.option(
    "--png",
    "png_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="FILE",
    help="Also draw the figures into a PNG: PnL curve, by symbol, by exit reason, "
    "calibration.",
)
@click.pass_context
@handle_errors
def stats(
    ctx: click.Context, db_path: Path | None, as_json: bool, png_path: Path | None
) -> None:
    """Performance by symbol, day and exit reason, calibration, and the ledger's cash.

    Examples:

      polyflup stats

      polyflup stats --db sim.db --png stats.png
    """
    with read_database(ctx, db_path) as cur:
        figures = None if cur is None else compute_stats(cur)
    if figures is None:
        if as_json:
            emit_json({})
        if png_path is not None:
            err_console().print(
                f"No chart written to {png_path}: there is no ledger yet.", markup=False
            )
        return
    if as_json:
        emit_json(stats_json(figures))
    else:
        print_tables(figures)
    if png_path is not None:
        write_png(figures, png_path, as_json)


def print_tables(figures: Stats) -> None:
    """The headline, the three PnL tables and the calibration table."""
    out = console()
    total = figures.total
    out.print(
        f"💰 Cash (ledger): {format_micro(figures.cash_micro)}   "
        f"open positions: {figures.open_positions}   closed: {total.positions}   "
        f"PnL: {format_micro(total.pnl_micro)}   win rate: {_pct(total.win_rate)}"
    )
    if not total.positions:
        out.print("No closed positions yet.")
        return
    for title, groups in (
        ("PnL by symbol", figures.by_symbol),
        ("PnL by day", figures.by_day),
        ("PnL by exit reason", figures.by_exit_reason),
    ):
        out.print(_group_table(title, groups))
    if figures.calibration:
        table = Table(title="Calibration of traded decisions")
        for name in ("Method", "Confidence", "Decisions", "Mean confidence", "Hit rate"):
            table.add_column(name, justify="left" if name == "Method" else "right")
        for b in figures.calibration:
            table.add_row(
                b.method,
                f"{b.low:.2f}–{b.high:.2f}",
                str(b.count),
                f"{b.mean_confidence:.3f}",
                _pct(b.hit_rate),
            )
        out.print(table)


def write_png(figures: Stats, path: Path, as_json: bool) -> None:
    """Draw the chart, or say why not (messages on stderr when stdout carries JSON)."""
    out = err_console() if as_json else console()
    if not figures.total.positions and not figures.calibration:
        out.print(
            f"No chart written to {path}: no closed positions and no decided windows "
            "with an outcome yet.",
            markup=False,
            soft_wrap=True,  # a long path stays on one line
        )
        return
    from src.reports.stats_plot import write_stats_png  # matplotlib only when asked

    write_stats_png(figures, path)
    out.print(f"📈 Chart written to {path}", markup=False, soft_wrap=True)
