"""The unmodified py-clob-client-v2 against the emulator over real HTTP.

Credentials, books and prices, post-only limit orders, FOK/FAK market orders, batches,
cancels, open orders, trades, balances, and every refusal with the venue's own text.
After each trading scenario the balances are checked against the fee formula to the
micro-unit.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from py_clob_client_v2 import (
    AssetType,
    BalanceAllowanceParams,
    BookParams,
    MarketOrderArgs,
    OpenOrderParams,
    OrderArgs,
    OrderPayload,
    OrderType,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.clob_types import OrderMarketCancelParams, OrderScoringParams
from py_clob_client_v2.exceptions import PolyApiException

from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import Side
from src.sim.venue.errors import (
    FAK_NOT_FILLED,
    FOK_NOT_FILLED,
    MARKET_NOT_READY,
    NOT_CANCELED_DONE,
    NOT_ENOUGH_BALANCE,
    POST_ONLY_CROSSES,
)
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import (
    Trader,
    buy_fee_shares,
    current_market,
    micro,
    new_trader,
    quote,
    sell_fee_collateral,
)

START = Decimal(1000)


def _collateral(trader: Trader) -> Decimal:
    answer = trader.client.get_balance_allowance(
        BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
    )
    return Decimal(answer["balance"]) / 1_000_000


def _shares(trader: Trader, token_id: str) -> Decimal:
    answer = trader.client.get_balance_allowance(
        BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token_id)
    )
    return Decimal(answer["balance"]) / 1_000_000


def _refusal(call: object) -> tuple[int, str]:
    with pytest.raises(PolyApiException) as caught:
        call()  # type: ignore[operator]
    body = caught.value.error_msg
    assert isinstance(body, dict), body
    return caught.value.status_code, body["error"]


def test_credentials_time_and_version(emu: EmulatorHandle) -> None:
    trader = new_trader(emu)
    client = trader.client
    assert client.get_ok() == "OK"
    assert client.get_server_time() == int(emu.clock.now())
    assert client.get_version() == 2
    again = client.derive_api_key()
    assert again.api_key == client.creds.api_key
    assert again.api_secret == client.creds.api_secret
    assert client.get_api_keys() == {"apiKeys": [client.creds.api_key]}
    assert client.get_closed_only_mode() == {"closed_only": False}
    assert _collateral(trader) == START


def test_book_and_prices_as_the_client_reads_them(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up = market.up_token_id
    for price, size in (("0.48", "30"), ("0.49", "20"), ("0.50", "15")):
        quote(emu, up, Side.BUY, price, size)
    for price, size in (("0.54", "10"), ("0.53", "60"), ("0.52", "25")):
        quote(emu, up, Side.SELL, price, size)
    client = new_trader(emu).client
    book = client.get_order_book(up)
    assert [lv["price"] for lv in book["bids"]] == ["0.48", "0.49", "0.5"]
    assert [lv["price"] for lv in book["asks"]] == ["0.54", "0.53", "0.52"]
    assert book["tick_size"] == "0.01" and book["min_order_size"] == "5"
    assert book["market"] == market.condition_id and book["neg_risk"] is False
    assert client.get_order_book_hash(dict(book)) == book["hash"]
    assert client.get_midpoint(up) == {"mid": "0.51"}
    assert client.get_price(up, "BUY") == {"price": "0.5"}
    assert client.get_price(up, "SELL") == {"price": "0.52"}
    assert client.get_spread(up) == {"spread": "0.02"}
    assert client.get_tick_size(up) == "0.01"
    assert client.get_neg_risk(up) is False
    assert client.get_last_trade_price(up) == {"price": "0.5", "side": ""}
    down = market.down_token_id
    books = client.get_order_books([BookParams(token_id=up), BookParams(token_id=down)])
    assert [b["asset_id"] for b in books] == [up, down]
    assert client.get_midpoints([BookParams(token_id=up)]) == {up: "0.51"}
    assert client.get_prices([BookParams(token_id=up, side="SELL")]) == {
        up: {"SELL": "0.52"}
    }
    info = client.get_clob_market_info(market.condition_id)
    assert info["fd"] == {"r": 0.07, "e": 1, "to": True} and info["mts"] == 0.01
    assert client.get_market(market.condition_id)["market_slug"] == market.slug
    status, message = _refusal(lambda: client.get_order_book("123"))
    assert (status, message) == (404, "No orderbook exists for the requested token id")


def test_post_only_limit_order_rests_then_cancels(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up = market.up_token_id
    quote(emu, up, Side.SELL, "0.55", "50")
    trader = new_trader(emu)
    client = trader.client
    placed = client.create_and_post_order(
        OrderArgs(token_id=up, price=0.45, size=10, side="BUY"), post_only=True
    )
    assert placed["success"] is True and placed["status"] == "live"
    assert placed["makingAmount"] == "" and placed["tradeIDs"] == []
    order_id = placed["orderID"]
    assert order_id.startswith("0x") and len(order_id) == 66
    [row] = client.get_open_orders(OpenOrderParams(market=market.condition_id))
    assert row["id"] == order_id and row["status"] == "LIVE"
    assert row["original_size"] == "10" and row["price"] == "0.45"
    assert row["owner"] == client.creds.api_key and row["maker_address"] == trader.address
    assert client.get_order(order_id)["order_type"] == "GTC"
    assert client.is_order_scoring(OrderScoringParams(orderId=order_id)) == {
        "scoring": True
    }
    assert _collateral(trader) == START  # reserved, not spent
    assert client.cancel_order(OrderPayload(orderID=order_id)) == {
        "canceled": [order_id],
        "not_canceled": {},
    }
    assert client.cancel_order(OrderPayload(orderID=order_id)) == {
        "canceled": [],
        "not_canceled": {order_id: NOT_CANCELED_DONE},
    }
    assert client.get_open_orders() == []
    assert client.get_order(order_id)["status"] == "CANCELED"
    assert _collateral(trader) == START


def test_fok_market_buy_fills_and_pays_the_fee_in_shares(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up = market.up_token_id
    quote(emu, up, Side.SELL, "0.52", "50")
    trader = new_trader(emu)
    client = trader.client
    answer = client.create_and_post_market_order(
        MarketOrderArgs(token_id=up, amount=10, side="BUY", order_type=OrderType.FOK),
        order_type=OrderType.FOK,
    )
    assert answer["success"] is True and answer["status"] == "matched"
    # $10 at 0.52 buys 19.23 shares (whole 0.01 lots) for 9.9996.
    assert answer["makingAmount"] == "9.9996" and answer["takingAmount"] == "19.23"
    assert len(answer["transactionsHashes"]) == 1
    [trade] = client.get_trades(TradeParams(market=market.condition_id))
    assert trade["status"] == "MATCHED" and trade["trader_side"] == "TAKER"
    assert trade["id"] == answer["tradeIDs"][0]
    assert trade["size"] == "19.23" and trade["price"] == "0.52"
    assert trade["fee_rate_bps"] == "700"
    emu.step()  # settlement: MATCHED → CONFIRMED
    [trade] = client.get_trades()
    assert trade["status"] == "CONFIRMED"
    fee = buy_fee_shares("19.23", "0.52")
    assert fee == Decimal("0.64612")
    assert _collateral(trader) == START - Decimal("19.23") * Decimal("0.52")
    assert _shares(trader, up) == Decimal("19.23") - fee
    assert micro(_shares(trader, up)) == emu.venue.position(trader.address, up).size


def test_fak_market_sell_partly_fills_and_pays_the_fee_in_collateral(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up = market.up_token_id
    quote(emu, up, Side.SELL, "0.40", "20")
    trader = new_trader(emu)
    client = trader.client
    bought = client.create_and_post_order(
        OrderArgs(token_id=up, price=0.40, size=20, side="BUY")
    )
    assert bought["status"] == "matched"
    emu.step()
    held = Decimal(20) - buy_fee_shares("20", "0.40")
    assert _shares(trader, up) == held
    quote(emu, up, Side.BUY, "0.60", "8")
    answer = client.create_and_post_market_order(
        MarketOrderArgs(token_id=up, amount=15, side="SELL", order_type=OrderType.FAK),
        order_type=OrderType.FAK,
    )
    assert answer["status"] == "matched"
    assert answer["makingAmount"] == "8" and answer["takingAmount"] == "4.8"
    order = client.get_order(answer["orderID"])
    assert order["size_matched"] == "8" and order["order_type"] == "FAK"
    emu.step()
    sell_fee = sell_fee_collateral("8", "0.60")
    assert sell_fee == Decimal("0.1344")
    expected = (
        START - Decimal(20) * Decimal("0.40") + Decimal(8) * Decimal("0.60") - sell_fee
    )
    assert _collateral(trader) == expected
    assert _shares(trader, up) == held - 8
    trades = client.get_trades()
    assert [t["side"] for t in trades] == ["BUY", "SELL"]
    assert all(t["status"] == "CONFIRMED" for t in trades)


def test_batch_orders_report_each_order(emu: EmulatorHandle, market: ListedMarket) -> None:
    up, down = market.up_token_id, market.down_token_id
    client = new_trader(emu).client
    orders = [
        PostOrdersV2Args(
            order=client.create_order(
                OrderArgs(token_id=up, price=0.40, size=10, side="BUY")
            ),
            orderType=OrderType.GTC,
        ),
        PostOrdersV2Args(
            order=client.create_order(
                OrderArgs(token_id=down, price=0.41, size=12, side="BUY")
            ),
            orderType=OrderType.GTC,
        ),
        PostOrdersV2Args(
            order=client.create_order(
                OrderArgs(token_id=up, price=0.30, size=2, side="BUY")
            ),
            orderType=OrderType.GTC,
        ),
    ]
    answers = client.post_orders(orders, post_only=True)
    assert [a["success"] for a in answers] == [True, True, False]
    assert answers[2]["errorMsg"] == (
        f"order {answers[2]['orderID']} is invalid. Size (2) lower than the minimum: 5"
    )
    live = client.get_open_orders()
    assert {o["id"] for o in live} == {answers[0]["orderID"], answers[1]["orderID"]}
    cancelled = client.cancel_orders([answers[0]["orderID"], "0xdead"])
    assert cancelled["canceled"] == [answers[0]["orderID"]]
    assert cancelled["not_canceled"] == {"0xdead": "order not found"}
    too_many = [orders[0]] * 16
    status, message = _refusal(lambda: client.post_orders(too_many))
    assert (status, message) == (400, "Too many orders in payload: 16, max allowed: 15")


def test_cancel_market_orders_and_cancel_all(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up, down = market.up_token_id, market.down_token_id
    client = new_trader(emu).client
    ids = [
        client.create_and_post_order(OrderArgs(token_id=t, price=p, size=10, side="BUY"))[
            "orderID"
        ]
        for t, p in ((up, 0.30), (up, 0.31), (down, 0.32))
    ]
    by_token = client.cancel_market_orders(OrderMarketCancelParams(asset_id=up))
    assert sorted(by_token["canceled"]) == sorted(ids[:2])
    assert client.cancel_all() == {"canceled": [ids[2]], "not_canceled": {}}
    assert client.get_open_orders() == []


def test_open_orders_and_trades_paginate_to_the_end_cursor() -> None:
    emu = start_emulator(page_size=2)
    try:
        up = current_market(emu).up_token_id
        client = new_trader(emu).client
        ids = {
            client.create_and_post_order(
                OrderArgs(token_id=up, price=round(0.30 + i / 100, 2), size=5, side="BUY")
            )["orderID"]
            for i in range(5)
        }
        assert {o["id"] for o in client.get_open_orders()} == ids
        assert len(client.get_open_orders(only_first_page=True)) == 2
        quote(emu, up, Side.SELL, "0.60", "100")
        trade_ids = [
            client.create_and_post_order(
                OrderArgs(token_id=up, price=0.60, size=5, side="BUY")
            )["tradeIDs"][0]
            for _ in range(3)
        ]
        assert [t["id"] for t in client.get_trades()] == trade_ids
        page = client.get_trades_paginated()
        assert len(page["trades"]) == 2 and page["next_cursor"] != "LTE="
    finally:
        emu.stop()


def test_every_refusal_carries_the_venue_text(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    up = market.up_token_id
    quote(emu, up, Side.SELL, "0.10", "100")
    quote(emu, up, Side.SELL, "0.55", "10")
    client = new_trader(emu).client
    emu.venue.set_tick_size(up, "0.001")
    assert client.get_tick_size(up) == "0.001"  # the client caches the finer tick
    emu.venue.set_tick_size(up, "0.01")

    def post(price: float, size: float, **kwargs: object) -> object:
        return client.create_and_post_order(
            OrderArgs(token_id=up, price=price, size=size, side="BUY"), **kwargs
        )

    status, message = _refusal(lambda: post(0.405, 10))
    assert status == 400 and message.endswith(
        "is invalid. Price (0.405) breaks minimum tick size rule: 0.01"
    )
    status, message = _refusal(lambda: post(0.30, 3))
    assert message.endswith("is invalid. Size (3) lower than the minimum: 5")
    status, message = _refusal(lambda: post(0.10, 9))
    assert message == "invalid amount for a marketable BUY order ($0.9), min size: $1"
    status, message = _refusal(lambda: post(0.50, 3000))
    assert message == NOT_ENOUGH_BALANCE
    status, message = _refusal(lambda: post(0.55, 10, post_only=True))
    assert message == POST_ONLY_CROSSES
    fok = MarketOrderArgs(token_id=up, amount=500, side="BUY", price=0.55)
    status, message = _refusal(
        lambda: client.create_and_post_market_order(fok, order_type=OrderType.FOK)
    )
    assert message == FOK_NOT_FILLED
    fak = MarketOrderArgs(
        token_id=market.down_token_id,
        amount=5,
        side="BUY",
        price=0.5,
        order_type=OrderType.FAK,
    )
    status, message = _refusal(
        lambda: client.create_and_post_market_order(fak, order_type=OrderType.FAK)
    )
    assert message == FAK_NOT_FILLED
    emu.advance(market.end - emu.clock.now())  # the window is over: no more orders
    options = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False)
    status, message = _refusal(
        lambda: client.create_and_post_order(
            OrderArgs(token_id=up, price=0.30, size=10, side="BUY"), options
        )
    )
    assert (status, message) == (400, MARKET_NOT_READY)
    assert client.get_open_orders() == []
