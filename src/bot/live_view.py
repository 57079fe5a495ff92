"""Terminal rendering of the running bot: the live dashboard, the heartbeat line and the
end-of-run summary, all built from the snapshots in ``src.bot.status``.

Every cell is a ``Text`` object, never a markup string: slugs, reasons and event messages
come from the venue and the engine, and a ``[`` in them must print, not restyle the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from src.bot.status import (
    BotStatus,
    CoinStatus,
    EventRow,
    OrderRow,
    PositionRow,
    RunSummary,
)
from src.utils.live_display import LiveDisplay
from src.utils.money import MICRO, AmountError, format_micro, to_micro

DASH = "—"
MAX_EVENTS = 8
STATUS_LINE_MAX = 200

_ACTION_STYLES = {"UP": "bold green", "DOWN": "bold red", "PASS": "dim"}
_MODE_STYLES = {"live": "bold red", "paper": "bold yellow", "sim": "bold cyan"}


# --- small formatters ---------------------------------------------------------------------


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _span(seconds: float | None, hours: bool = False) -> str:
    """``seconds`` as ``mm:ss`` (``h:mm:ss`` past an hour, or always with ``hours``)."""
    if not _finite(seconds):
        return DASH
    # A negative time left is a window past its close awaiting settlement: keep the sign.
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if hours or h:
        return f"{sign}{h}:{m:02d}:{s:02d}"
    return f"{sign}{m:02d}:{s:02d}"


def _utc(at: float | None, fmt: str = "%H:%M:%S") -> str:
    """An epoch time in UTC; a corrupt clock shows a dash rather than killing the view."""
    if not _finite(at):
        return DASH
    try:
        return datetime.fromtimestamp(at, tz=UTC).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return DASH


def _money(micro: int, signed: bool = False, places: int = 2) -> str:
    """``$1,002.34``; with ``signed`` a gain reads ``+$2.34`` and a loss ``-$2.34``."""
    text = format_micro(abs(micro), places)
    if text.strip("0.,") == "":
        return f"${text}"  # rounds to zero: no sign, so "-$0.00" never shows
    if micro < 0:
        return f"-${text}"
    return f"+${text}" if signed else f"${text}"


def _pnl_style(micro: int | None) -> str:
    if micro is None or micro == 0:
        return ""
    return "green" if micro > 0 else "red"


def _pnl_text(micro: int | None, places: int = 2) -> Text:
    if micro is None:
        return Text(DASH, style="dim")
    return Text(_money(micro, signed=True, places=places), style=_pnl_style(micro))


def _price_micro(micro: int | None) -> str:
    return DASH if micro is None else format_micro(micro, 3)


def _price_dec(value: Decimal | None) -> str:
    if value is None:
        return DASH
    try:
        return format_micro(to_micro(value), 3)
    except AmountError:
        return DASH


def _shares(micro: int) -> str:
    return format_micro(micro, 2)


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if _finite(value) else DASH


def _spot(value: float | None) -> str:
    if not _finite(value):
        return DASH
    # Cheap coins (XRP, DOGE) move in the third decimal: two places would hide the edge.
    places = 2 if abs(value) >= 1000 else 4
    return f"{value:,.{places}f}"


def _ev(value: float | None) -> str:
    return f"{value:+.3f}" if _finite(value) else DASH


def _speed(speed: float | None) -> str:
    if speed is None or speed == 1:
        return "real time"
    return f"×{speed:g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cell(value: str | None, style: str = "") -> Text:
    if value is None or value == "":
        return Text(DASH, style="dim")
    return Text(value, style=style)


def _action_text(action: str) -> Text:
    return Text(action or DASH, style=_ACTION_STYLES.get(action.upper(), "dim"))


def _table(title: str, columns: Iterable[tuple[str, str]]) -> Table:
    """A table of ``(header, kind)`` columns: ``num`` right-aligned, ``key`` left, ``text``
    left and the first to give way when the terminal is narrow."""
    # No vertical rules and one space between columns: thirteen columns must fit a
    # 160-column terminal without folding a slug over two lines.
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for name, kind in columns:
        if kind == "text":
            # Free text wraps; figures never do, a folded number misreads.
            table.add_column(name, min_width=6, overflow="fold")
        else:
            table.add_column(
                name, justify="right" if kind == "num" else "left", no_wrap=True
            )
    return table


def _none_row(table: Table) -> None:
    """Keep an empty table on screen: a vanished section reads as a rendering bug."""
    cells = [Text("none", style="dim")] + [Text("") for _ in table.columns[1:]]
    table.add_row(*cells)


# --- the dashboard -------------------------------------------------------------------------


def _progress(status: BotStatus) -> str:
    parts = []
    if status.windows_target is not None:
        parts.append(f"windows {status.windows_done}/{status.windows_target}")
    else:
        parts.append(f"windows {status.windows_done}")
    if _finite(status.stop_at):
        parts.append(f"{_span(status.stop_at - status.now, hours=True)} left")
    return " · ".join(parts)


def _header(status: BotStatus) -> Panel:
    mode = status.mode.lower()
    line = Text()
    line.append(f" {status.mode.upper()} ", style=_MODE_STYLES.get(mode, "bold"))
    line.append(f"  {status.profile}", style="bold")
    line.append(f"  {_utc(status.now)} UTC", style="bold")
    line.append(f" {_utc(status.now, '%Y-%m-%d')}", style="dim")
    line.append(f"  {_speed(status.speed)}")
    line.append(f"  elapsed {_span(status.now - status.started_at, hours=True)}")
    line.append(f"  {_progress(status)}")
    line.append("  cash ")
    line.append(_money(status.cash_micro), style="bold")
    line.append("  pnl ")
    line.append_text(_pnl_text(status.realized_pnl_micro))
    line.append(f"  fees {_money(status.fees_micro, places=4)}")
    border = "red" if mode == "live" else "blue"
    return Panel(line, title="PolyFlup", title_align="left", border_style=border)


def _windows_table(coins: tuple[CoinStatus, ...]) -> Table:
    table = _table(
        "Windows",
        [
            ("Coin", "key"),
            ("Window", "text"),
            ("Left", "num"),
            ("Up bid", "num"),
            ("Up ask", "num"),
            ("Spot", "num"),
            ("Strike", "num"),
            ("P(Up)", "num"),
            ("Add conf", "num"),
            ("Bayes conf", "num"),
            # EV before the free text: a narrow terminal crops the last column, and a
            # cropped figure misreads where a cropped reason does not.
            ("EV", "num"),
            ("Action", "key"),
            ("Reason", "text"),
        ],
    )
    for c in coins:
        ev = c.expected_value
        ev_style = "" if not _finite(ev) or ev == 0 else ("green" if ev > 0 else "red")
        table.add_row(
            Text(c.coin, style="bold"),
            _cell(c.window_slug),
            Text(_span(c.time_left_s)),
            Text(_price_dec(c.up_bid)),
            Text(_price_dec(c.up_ask)),
            Text(_spot(c.spot)),
            Text(_spot(c.strike)),
            Text(_pct(c.fair_value)),
            Text(_pct(c.confidence_additive)),
            Text(_pct(c.confidence_bayesian)),
            Text(_ev(c.expected_value), style=ev_style),
            _action_text(c.action),
            _cell(c.reason, style="dim"),
        )
    if not coins:
        _none_row(table)
    return table


def _orders_table(orders: tuple[OrderRow, ...]) -> Table:
    table = _table(
        "Open orders",
        [
            ("Symbol", "key"),
            ("Outcome", "key"),
            ("Intent", "key"),
            ("Side", "key"),
            ("Price", "num"),
            ("Size", "num"),
            ("Matched", "num"),
            ("Status", "key"),
            ("Age", "num"),
        ],
    )
    for o in orders:
        table.add_row(
            Text(o.symbol, style="bold"),
            _cell(o.outcome),
            _cell(o.intent),
            Text(o.side, style="green" if o.side.upper() == "BUY" else "red"),
            Text(_price_micro(o.price_micro)),
            Text(_shares(o.size_micro)),
            Text(_shares(o.matched_micro)),
            _cell(o.status),
            Text(_span(o.age_s)),
        )
    if not orders:
        _none_row(table)
    return table


def _avg_cost_micro(p: PositionRow) -> int | None:
    if p.size_micro <= 0:
        return None
    return p.cost_micro * MICRO // p.size_micro


def _positions_table(positions: tuple[PositionRow, ...]) -> Table:
    table = _table(
        "Positions",
        [
            ("Symbol", "key"),
            ("Outcome", "key"),
            ("Size", "num"),
            ("Avg cost", "num"),
            ("Mark", "num"),
            ("Unrealized", "num"),
            ("Left", "num"),
        ],
    )
    for p in positions:
        table.add_row(
            Text(p.symbol, style="bold"),
            _cell(p.outcome),
            Text(_shares(p.size_micro)),
            Text(_price_micro(_avg_cost_micro(p))),
            Text(_price_micro(p.mark_micro)),
            _pnl_text(p.unrealized_micro),
            Text(_span(p.time_left_s)),
        )
    if not positions:
        _none_row(table)
    return table


def _events_table(events: tuple[EventRow, ...]) -> Table:
    table = _table(
        "Recent events",
        [("Time", "key"), ("Kind", "key"), ("Symbol", "key"), ("Message", "text")],
    )
    # Sorted here rather than trusted: the engine may append oldest-first.
    newest = sorted(
        events, key=lambda e: e.at if _finite(e.at) else -math.inf, reverse=True
    )
    for e in newest[:MAX_EVENTS]:
        table.add_row(
            Text(_utc(e.at), style="dim"),
            _cell(e.kind, style="cyan"),
            _cell(e.symbol),
            _cell(e.message),
        )
    if not events:
        _none_row(table)
    return table


def _footer(status: BotStatus) -> Text:
    line = Text()
    line.append("health ", style="bold")
    if not status.health:
        line.append("no checks", style="dim")
    for i, (component, state) in enumerate(status.health):
        if i:
            line.append(" · ", style="dim")
        ok = state.strip().lower() == "ok"
        line.append(f"{component}: {state}", style="green" if ok else "bold red")
    if status.counters:
        line.append("   ")
        line.append(
            " · ".join(f"{name} {value}" for name, value in status.counters), style="dim"
        )
    return line


def render_status(status: BotStatus) -> RenderableType:
    """The live dashboard for one snapshot: header, windows, orders, positions, events and
    a health footer."""
    return Group(
        _header(status),
        _windows_table(status.coins),
        _orders_table(status.orders),
        _positions_table(status.positions),
        _events_table(status.events),
        _footer(status),
    )


# --- the heartbeat line --------------------------------------------------------------------


def _coin_brief(c: CoinStatus) -> str:
    action = c.action or DASH
    if action.upper() in ("UP", "DOWN"):
        # The snapshot does not say which method decided; Bayesian is the default one.
        conf = (
            c.confidence_bayesian
            if _finite(c.confidence_bayesian)
            else c.confidence_additive
        )
        if _finite(conf):
            return f"{c.coin} {action} {conf:.0%}"
    return f"{c.coin} {action}"


def status_line(status: BotStatus) -> str:
    """One plain-text heartbeat line (no markup) for logs and non-terminal output, at most
    ``STATUS_LINE_MAX`` characters; coins that do not fit are elided with ``…``."""
    head = " | ".join(
        [
            f"💓 {_utc(status.now)} {status.mode} {status.profile}",
            _progress(status),
            f"cash {_money(status.cash_micro)}",
            f"pnl {_money(status.realized_pnl_micro, signed=True)}",
            f"{_plural(len(status.positions), 'position')}, "
            f"{_plural(len(status.orders), 'order')}",
        ]
    )
    line = head
    for i, coin in enumerate(status.coins):
        candidate = f"{line} | {_coin_brief(coin)}"
        more = i < len(status.coins) - 1
        # Leave room for the " | …" that marks the coins left out.
        if len(candidate) + (4 if more else 0) > STATUS_LINE_MAX:
            line = f"{line} | …"
            break
        line = candidate
    if len(line) > STATUS_LINE_MAX:
        line = line[: STATUS_LINE_MAX - 1] + "…"
    return line


# --- the end-of-run summary ----------------------------------------------------------------


def _breakdown(title: str, key: str, lines: list[tuple[str, int, int]]) -> Table:
    """Positions and PnL per ``key``, with a total row computed from the lines shown."""
    table = Table(title=title, title_justify="left", show_footer=bool(lines))
    table.add_column(key, footer=Text("Total", style="bold"), no_wrap=True)
    total_n = sum(n for _, n, _ in lines)
    total_pnl = sum(pnl for _, _, pnl in lines)
    table.add_column("Positions", justify="right", footer=Text(str(total_n), style="bold"))
    table.add_column("PnL", justify="right", footer=_pnl_text(total_pnl))
    for name, n, pnl in lines:
        table.add_row(_cell(name), Text(str(n)), _pnl_text(pnl))
    if not lines:
        _none_row(table)
    return table


def render_summary(summary: RunSummary) -> RenderableType:
    """The end-of-run summary: totals, then PnL by exit reason and by symbol."""
    duration = _span(summary.stopped_at - summary.started_at, hours=True)
    title = Text()
    title.append("Run stopped", style="bold")
    failed = summary.stop_reason == "error"
    title.append(f" ({summary.stop_reason})", style="bold red" if failed else "bold")
    title.append(f" after {duration}  ·  {summary.mode} {summary.profile}")

    kv = Table.grid(padding=(0, 2))
    kv.add_column(style="dim")
    kv.add_column(justify="right")
    rows: list[tuple[str, Text]] = [
        ("Windows", Text(str(summary.windows_done))),
        ("Decisions", Text(str(summary.decisions))),
        ("Trades decided", Text(str(summary.trades_decided))),
        ("Orders placed", Text(str(summary.orders_placed))),
        (
            "Orders rejected",
            Text(
                str(summary.orders_rejected), style="red" if summary.orders_rejected else ""
            ),
        ),
        ("Fills", Text(str(summary.fills))),
        (
            "Cash",
            Text(f"{_money(summary.cash_start_micro)} → {_money(summary.cash_end_micro)}"),
        ),
        ("Realized PnL", _pnl_text(summary.realized_pnl_micro)),
        ("Fees", Text(_money(summary.fees_micro, places=4))),
        ("Open positions left", Text(str(summary.open_positions))),
        ("Open orders left", Text(str(summary.open_orders))),
    ]
    for name, value in rows:
        kv.add_row(name, value)

    by_reason = _breakdown(
        "By exit reason",
        "Reason",
        [(line.reason, line.positions, line.pnl_micro) for line in summary.by_exit_reason],
    )
    by_symbol = _breakdown("By symbol", "Symbol", list(summary.by_symbol))
    return Panel(
        Group(kv, Text(""), by_reason, Text(""), by_symbol),
        title=title,
        title_align="left",
        border_style="red" if failed else "blue",
        expand=False,
    )


# --- the live display ----------------------------------------------------------------------


class LiveView(LiveDisplay[BotStatus]):
    """The dashboard redrawn in place while the bot runs (see :class:`LiveDisplay`)."""

    def __init__(
        self,
        status_fn: Callable[[], BotStatus],
        console: Console,
        refresh_per_second: float = 4,
    ) -> None:
        """Wrap ``status_fn``; nothing is displayed until the view is entered."""
        super().__init__(
            status_fn, render_status, console, refresh_per_second=refresh_per_second
        )
