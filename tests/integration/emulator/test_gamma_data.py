"""Gamma and the Data API over HTTP: shapes of the real payloads, our bot's parser, and a
market's life through resolution and redemption."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from py_clob_client_v2 import OrderArgs

from src.data.market_data.polymarket import GammaClient, Outcome, parse_gamma_market
from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import Side
from tests.conftest import SHARED
from tests.integration.emulator.support import buy_fee_shares, new_trader, quote

FIXTURES = SHARED / "reference" / "fixtures"


def _fixture_keys(name: str) -> set[str]:
    path = Path(FIXTURES / name)
    if not path.exists():
        pytest.skip(f"fixture not available: {path}")
    payload = json.loads(path.read_text())
    row = payload[0] if isinstance(payload, list) else payload
    return set(row)


def test_gamma_objects_parse_with_the_bots_parser(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    base = emu.base_url + "/gamma"
    session = requests.Session()
    body = session.get(f"{base}/markets/slug/{market.slug}").json()
    assert body["outcomes"] == '["Up", "Down"]'
    assert json.loads(body["clobTokenIds"]) == [market.up_token_id, market.down_token_id]
    assert json.loads(body["outcomePrices"]) == ["0.5", "0.5"]
    assert body["feeSchedule"] == {
        "exponent": 1,
        "rate": 0.07,
        "takerOnly": True,
        "rebateRate": 0.2,
    }
    assert body["orderPriceMinTickSize"] == 0.01 and body["orderMinSize"] == 5
    assert body["acceptingOrders"] is True and body["closed"] is False
    assert body["eventStartTime"].endswith("Z") and body["endDate"].endswith("Z")
    assert _fixture_keys("gamma_market.json") >= {"conditionId", "clobTokenIds"}
    missing = {"outcomes", "outcomePrices", "orderMinSize", "eventStartTime"} - set(body)
    assert not missing
    info = parse_gamma_market(body)
    assert (info.start, info.end) == (market.start, market.end)
    assert info.up_token_id == market.up_token_id and info.fee_rate == Decimal("0.07")
    assert info.tick_size == Decimal("0.01") and info.accepting_orders
    event = session.get(f"{base}/events/slug/{market.slug}").json()
    assert event["slug"] == market.slug and len(event["markets"]) == 1
    assert event["seriesSlug"] == "btc-up-or-down-15m"
    assert "priceToBeat" in event["eventMetadata"]  # the window has started
    assert parse_gamma_market(event) == info
    assert [
        e["slug"]
        for e in session.get(f"{base}/events", params={"slug": market.slug}).json()
    ] == [market.slug]
    by_token = session.get(
        f"{base}/markets", params={"clob_token_ids": market.down_token_id}
    ).json()
    assert [m["conditionId"] for m in by_token] == [market.condition_id]
    assert session.get(f"{base}/markets/slug/btc-updown-15m-900").status_code == 404
    bot = GammaClient(base, attempts=1)
    assert bot.market_by_slug(market.slug) == info
    assert bot.market_by_slug("btc-updown-15m-900") is None


def test_data_api_shapes_after_a_trade(emu: EmulatorHandle, market: ListedMarket) -> None:
    up = market.up_token_id
    quote(emu, up, Side.SELL, "0.40", "30")
    quote(emu, up, Side.BUY, "0.38", "30")
    trader = new_trader(emu)
    trader.client.create_and_post_order(
        OrderArgs(token_id=up, price=0.40, size=25, side="BUY")
    )
    emu.step()
    base = emu.base_url + "/data-api"
    session = requests.Session()
    user = {"user": trader.address}
    [position] = session.get(f"{base}/positions", params=user).json()
    assert _fixture_keys("data_api_positions_response.json") <= set(position)
    held = 25 - buy_fee_shares("25", "0.40")
    assert Decimal(str(position["size"])) == held
    assert position["outcome"] == "Up" and position["outcomeIndex"] == 0
    assert position["oppositeAsset"] == market.down_token_id
    assert position["curPrice"] == 0.39 and position["redeemable"] is False
    assert position["totalBought"] == float(held)
    [trade] = session.get(f"{base}/trades", params=user).json()
    assert _fixture_keys("data_api_trades_response.json") <= set(trade)
    assert trade["side"] == "BUY" and trade["price"] == 0.4 and trade["timestamp"] > 0
    [activity] = session.get(f"{base}/activity", params=user).json()
    assert activity["type"] == "TRADE" and activity["usdcSize"] == 10.0
    [value] = session.get(f"{base}/value", params=user).json()
    assert value["user"] == trader.address
    assert value["value"] == pytest.approx(float(held) * 0.39)
    v2 = session.get(f"{base}/v2/positions", params=user).json()
    assert v2["pagination"]["has_more"] is False
    assert v2["data"][0]["status"] == "OPEN" and v2["data"][0]["token_id"] == up
    missing = session.get(f"{base}/positions")
    assert missing.status_code == 400
    assert missing.json() == {"error": "required query param 'user' not provided"}


def test_resolution_and_redemption(emu: EmulatorHandle, market: ListedMarket) -> None:
    up = market.up_token_id
    quote(emu, up, Side.SELL, "0.50", "20")
    trader = new_trader(emu)
    trader.client.create_and_post_order(
        OrderArgs(token_id=up, price=0.50, size=20, side="BUY")
    )
    emu.advance(market.resolves_at - emu.clock.now())
    start = emu.source.feed.price_at(market.symbol, market.start)
    end = emu.source.feed.price_at(market.symbol, market.end)
    winner = Outcome.UP if end >= start else Outcome.DOWN
    session = requests.Session()
    body = session.get(f"{emu.base_url}/gamma/markets/slug/{market.slug}").json()
    assert body["closed"] is True and body["acceptingOrders"] is False
    assert json.loads(body["outcomePrices"]) == (
        ["1", "0"] if winner is Outcome.UP else ["0", "1"]
    )
    assert "closedTime" in body
    assert parse_gamma_market(body).outcome is winner
    event = session.get(f"{emu.base_url}/gamma/events/slug/{market.slug}").json()
    assert event["eventMetadata"]["finalPrice"] == end
    book = session.get(f"{emu.base_url}/book", params={"token_id": up})
    assert book.status_code == 404
    listed = session.get(
        f"{emu.base_url}/gamma/markets", params={"slug": market.slug}
    ).json()
    assert listed == []  # /markets shows open markets unless closed=true is asked
    closed = session.get(
        f"{emu.base_url}/gamma/markets", params={"slug": market.slug, "closed": "true"}
    ).json()
    assert [m["slug"] for m in closed] == [market.slug]
    user = {"user": trader.address}
    [position] = session.get(f"{emu.base_url}/data-api/positions", params=user).json()
    assert position["redeemable"] is True
    assert position["curPrice"] == (1.0 if winner is Outcome.UP else 0.0)
    [row] = session.get(f"{emu.base_url}/data-api/v2/positions", params=user).json()["data"]
    assert row["status"] == ("REDEEMABLE" if winner is Outcome.UP else "REDEEMABLE_LOST")
    before = emu.venue.balance(trader.address).balance
    held = Decimal(20) - buy_fee_shares("20", "0.50")
    redeemed = session.post(
        f"{emu.base_url}/admin/redeem",
        json={"address": trader.address, "condition_id": market.condition_id},
    ).json()
    paid = held if winner is Outcome.UP else Decimal(0)
    assert Decimal(redeemed["paid"]) == paid
    assert emu.venue.balance(trader.address).balance == before + int(paid * 1_000_000)
    activity = session.get(f"{emu.base_url}/data-api/activity", params=user).json()
    assert [a["type"] for a in activity] == ["REDEEM", "TRADE"]
    assert session.get(f"{emu.base_url}/data-api/positions", params=user).json() == []
