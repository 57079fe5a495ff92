"""The in-process venue hands the matching engine the very order ``run --sim`` does: the
official client's signed amounts, read by the emulator's own ``to_request`` — price, size,
amount, order type, post-only and expiry alike, and the same shares in the ledger — and
both sign the intended decimals exactly (the client's float flooring no longer takes a
cent off 70.96 shares, nor a tick off a market BUY at 0.58)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from eth_account import Account

from src.sim.emulator.errors import OrderPayloadError
from src.sim.emulator.orders import (
    exchange_domain,
    parse_order_object,
    verify_order_signature,
)
from src.sim.emulator.server import EmulatorHandle
from src.sim.venue import types as sim
from src.sim.venue.errors import INVALID_ORDER_PAYLOAD
from src.trading.ledger.accounting import Side
from src.trading.ledger.events import FillEvent
from src.trading.venue.clob import ClobVenue
from src.trading.venue.in_process import InProcessVenue, engine_request
from src.trading.venue.port import OrderSpec, OrderType, PlaceStatus
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import current_market, quote

pytestmark = pytest.mark.integration

EXPIRY = 1_767_300_000
SIZES = (5_000_000, 10_010_000, 49_280_000, 70_960_000, 123_456_700)


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator()
    try:
        yield handle
    finally:
        handle.stop()


def _clob_venue(emu: EmulatorHandle) -> ClobVenue:
    return ClobVenue.connect(
        emu.base_url,
        private_key=Account.create().key.hex(),
        chain_id=137,
        data_url=emu.env()["POLYMARKET_DATA_URL"],
        rate_per_s=1000,
    )


def _at_the_venue(emu: EmulatorHandle, venue: ClobVenue, spec: OrderSpec) -> tuple:
    """What the emulator's engine receives when ``venue`` posts ``spec``."""
    prepared = venue.prepare(spec)
    payload = venue._payload(prepared)  # the body ClobVenue.submit posts
    signed = verify_order_signature(
        parse_order_object(payload), exchange_domain(neg_risk=False, chain_id=137)
    )
    request = signed.to_request(emu.venue.tick_size(spec.token_id))
    return prepared.spec.size_micro, _economics(request)


def _economics(request: sim.OrderRequest) -> tuple:
    return (
        request.side,
        request.price,
        request.size,
        request.amount,
        request.order_type,
        request.expiration,
        request.post_only,
    )


def _specs(token: str, prices: tuple[int, ...]) -> Iterator[OrderSpec]:
    kinds = (
        (OrderType.GTC, False, 0),
        (OrderType.GTC, True, 0),
        (OrderType.GTD, False, EXPIRY),
        (OrderType.FOK, False, 0),
        (OrderType.FAK, False, 0),
    )
    combos = itertools.product(prices, SIZES, (Side.BUY, Side.SELL), kinds)
    for n, (price, size, side, (kind, post_only, expiry)) in enumerate(combos):
        yield OrderSpec(f"c-{n}", token, side, kind, price, size, post_only, expiry)


@pytest.mark.parametrize("fine_tick", [False, True], ids=["tick-0.01", "tick-0.001"])
def test_in_process_orders_reach_the_engine_as_the_http_ones(
    emu: EmulatorHandle, fine_tick: bool
) -> None:
    market = current_market(emu)
    token = market.up_token_id
    prices: tuple[int, ...] = (10_000, 290_000, 530_000, 570_000, 580_000, 860_000)
    if fine_tick:  # before the client first reads it (it keeps a tick for good)
        for outcome_token in market.token_ids:
            emu.venue.set_tick_size(outcome_token, "0.001")
        # a cent price on the fine tick too: the client signs 5-decimal shares there
        prices = (87_000, 581_000, 860_000, 955_000, 970_000, 999_000)
    venue = _clob_venue(emu)
    local = InProcessVenue(emu.venue, "0x" + "22" * 20)
    tick = emu.venue.tick_size(token)
    compared = refused = 0
    for spec in _specs(token, prices):
        prepared = local.prepare(spec)
        if 0 in prepared.payload:  # nothing to sign: both refuse it before the engine
            with pytest.raises(OrderPayloadError):
                _at_the_venue(emu, venue, spec)
            assert local.submit(prepared).error == INVALID_ORDER_PAYLOAD
            refused += 1
            continue
        got = prepared.spec.size_micro, _economics(engine_request(prepared, tick))
        assert got == _at_the_venue(emu, venue, spec), spec
        compared += 1
    assert compared > 10 * refused


def _taken(fills: tuple[FillEvent, ...]) -> tuple[tuple[int, int, int], ...]:
    return tuple((f.price_micro, f.size_micro, f.notional_micro) for f in fills)


@pytest.mark.parametrize(
    ("kind", "price", "size", "shares", "cash"),
    [
        # float(70.96) * 100 = 7095.99…: the client used to sign 70.95 shares
        (OrderType.GTC, 530_000, 70_960_000, 70_960_000, 37_608_800),
        # float(0.58) * 100 = 57.99…: the client used to sign the limit as 0.57, so a
        # FAK meant to take the 0.58 ask took nothing
        (OrderType.FAK, 580_000, 49_280_000, 49_275_800, 28_580_000),
    ],
    ids=["limit-70.96-shares", "market-buy-at-0.58"],
)
def test_both_venues_sign_exactly_and_fill_alike(
    emu: EmulatorHandle, kind: OrderType, price: int, size: int, shares: int, cash: int
) -> None:
    token = current_market(emu).up_token_id
    quote(emu, token, sim.Side.SELL, "0.58", "200")
    venue = _clob_venue(emu)
    local = InProcessVenue(emu.venue, "0x" + "22" * 20)
    emu.venue.open_account(local.address)
    emu.venue.deposit(local.address, 100_000_000)
    order = OrderSpec("exact", token, Side.BUY, kind, price, size)
    at_venue = _at_the_venue(emu, venue, order)
    prepared = local.prepare(order)
    tick = emu.venue.tick_size(token)
    assert (prepared.spec.size_micro, _economics(engine_request(prepared, tick))) == (
        at_venue
    )
    request = at_venue[1]
    assert (request[1], request[2], request[3]) == (price, shares, cash)  # exact
    by_http = venue.submit(venue.prepare(order))
    in_process = local.submit(prepared)
    assert by_http.status is in_process.status is PlaceStatus.ACCEPTED
    assert _taken(by_http.fills) == _taken(in_process.fills)
    if kind is OrderType.FAK:  # takes the 0.58 ask: every whole lot it signed for
        lots = shares - shares % 10_000
        assert _taken(by_http.fills) == ((price, lots, lots * price // 1_000_000),)
    else:  # rests below the ask, all 70.96 shares of it
        assert by_http.resting and not by_http.fills
        assert {o.size_micro for o in venue.open_orders()} == {shares}
