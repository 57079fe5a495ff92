"""A backtest's ``report.png``: equity curve, drawdown, calibration of both confidence
methods, PnL by exit reason, and the Brier score by minute of the market's mid, the fair
value and both confidences.

Same style and helpers as ``polyflup stats --png`` (:mod:`src.reports.stats_plot`), on the
Agg canvas through matplotlib's object API — no pyplot, no global backend state. The
numbers come ready-made from :mod:`src.backtest.report`; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from src.data.stats import CalibrationBucket, GroupStats
from src.reports.stats_plot import (
    GREY,
    RED,
    draw_calibration,
    draw_empty,
    draw_pnl_bars,
)

if TYPE_CHECKING:
    from src.backtest.report import MinuteBrier

EQUITY_COLOUR = "#37474f"
FORECASTER_STYLES = {
    "market": ("market mid", "#37474f", "o-"),
    "fair_value": ("fair value", "#1e88e5", "s-"),
    "additive": ("confidence (additive)", "#43a047", "^--"),
    "bayesian": ("confidence (bayesian)", "#fb8c00", "v--"),
}
MICRO = 1_000_000

Points = Sequence[tuple[int, int]]  # (time ms, micro-units)


def _times(points: Points) -> list[datetime]:
    return [datetime.fromtimestamp(at / 1000, tz=UTC) for at, _ in points]


def _date_axis(ax: Axes) -> None:
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("close time (UTC)")
    ax.grid(alpha=0.3)


def _equity(ax: Axes, equity: Points, start_micro: int) -> None:
    ax.set_title("Equity after each closed position")
    if not equity:
        draw_empty(ax, "no closed positions")
        return
    times = _times(equity)
    values = [v / MICRO for _, v in equity]
    ax.axhline(start_micro / MICRO, color=GREY, linewidth=0.8, linestyle="--")
    # From the starting balance at the first close, then a step at every close.
    ax.step(
        [times[0], *times],
        [start_micro / MICRO, *values],
        where="post",
        color=EQUITY_COLOUR,
    )
    ax.plot(times, values, "o", markersize=3, color=EQUITY_COLOUR)
    ax.set_ylabel("USDC")
    _date_axis(ax)


def _drawdown(ax: Axes, drawdown: Points) -> None:
    ax.set_title("Drawdown from the running peak")
    if not drawdown:
        draw_empty(ax, "no closed positions")
        return
    times = _times(drawdown)
    falls = [-v / MICRO for _, v in drawdown]
    ax.fill_between(times, falls, 0, step="post", color=RED, alpha=0.35, linewidth=0)
    ax.step(times, falls, where="post", color=RED, linewidth=1)
    ax.axhline(0, color=GREY, linewidth=0.8)
    ax.set_ylabel("USDC below the peak")
    _date_axis(ax)


def _brier_by_minute(ax: Axes, rows: Sequence[MinuteBrier]) -> None:
    ax.set_title("Brier score of P(Up) by minute into the window (lower is better)")
    if not rows:
        draw_empty(ax, "no decision with a known outcome")
        return
    minutes = [r.minute for r in rows]
    for name, (label, colour, style) in FORECASTER_STYLES.items():
        values = [getattr(r, name) for r in rows]
        if all(v is None for v in values):
            continue
        points = [(m, v) for m, v in zip(minutes, values, strict=True) if v is not None]
        ax.plot(*zip(*points, strict=True), style, color=colour, label=label, markersize=4)
    ax.set_xlabel("minute into the window")
    ax.set_ylabel("Brier score")
    ax.set_xticks(minutes)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")


def backtest_figure(
    start_micro: int,
    equity: Points,
    drawdown: Points,
    calibration: Sequence[CalibrationBucket],
    by_exit_reason: Sequence[GroupStats],
    title: str,
    brier_by_minute: Sequence[MinuteBrier] = (),
) -> Figure:
    """The five-panel figure (not saved): equity (from ``start_micro``) and drawdown on
    the left, on the same time axis; calibration of both methods and PnL by exit reason on
    the right; the Brier score by minute across the bottom."""
    figure = Figure(figsize=(13, 12), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(3, 2, height_ratios=(1, 1, 0.9))
    equity_ax = figure.add_subplot(grid[0, 0])
    calib_ax = figure.add_subplot(grid[0, 1])
    drawdown_ax = figure.add_subplot(grid[1, 0])
    reasons_ax = figure.add_subplot(grid[1, 1])
    _brier_by_minute(figure.add_subplot(grid[2, :]), brier_by_minute)
    figure.suptitle(title)
    _equity(equity_ax, equity, start_micro)
    _drawdown(drawdown_ax, drawdown)
    if equity and drawdown:
        drawdown_ax.sharex(equity_ax)
    draw_calibration(
        calib_ax, calibration, "Calibration: confidence vs realised win rate, all decisions"
    )
    draw_pnl_bars(reasons_ax, "PnL by exit reason", by_exit_reason)
    return figure


def write_backtest_png(
    path: Path,
    start_micro: int,
    equity: Points,
    drawdown: Points,
    calibration: Sequence[CalibrationBucket],
    by_exit_reason: Sequence[GroupStats],
    title: str,
    brier_by_minute: Sequence[MinuteBrier] = (),
) -> Path:
    """Draw :func:`backtest_figure` into a PNG at ``path`` (folders created); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = backtest_figure(
        start_micro, equity, drawdown, calibration, by_exit_reason, title, brier_by_minute
    )
    figure.savefig(path, format="png", dpi=100)
    return path
