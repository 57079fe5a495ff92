"""The simulated market calendar."""

from __future__ import annotations

import pytest

from src.data.market_data.windows import WindowRef
from src.sim.calendar import MarketCalendar, Phase, resolve_outcome

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def test_ids_are_deterministic_per_seed_and_shaped_like_the_venue() -> None:
    a = MarketCalendar(("BTC", "ETH"), seed=1).market(WindowRef("BTC", T0))
    b = MarketCalendar(("BTC",), seed=1).market(WindowRef("BTC", T0))
    c = MarketCalendar(("BTC",), seed=2).market(WindowRef("BTC", T0))
    assert a == b and a.condition_id != c.condition_id
    assert a.condition_id.startswith("0x") and len(a.condition_id) == 66
    assert a.up_token_id.isdigit() and len(a.up_token_id) > 70
    assert a.up_token_id != a.down_token_id
    assert a.slug == "btc-updown-15m-1767225600" and a.symbol == "BTCUSDT"
    assert a.question == "Bitcoin Up or Down - January 1, 00:00-00:15 UTC"


def test_phases() -> None:
    cal = MarketCalendar(("BTC",), list_ahead_s=1800, resolve_delay_s=60)
    m = cal.market(WindowRef("BTC", T0))
    assert m.phase(T0 - 1801) is Phase.UNLISTED
    assert m.phase(T0 - 1800) is Phase.LISTED and m.accepting_orders(T0 - 1)
    assert m.phase(T0) is Phase.OPEN and m.accepting_orders(T0 + 899)
    assert m.phase(T0 + 900) is Phase.CLOSED and not m.accepting_orders(T0 + 900)
    assert m.phase(T0 + 960) is Phase.RESOLVED


def test_live_markets_cover_listed_open_and_closed() -> None:
    cal = MarketCalendar(("BTC", "SOL"), list_ahead_s=1800, resolve_delay_s=60)
    now = T0 + 930  # window T0 closed 30 s ago, T0+900 open, two more listed
    starts = sorted({m.window.start for m in cal.live_markets(now)})
    assert starts == [T0, T0 + 900, T0 + 1800, T0 + 2700]
    assert len(cal.live_markets(now)) == 8
    assert {m.window.coin for m in cal.live_markets(now)} == {"BTC", "SOL"}
    assert all(m.phase(now) is not Phase.RESOLVED for m in cal.live_markets(T0 + 960))


def test_lookups() -> None:
    cal = MarketCalendar(("BTC",))
    m = cal.market(WindowRef("BTC", T0))
    assert cal.by_token(m.down_token_id) is m and cal.by_token("nope") is None
    assert cal.by_slug(m.slug) is m
    assert cal.by_slug("eth-updown-15m-1767225600") is None  # not one of our coins
    assert cal.by_slug("garbage") is None


@pytest.mark.parametrize(
    ("start", "end", "outcome"),
    [(100.0, 100.0, "UP"), (100.0, 100.01, "UP"), (100.0, 99.99, "DOWN")],
)
def test_ties_resolve_up(start: float, end: float, outcome: str) -> None:
    assert resolve_outcome(start, end) == outcome
