"""The market and user websocket channels, read by a plain ``websockets`` client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from py_clob_client_v2 import OrderArgs
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import OrderRequest, Side
from tests.integration.emulator.support import MAKER, new_trader, quote

WAIT_S = 5.0


def _next(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=WAIT_S))


def _until(ws: ClientConnection, event_type: str) -> dict[str, Any]:
    """Read messages until one of ``event_type`` arrives (others are skipped)."""
    for _ in range(50):
        message = _next(ws)
        if isinstance(message, dict) and message.get("event_type") == event_type:
            return message
    raise AssertionError(f"no {event_type} message")


def test_market_channel(emu: EmulatorHandle, market: ListedMarket) -> None:
    up = market.up_token_id
    quote(emu, up, Side.BUY, "0.48", "30")
    quote(emu, up, Side.BUY, "0.49", "20")
    quote(emu, up, Side.SELL, "0.53", "60")
    quote(emu, up, Side.SELL, "0.52", "25")
    url = emu.env()["POLYMARKET_WS_URL"] + "/market"
    with connect(url) as ws:
        ws.send(
            json.dumps(
                {"assets_ids": [up], "type": "market", "custom_feature_enabled": True}
            )
        )
        [book] = _next(ws)
        assert book["event_type"] == "book" and book["asset_id"] == up
        assert [lv["price"] for lv in book["bids"]] == ["0.48", "0.49"]
        assert [lv["price"] for lv in book["asks"]] == ["0.53", "0.52"]
        assert book["tick_size"] == "0.01" and book["last_trade_price"] == ""
        ws.send("PING")
        assert ws.recv(timeout=WAIT_S) == "PONG"

        quote(emu, up, Side.BUY, "0.50", "15")
        change = _until(ws, "price_change")
        [level] = change["price_changes"]
        assert level == {
            "asset_id": up,
            "price": "0.5",
            "size": "15",
            "side": "BUY",
            "hash": level["hash"],
            "best_bid": "0.5",
            "best_ask": "0.52",
        }
        top = _until(ws, "best_bid_ask")
        assert (top["best_bid"], top["best_ask"], top["spread"]) == ("0.5", "0.52", "0.02")

        trader = new_trader(emu)
        trader.client.create_and_post_order(
            OrderArgs(token_id=up, price=0.52, size=10, side="BUY")
        )
        last = _until(ws, "last_trade_price")
        assert (last["price"], last["size"], last["side"]) == ("0.52", "10", "BUY")
        after = _until(ws, "book")
        assert after["asks"][-1] == {"price": "0.52", "size": "15"}

        emu.venue.set_tick_size(up, "0.001")
        tick = _until(ws, "tick_size_change")
        assert (tick["old_tick_size"], tick["new_tick_size"]) == ("0.01", "0.001")

        emu.advance(market.resolves_at - emu.clock.now())
        resolved = _until(ws, "market_resolved")
        assert resolved["market"] == market.condition_id
        assert resolved["winning_outcome"] in ("Up", "Down")
        assert resolved["winning_asset_id"] in market.token_ids


def test_market_channel_unknown_asset_gets_an_empty_dump(emu: EmulatorHandle) -> None:
    with connect(emu.env()["POLYMARKET_WS_URL"] + "/market") as ws:
        ws.send(json.dumps({"assets_ids": ["123"], "type": "market"}))
        assert _next(ws) == []


def test_user_channel_order_and_trade_lifecycle(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up = market.up_token_id
    trader = new_trader(emu)
    creds = trader.client.creds
    url = emu.env()["POLYMARKET_WS_URL"] + "/user"
    with connect(url) as ws:
        ws.send(
            json.dumps(
                {
                    "auth": {
                        "apiKey": creds.api_key,
                        "secret": creds.api_secret,
                        "passphrase": creds.api_passphrase,
                    },
                    "type": "user",
                    "markets": [market.condition_id],
                }
            )
        )
        ws.send("PING")
        assert ws.recv(timeout=WAIT_S) == "PONG"
        placed = trader.client.create_and_post_order(
            OrderArgs(token_id=up, price=0.45, size=10, side="BUY"), post_only=True
        )
        order = _until(ws, "order")
        assert order["type"] == "PLACEMENT" and order["status"] == "LIVE"
        assert order["id"] == placed["orderID"] and order["owner"] == creds.api_key
        assert order["original_size"] == "10" and order["size_matched"] == "0"

        emu.venue.open_liquidity_account(MAKER)
        taken = emu.venue.place(MAKER, OrderRequest.limit(up, Side.SELL, "0.45", "10"))
        assert taken.success
        update = _until(ws, "order")
        assert (update["type"], update["status"], update["size_matched"]) == (
            "UPDATE",
            "MATCHED",
            "10",
        )
        matched = _until(ws, "trade")
        assert matched["status"] == "MATCHED" and matched["trader_side"] == "MAKER"
        assert matched["maker_orders"][0]["order_id"] == placed["orderID"]
        emu.step()
        confirmed = _until(ws, "trade")
        assert confirmed["status"] == "CONFIRMED" and confirmed["id"] == matched["id"]

        emu.set_faults("engine:fail=1")
        quote(emu, up, Side.SELL, "0.60", "10")
        trader.client.create_and_post_order(
            OrderArgs(token_id=up, price=0.60, size=5, side="BUY")
        )
        first = _until(ws, "trade")
        assert (first["status"], first["trader_side"]) == ("MATCHED", "TAKER")
        emu.step()
        failed = _until(ws, "trade")
        assert failed["status"] == "FAILED" and failed["id"] == first["id"]
    kinds = [n["type"] for n in trader.client.get_notifications()]
    assert kinds == [2, 2, 8]  # two fills, then the failed one


def test_user_channel_refuses_bad_credentials(emu: EmulatorHandle) -> None:
    trader = new_trader(emu)
    creds = trader.client.creds
    with connect(emu.env()["POLYMARKET_WS_URL"] + "/user") as ws:
        bad = {
            "apiKey": creds.api_key,
            "secret": "wrong",
            "passphrase": creds.api_passphrase,
        }
        ws.send(json.dumps({"auth": bad, "type": "user"}))
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT_S)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 4001
