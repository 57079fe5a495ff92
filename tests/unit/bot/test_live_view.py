"""The live view: dashboard sections, heartbeat line, run summary and the Live wrapper."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console, RenderableType
from rich.style import Style

from src.bot.live_view import (
    STATUS_LINE_MAX,
    LiveView,
    render_status,
    render_summary,
    status_line,
)
from src.bot.status import (
    BotStatus,
    CoinStatus,
    EventRow,
    ExitReasonLine,
    OrderRow,
    PositionRow,
    RunSummary,
)

M = 1_000_000
NOW = datetime(2026, 5, 9, 12, 34, 56, tzinfo=UTC).timestamp()
DASH = "—"


def make_coin(**overrides: object) -> CoinStatus:
    fields: dict[str, object] = {
        "coin": "BTC",
        "window_slug": "btc-updown-15m-1778330100",
        "time_left_s": 125.0,
        "up_bid": Decimal("0.52"),
        "up_ask": Decimal("0.54"),
        "spot": 104_250.5,
        "strike": 104_100.0,
        "fair_value": 0.713,
        "confidence_additive": 0.68,
        "confidence_bayesian": 0.74,
        "action": "UP",
        "reason": "edge",
        "expected_value": 0.042,
        "decided_at": NOW - 5,
    }
    fields.update(overrides)
    return CoinStatus(**fields)  # type: ignore[arg-type]


def make_status(**overrides: object) -> BotStatus:
    fields: dict[str, object] = {
        "mode": "sim",
        "profile": "aggressive",
        "now": NOW,
        "started_at": NOW - 3600,
        "speed": 60.0,
        "windows_done": 3,
        "windows_target": 6,
        "stop_at": None,
        "cash_micro": 1_002_340_000,
        "realized_pnl_micro": 2_340_000,
        "fees_micro": 12_300,
        "coins": (
            make_coin(),
            make_coin(
                coin="ETH",
                window_slug="eth-updown-15m-1778330100",
                action="PASS",
                reason="no_edge",
                expected_value=-0.01,
            ),
        ),
        "orders": (
            OrderRow(
                symbol="BTC",
                outcome="Up",
                intent="exit_plan",
                side="SELL",
                price_micro=999_000,
                size_micro=10 * M,
                matched_micro=2_500_000,
                status="live",
                age_s=65.0,
            ),
        ),
        "positions": (
            PositionRow(
                symbol="BTC",
                outcome="Up",
                size_micro=10 * M,
                cost_micro=6_200_000,
                fees_micro=100_000,
                mark_micro=500_000,
                time_left_s=125.0,
            ),
            PositionRow(
                symbol="SOL",
                outcome="Down",
                size_micro=4 * M,
                cost_micro=1_600_000,
                fees_micro=0,
                mark_micro=None,
                time_left_s=30.0,
            ),
        ),
        "events": (
            EventRow(at=NOW - 10, kind="filled", message="BUY 10 @ 0.62", symbol="BTC"),
        ),
        "health": (("venue", "ok"), ("binance", "stale 12s")),
        "counters": (("decisions", 12), ("orders", 3), ("fills", 2)),
    }
    fields.update(overrides)
    return BotStatus(**fields)  # type: ignore[arg-type]


def make_summary(**overrides: object) -> RunSummary:
    fields: dict[str, object] = {
        "mode": "sim",
        "profile": "aggressive",
        "started_at": NOW,
        "stopped_at": NOW + 5465,
        "stop_reason": "windows",
        "windows_done": 6,
        "decisions": 24,
        "trades_decided": 7,
        "orders_placed": 9,
        "orders_rejected": 1,
        "fills": 8,
        "cash_start_micro": 1_000 * M,
        "cash_end_micro": 1_001_100_000,
        "realized_pnl_micro": 1_100_000,
        "fees_micro": 45_600,
        "open_positions": 0,
        "open_orders": 1,
        "by_exit_reason": (
            ExitReasonLine("exit_plan", 3, 1_500_000),
            ExitReasonLine("stop_loss", 2, -800_000),
            ExitReasonLine("settlement_win", 1, 400_000),
        ),
        "by_symbol": (("BTC", 4, 2_000_000), ("ETH", 3, -500_000)),
    }
    fields.update(overrides)
    return RunSummary(**fields)  # type: ignore[arg-type]


def render_text(renderable: RenderableType) -> str:
    console = Console(record=True, width=160, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def styled_segments(renderable: RenderableType) -> list[tuple[str, Style | None]]:
    console = Console(width=160, file=io.StringIO())
    return [(seg.text, seg.style) for seg in console.render(renderable)]


def style_of(renderable: RenderableType, text: str) -> Style:
    for seg_text, style in styled_segments(renderable):
        if text in seg_text:
            assert style is not None
            return style
    raise AssertionError(f"{text!r} not rendered")


def line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert lines, f"{needle!r} not in output:\n{text}"
    return lines[0]


# --- dashboard -----------------------------------------------------------------------------


def test_windows_row_shows_prices_percent_confidences_and_action() -> None:
    text = render_text(render_status(make_status()))
    row = line_with(text, "btc-updown-15m")
    for expected in (
        "BTC",
        "02:05",
        "0.520",
        "0.540",
        "104,250.50",
        "104,100.00",
        "71%",
        "68%",
        "74%",
        "UP",
        "edge",
        "+0.042",
    ):
        assert expected in row, expected
    eth = line_with(text, "eth-updown-15m")
    assert "PASS" in eth
    assert "-0.010" in eth


def test_actions_are_coloured_up_green_down_red_pass_dim() -> None:
    status = make_status(
        coins=(
            make_coin(coin="BTC", action="UP"),
            make_coin(coin="ETH", action="DOWN"),
            make_coin(coin="SOL", action="PASS", reason="r"),
        )
    )
    rendered = render_status(status)
    assert style_of(rendered, "UP").color.name == "green"
    assert style_of(rendered, "DOWN").color.name == "red"
    assert style_of(rendered, "PASS").dim


def test_cheap_coin_spot_keeps_four_decimals() -> None:
    status = make_status(coins=(make_coin(coin="XRP", spot=0.52345, strike=0.5199),))
    row = line_with(render_text(render_status(status)), "XRP")
    assert "0.5234" in row or "0.5235" in row
    assert "0.5199" in row


def test_none_values_show_a_dash() -> None:
    bare = CoinStatus(coin="DOGE", window_slug="doge-updown-15m", time_left_s=61.0)
    row = line_with(render_text(render_status(make_status(coins=(bare,)))), "DOGE")
    # bid, ask, spot, strike, P(Up), two confidences, action, reason, EV
    assert row.count(DASH) == 10
    assert "01:01" in row


def test_empty_tables_say_none_instead_of_disappearing() -> None:
    status = make_status(coins=(), orders=(), positions=(), events=())
    text = render_text(render_status(status))
    for title in ("Windows", "Open orders", "Positions", "Recent events"):
        assert title in text
    none_rows = [line for line in text.splitlines() if line.strip("│ ") == "none"]
    assert len(none_rows) == 4


def test_order_row_formats_prices_sizes_and_age() -> None:
    row = line_with(render_text(render_status(make_status())), "exit_plan")
    for expected in ("BTC", "Up", "SELL", "0.999", "10.00", "2.50", "live", "01:05"):
        assert expected in row, expected


def test_positions_show_avg_cost_mark_and_negative_unrealized() -> None:
    rendered = render_status(make_status())
    text = render_text(rendered)
    btc = [line for line in text.splitlines() if "BTC" in line and "0.620" in line]
    assert btc, text
    # 10 shares marked at 0.50 = $5.00 against $6.20 of cost
    assert "0.500" in btc[0]
    assert "-$1.20" in btc[0]
    assert style_of(rendered, "-$1.20").color.name == "red"
    sol = line_with(text, "SOL")
    assert "0.400" in sol  # $1.60 for 4 shares
    assert DASH in sol  # no mark, no unrealized


def test_header_shows_mode_clock_speed_progress_and_money() -> None:
    text = render_text(render_status(make_status(realized_pnl_micro=-2_340_000)))
    header = "\n".join(text.splitlines()[:3])
    for expected in (
        "SIM",
        "aggressive",
        "12:34:56",
        "2026-05-09",
        "×60",
        "windows 3/6",
        "$1,002.34",
        "-$2.34",
        "$0.0123",
    ):
        assert expected in header, expected


def test_header_real_time_and_time_left_to_stop() -> None:
    status = make_status(speed=None, windows_target=None, stop_at=NOW + 600)
    header = "\n".join(render_text(render_status(status)).splitlines()[:3])
    assert "real time" in header
    assert "0:10:00 left" in header
    assert "windows 3" in header
    assert "/6" not in header


def test_live_mode_is_red_and_bold_sim_is_not() -> None:
    live = style_of(render_status(make_status(mode="live")), "LIVE")
    assert live.bold
    assert live.color.name == "red"
    sim = style_of(render_status(make_status(mode="sim")), "SIM")
    assert sim.color is None or sim.color.name != "red"


def test_positive_realized_pnl_is_green_with_plus_sign() -> None:
    rendered = render_status(make_status(realized_pnl_micro=2_340_000))
    assert style_of(rendered, "+$2.34").color.name == "green"


def test_events_newest_first_at_most_eight() -> None:
    events = tuple(
        EventRow(at=NOW - 100 + i, kind="place", message=f"event-{i:02d}", symbol=None)
        for i in range(10)
    )
    text = render_text(render_status(make_status(events=events)))
    shown = [line for line in text.splitlines() if "event-" in line]
    assert len(shown) == 8
    assert "event-09" in shown[0]
    assert "event-02" in shown[-1]
    assert "event-01" not in text
    assert DASH in shown[0]  # no symbol
    assert "12:33:25" in shown[0]  # NOW - 91 s


def test_venue_text_with_brackets_prints_literally() -> None:
    events = (
        EventRow(at=NOW, kind="error", message="[red]rejected[/red] [x", symbol="BTC"),
    )
    text = render_text(render_status(make_status(events=events)))
    assert "[red]rejected[/red] [x" in text


def test_footer_health_ok_green_problems_red_and_counters() -> None:
    rendered = render_status(make_status())
    footer = render_text(rendered).splitlines()[-1]
    assert "venue: ok" in footer
    assert "binance: stale 12s" in footer
    assert "decisions 12" in footer
    assert "fills 2" in footer
    assert style_of(rendered, "venue: ok").color.name == "green"
    assert style_of(rendered, "binance: stale 12s").color.name == "red"


# --- heartbeat line ------------------------------------------------------------------------


def test_status_line_content() -> None:
    line = status_line(make_status())
    assert line.startswith("💓 12:34:56 sim aggressive")
    for expected in (
        "windows 3/6",
        "cash $1,002.34",
        "pnl +$2.34",
        "2 positions, 1 order",
        "BTC UP 74%",
        "ETH PASS",
    ):
        assert expected in line, expected
    assert "[" not in line
    assert "\n" not in line


def test_status_line_negative_pnl_and_singular_plural() -> None:
    status = make_status(realized_pnl_micro=-500_000, positions=(), orders=(), coins=())
    line = status_line(status)
    assert "pnl -$0.50" in line
    assert "0 positions, 0 orders" in line


def test_status_line_stays_short_with_many_coins() -> None:
    coins = tuple(make_coin(coin=f"COIN{i}") for i in range(60))
    line = status_line(make_status(coins=coins))
    assert len(line) <= STATUS_LINE_MAX
    assert line.endswith(" | …")
    # Coins are dropped whole, never cut mid-figure.
    coin_parts = line.split(" | ")[5:-1]
    assert coin_parts
    assert all(re.fullmatch(r"COIN\d+ UP 74%", part) for part in coin_parts), coin_parts


def test_status_line_caps_an_absurd_profile_name() -> None:
    line = status_line(make_status(profile="p" * 500))
    assert len(line) <= STATUS_LINE_MAX


# --- summary -------------------------------------------------------------------------------


def total_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip("│┃ ").startswith("Total")]


def test_summary_title_and_key_values() -> None:
    text = render_text(render_summary(make_summary()))
    assert "windows" in text.splitlines()[0]
    assert "1:31:05" in text.splitlines()[0]
    for expected in (
        "Decisions",
        "24",
        "Orders rejected",
        "$1,000.00 → $1,001.10",
        "+$1.10",
        "$0.0456",
        "Open orders left",
    ):
        assert expected in text, expected


def test_summary_total_rows_equal_the_sum_of_lines() -> None:
    text = render_text(render_summary(make_summary()))
    reason_total, symbol_total = total_lines(text)
    # exit reasons: 3 + 2 + 1 positions, 1.50 - 0.80 + 0.40
    assert " 6 " in reason_total
    assert "+$1.10" in reason_total
    # symbols: 4 + 3 positions, 2.00 - 0.50
    assert " 7 " in symbol_total
    assert "+$1.50" in symbol_total
    assert "-$0.80" in line_with(text, "stop_loss")
    assert "-$0.50" in line_with(text, "ETH")


def test_summary_negative_total_is_red() -> None:
    summary = make_summary(by_symbol=(("BTC", 1, -300_000), ("ETH", 1, -200_000)))
    rendered = render_summary(summary)
    assert "-$0.50" in total_lines(render_text(rendered))[1]
    assert style_of(rendered, "-$0.50").color.name == "red"


def test_summary_empty_breakdowns_say_none_without_total() -> None:
    summary = make_summary(by_exit_reason=(), by_symbol=(), stop_reason="signal")
    text = render_text(render_summary(summary))
    assert "signal" in text.splitlines()[0]
    assert len([line for line in text.splitlines() if "none" in line]) == 2
    assert total_lines(text) == []


# --- LiveView ------------------------------------------------------------------------------


def terminal_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=160)


def test_live_view_enters_renders_and_exits() -> None:
    calls = []

    def status_fn() -> BotStatus:
        calls.append(1)
        return make_status()

    console = terminal_console()
    with LiveView(status_fn, console, refresh_per_second=4) as view:
        before = len(calls)
        view.refresh()
        assert len(calls) > before
    output = console.file.getvalue()
    assert "btc-updown-15m" in output
    assert not console._live_stack  # stopped: another Live may start


def test_live_view_on_a_plain_file_prints_the_final_frame() -> None:
    console = Console(file=io.StringIO(), width=160)
    with LiveView(make_status, console):
        pass
    assert "btc-updown-15m" in console.file.getvalue()


def test_live_view_shows_an_error_panel_when_status_fn_raises() -> None:
    def broken() -> BotStatus:
        raise RuntimeError("ledger locked")

    console = terminal_console()
    with LiveView(broken, console) as view:
        view.refresh()  # must not raise
        text = render_text(view.renderable())
    assert "RuntimeError: ledger locked" in text
    assert "status unavailable" in text
    assert "ledger locked" in console.file.getvalue()


def test_live_view_recovers_after_a_failing_status() -> None:
    results: list[BotStatus | Exception] = [ValueError("boom"), make_status()]

    def flaky() -> BotStatus:
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    view = LiveView(flaky, terminal_console())
    assert "boom" in render_text(view.renderable())
    assert "btc-updown-15m" in render_text(view.renderable())


def test_live_view_propagates_the_body_exception() -> None:
    console = terminal_console()
    with pytest.raises(KeyError), LiveView(make_status, console):
        raise KeyError("body")
    assert not console._live_stack
