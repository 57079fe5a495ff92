"""ClobVenue's pure rules: outcome classification, statuses, and fills identical to the
in-process adapter's for the same venue trade (ids, amounts, fees)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from py_clob_client_v2.exceptions import PolyApiException

from src.sim.emulator.clob_views import trade_body
from src.sim.emulator.wire import StatusStyle
from src.sim.venue import types as sim
from src.trading.ledger.events import FillEvent, FillStatus
from src.trading.venue.clob import (
    ClobVenueError,
    classify_post_error,
    fills_from_trade,
    parse_open_order,
    parse_trade_status,
)
from src.trading.venue.port import PlaceStatus
from tests.unit.venue.test_in_process_venue import BOT, MM, make_world, quote


def _api_error(status: int, body: object) -> PolyApiException:
    request = httpx.Request("POST", "http://127.0.0.1/order")
    return PolyApiException(httpx.Response(status, json=body, request=request))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            _api_error(400, {"error": "not enough balance / allowance"}),
            PlaceStatus.REJECTED,
        ),
        (
            _api_error(400, {"error": "order 0xab is invalid. Duplicated."}),
            PlaceStatus.AMBIGUOUS,
        ),
        (_api_error(400, "not json"), PlaceStatus.AMBIGUOUS),
        (_api_error(500, {"error": "Internal server error"}), PlaceStatus.AMBIGUOUS),
        (
            _api_error(503, {"error": "Trading is currently disabled."}),
            PlaceStatus.AMBIGUOUS,
        ),
        (_api_error(429, {"error": "Too Many Requests"}), PlaceStatus.AMBIGUOUS),
        (PolyApiException(error_msg="Request exception!"), PlaceStatus.AMBIGUOUS),
        (httpx.ReadTimeout("slow"), PlaceStatus.AMBIGUOUS),
    ],
)
def test_only_a_venue_refusal_is_a_rejection(exc: Exception, expected: PlaceStatus) -> None:
    assert classify_post_error(exc)[0] is expected


def test_statuses_are_normalised() -> None:
    assert parse_trade_status("TRADE_STATUS_CONFIRMED") is FillStatus.CONFIRMED
    assert parse_trade_status("MATCHED_NOT_BROADCASTED") is FillStatus.MATCHED
    assert parse_trade_status("failed") is FillStatus.FAILED
    with pytest.raises(ClobVenueError):
        parse_trade_status("EXPLODED")
    order = parse_open_order(
        {
            "id": "0x1",
            "status": "ORDER_STATUS_LIVE",
            "asset_id": "7",
            "side": "BUY",
            "price": "0.45",
            "original_size": "10",
            "size_matched": "2.5",
        }
    )
    assert order.live and order.status == "LIVE" and order.matched_micro == 2_500_000
    with pytest.raises(ClobVenueError):
        parse_open_order({"id": "0x1"})


def test_wire_trades_map_to_the_in_process_fills(tmp_path: Path) -> None:
    """Taker and maker legs over several price levels, with fees, both statuses."""
    venue, port, market, _ = make_world(tmp_path, 0.0)
    token = market.up_token_id
    quote(venue, token, sim.Side.SELL, "0.51", "7.33")
    quote(venue, token, sim.Side.SELL, "0.53", "20")
    taker = venue.place(
        BOT,
        sim.OrderRequest.market(token, sim.Side.BUY, Decimal("12"), Decimal("0.53")),
    )
    assert taker.success, taker.error
    resting = venue.place(BOT, sim.OrderRequest.limit(token, sim.Side.BUY, "0.40", "9"))
    assert resting.success
    hit = venue.place(
        MM,
        sim.OrderRequest.market(
            token, sim.Side.SELL, Decimal("6"), Decimal("0.40"), sim.OrderType.FAK
        ),
    )
    assert hit.success, hit.error
    for _ in range(2):  # MATCHED, then CONFIRMED
        expected = port.fills()
        assert {f.role for f in expected} == {"taker", "maker"}
        wire = [
            trade_body(t, BOT, lambda a: f"key-{a}", StatusStyle.PREFIXED)
            for t in venue.trades(BOT)
        ]
        got = [f for body in wire for f in fills_from_trade(body, BOT)]
        assert _strip(got) == _strip(expected)
        assert any(f.fee_micro for f in got)
        venue.confirm()


def _strip(fills: list[FillEvent]) -> list[FillEvent]:
    """Without times: the wire carries whole seconds, the simulator fractions."""
    return sorted((replace(f, at_ms=0) for f in fills), key=lambda f: f.venue_trade_id)
