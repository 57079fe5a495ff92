"""One PNG of a :class:`~src.data.stats.Stats`: PnL curve, by symbol, by exit reason,
calibration.

Drawn with matplotlib's object API on the Agg canvas — no pyplot, no display, no global
backend state — so it works headless, in threads, and from backtests that hold a ``Stats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from src.data.stats import CalibrationBucket, GroupStats, Stats

GREEN = "#2e7d32"
RED = "#c62828"
GREY = "#757575"
METHOD_COLOURS = {"additive": "#1565c0", "bayesian": "#ef6c00"}
MICRO = 1_000_000


def _usdc(micro: int) -> float:
    return micro / MICRO


def draw_empty(ax: Axes, text: str) -> None:
    """A panel with nothing to draw: ``text`` in its middle, no ticks."""
    ax.text(0.5, 0.5, text, ha="center", va="center", color=GREY, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _pnl_curve(ax: Axes, stats: Stats) -> None:
    ax.set_title("Cumulative realised PnL by close time")
    if not stats.closed:
        draw_empty(ax, "no closed positions yet")
        return
    times = [datetime.fromtimestamp(c.closed_ms / 1000, tz=UTC) for c in stats.closed]
    total, curve = 0, []
    for c in stats.closed:
        total += c.pnl_micro
        curve.append(_usdc(total))
    # Starts at zero at the first close, then steps at every close.
    ax.step([times[0], *times], [0.0, *curve], where="post", color="#37474f")
    ax.plot(times, curve, "o", markersize=3, color="#37474f")
    ax.axhline(0, color=GREY, linewidth=0.8)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("close time (UTC)")
    ax.set_ylabel("USDC")
    ax.grid(alpha=0.3)


def draw_pnl_bars(ax: Axes, title: str, groups: Sequence[GroupStats]) -> None:
    """Realised PnL per group, green or red, each bar labelled with its count."""
    ax.set_title(title)
    if not groups:
        draw_empty(ax, "no closed positions yet")
        return
    labels = [g.key for g in groups]
    values = [_usdc(g.pnl_micro) for g in groups]
    colours = [GREEN if v > 0 else RED if v < 0 else GREY for v in values]
    bars = ax.bar(labels, values, color=colours)
    ax.bar_label(bars, labels=[f"n={g.positions}" for g in groups], fontsize=8, padding=2)
    ax.axhline(0, color=GREY, linewidth=0.8)
    ax.set_ylabel("realised PnL (USDC)")
    ax.margins(y=0.15)
    ax.tick_params(axis="x", labelrotation=20 if len(labels) > 4 else 0)
    ax.grid(axis="y", alpha=0.3)


def draw_calibration(
    ax: Axes,
    buckets: Sequence[CalibrationBucket],
    title: str = "Calibration of traded decisions",
) -> None:
    """Bucket mean confidence against realised win rate, one line per method, with the
    diagonal of perfect calibration and each bucket's count."""
    ax.set_title(title)
    ax.plot([0.5, 1.0], [0.5, 1.0], "--", color=GREY, linewidth=1, label="perfect")
    ax.set_xlim(0.5, 1.0)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("confidence (bucket mean)")
    ax.set_ylabel("realised win rate")
    ax.grid(alpha=0.3)
    if not buckets:
        ax.text(
            0.75,
            0.25,
            "no decided windows with an outcome yet",
            ha="center",
            color=GREY,
        )
        return
    for n, method in enumerate(sorted({b.method for b in buckets})):
        members = [b for b in buckets if b.method == method]
        colour = METHOD_COLOURS.get(method, "#6a1b9a")
        ax.plot(
            [b.mean_confidence for b in members],
            [b.hit_rate for b in members],
            "o-",
            color=colour,
            label=method,
        )
        for b in members:
            ax.annotate(
                str(b.count),
                (b.mean_confidence, b.hit_rate),
                textcoords="offset points",
                xytext=(4, 4) if n % 2 == 0 else (4, -10),  # methods' counts apart
                fontsize=7,
                color=colour,
            )
    ax.legend(loc="lower right", fontsize=8, title="n = decisions", title_fontsize=7)


def stats_figure(stats: Stats, title: str | None = None) -> Figure:
    """The four-panel figure (not saved); the caller may add to it or save it."""
    figure = Figure(figsize=(13, 9), layout="constrained")
    FigureCanvasAgg(figure)
    (curve, symbols), (reasons, calib) = figure.subplots(2, 2)
    total = stats.total
    win = "—" if total.win_rate is None else f"{total.win_rate:.1%}"
    figure.suptitle(
        title
        or (
            f"PolyFlup — {total.positions} closed positions, realised PnL "
            f"{_usdc(total.pnl_micro):+.2f} USDC, win rate {win}"
        )
    )
    _pnl_curve(curve, stats)
    draw_pnl_bars(symbols, "PnL by symbol", stats.by_symbol)
    draw_pnl_bars(reasons, "PnL by exit reason", stats.by_exit_reason)
    draw_calibration(calib, stats.calibration)
    return figure


def write_stats_png(stats: Stats, path: Path, title: str | None = None) -> Path:
    """Draw :func:`stats_figure` into a PNG at ``path`` (folders created); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stats_figure(stats, title).savefig(path, format="png", dpi=100)
    return path
