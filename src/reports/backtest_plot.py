"""A backtest's ``report.png``: equity curve, drawdown, calibration of both confidence
methods, PnL by exit reason.

Same style and helpers as ``polyflup stats --png`` (:mod:`src.reports.stats_plot`), on the
Agg canvas through matplotlib's object API — no pyplot, no global backend state. The
numbers come ready-made from :mod:`src.backtest.report`; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

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

EQUITY_COLOUR = "#37474f"
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


def backtest_figure(
    start_micro: int,
    equity: Points,
    drawdown: Points,
    calibration: Sequence[CalibrationBucket],
    by_exit_reason: Sequence[GroupStats],
    title: str,
) -> Figure:
    """The four-panel figure (not saved): equity (from ``start_micro``) and drawdown on
    the left, on the same time axis; calibration of both methods and PnL by exit reason on
    the right."""
    figure = Figure(figsize=(13, 9), layout="constrained")
    FigureCanvasAgg(figure)
    (equity_ax, calib_ax), (drawdown_ax, reasons_ax) = figure.subplots(2, 2)
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
) -> Path:
    """Draw :func:`backtest_figure` into a PNG at ``path`` (folders created); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = backtest_figure(
        start_micro, equity, drawdown, calibration, by_exit_reason, title
    )
    figure.savefig(path, format="png", dpi=100)
    return path
