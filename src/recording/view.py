"""Terminal output of ``polyflup record``: the live table and the end-of-run summary.

Cells are ``Text`` objects, never markup: slugs and numbers print as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from src.recording.recorder import RecorderStatus, RecordSummary
from src.utils.live_display import LiveDisplay

DASH = "—"


def _when(t_s: float | None) -> str:
    if t_s is None:
        return DASH
    return datetime.fromtimestamp(t_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _text(value: object) -> Text:
    return Text(DASH if value is None else str(value))


def render_status(status: RecorderStatus) -> RenderableType:
    """The live table: one line per coin with its last row."""
    state = "waiting for outcomes" if status.finishing else "recording"
    head = Text(
        f"📼 {state} · {_when(status.now)} UTC · {status.rows:,} rows "
        f"({status.rows_per_s:.1f}/s) · books ws {status.ws_books:,} / REST "
        f"{status.rest_books:,} · resolved {status.resolved} · awaiting outcome "
        f"{status.unresolved}"
    )
    table = Table(expand=False)
    for name, justify in (
        ("Coin", "left"),
        ("Window", "left"),
        ("Rows", "right"),
        ("Missed", "right"),
        ("Up bid/ask", "right"),
        ("Down bid/ask", "right"),
        ("Sizes up b/a", "right"),
        ("Spot", "right"),
        ("Last t", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for coin in status.coins:
        last = coin.last
        if last is None:
            blanks = [Text(DASH) for _ in range(5)]
            cells = [Text(coin.coin), _text(coin.slug), Text("0"), Text(str(coin.missed))]
            table.add_row(*cells, *blanks)
            continue
        table.add_row(
            Text(coin.coin),
            _text(coin.slug),
            Text(f"{coin.window_rows:,}"),
            Text(str(coin.missed)),
            Text(f"{last.up_bid or DASH}/{last.up_ask or DASH}"),
            Text(f"{last.down_bid or DASH}/{last.down_ask or DASH}"),
            Text(f"{last.up_bid_size or DASH}/{last.up_ask_size or DASH}"),
            Text(DASH if last.spot is None else f"{last.spot:,.2f}"),
            Text(_when(last.t_s)[11:]),
        )
    return Group(head, table)


def render_summary(summary: RecordSummary) -> RenderableType:
    """The end-of-run summary: rows per coin, files, windows resolved."""
    took = max(0.0, summary.ended - summary.started)
    head = Text(
        f"📼 Recording stopped ({summary.stop_reason}): {summary.rows:,} rows over "
        f"{took:,.0f} s"
    )
    table = Table()
    table.add_column("Coin", no_wrap=True)
    table.add_column("Rows written", justify="right")
    for coin, rows in summary.rows_by_coin.items():
        table.add_row(Text(coin), Text(f"{rows:,}"))
    table.add_section()
    table.add_row(Text("total"), Text(f"{summary.rows:,}"))
    files = ", ".join(p.name for p in summary.files) or DASH
    resolved = ", ".join(f"{slug} {outcome.title()}" for slug, outcome in summary.resolved)
    detail = f" ({resolved})" if resolved else ""
    lines = [
        Text(f"📁 files: {files}"),
        Text(f"🏁 windows resolved: {len(summary.resolved)}{detail}"),
        Text(f"⏳ windows still awaiting an outcome: {summary.unresolved}"),
        Text(
            f"📚 books read: {summary.ws_books:,} from the websocket, "
            f"{summary.rest_books:,} over REST"
        ),
    ]
    return Group(head, table, *lines)


class LiveStatus(LiveDisplay[RecorderStatus]):
    """The live table redrawn in place; a failing status shows its error, never stops
    the recorder (see :class:`LiveDisplay`)."""

    def __init__(
        self, status_fn: Callable[[], RecorderStatus], console: Console, fps: float = 2
    ) -> None:
        super().__init__(
            status_fn,
            render_status,
            console,
            refresh_per_second=fps,
            label="record live view",
            transient=True,
        )
