"""The emulator's real-time data socket (``/rtds``, ``crypto_prices_chainlink``) on
127.0.0.1 with the market model: read by a plain ``websockets`` client and by the bot's
:class:`ChainlinkStream`, the prices are the world's resolution reference — the value at a
window's start is that market's strike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from src.data.market_data.chainlink import ChainlinkStream
from src.data.market_data.windows import WINDOW_SECONDS, window_start
from src.sim.emulator.rtds import DUMP_SECONDS, reference_at
from src.sim.emulator.server import EmulatorHandle
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import current_market

pytestmark = pytest.mark.integration

WAIT_S = 5.0
ROUNDING = 1e-8  # the stream sends 8 decimals


@pytest.fixture
def model_emu() -> Iterator[EmulatorHandle]:
    """A manual-clock emulator running the market model (a basis between feed and
    reference), BTC and ETH, two minutes into a window."""
    handle = start_emulator(market_model=True, coins=("BTC", "ETH"))
    try:
        handle.advance(120)  # into the window, past the dump's reach of its start
        yield handle
    finally:
        handle.stop()


def subscribe(ws: ClientConnection, *symbols: str) -> None:
    ws.send(
        json.dumps(
            {
                "action": "subscribe",
                "subscriptions": [
                    {
                        "topic": "crypto_prices_chainlink",
                        "type": "*",
                        "filters": json.dumps({"symbol": s}),
                    }
                    for s in symbols
                ],
            }
        )
    )


def frame(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=WAIT_S))


def reference(handle: EmulatorHandle, symbol: str, seconds: float) -> float:
    value = reference_at(handle.source, symbol, seconds)
    assert value is not None
    return value


def strike(handle: EmulatorHandle, coin: str = "BTC") -> float:
    market = current_market(handle, coin)
    price, _ = handle.source.reference_prices(market, handle.clock.now())
    assert price is not None
    return price


def test_dump_then_updates_of_the_worlds_reference(model_emu: EmulatorHandle) -> None:
    emu = model_emu
    url = emu.env()["RTDS_WS_URL"]
    assert url.endswith("/rtds") and url.startswith("ws://127.0.0.1:")
    now_s = int(emu.clock.now())
    with connect(url) as ws:
        subscribe(ws, "btc/usd")
        first = frame(ws)
        assert (first["topic"], first["type"]) == ("crypto_prices_chainlink", "subscribe")
        assert first["payload"]["symbol"] == "btc/usd"
        data = first["payload"]["data"]
        seconds = [p["timestamp"] // 1000 for p in data]
        start = window_start(now_s)
        assert seconds[0] == start and seconds[-DUMP_SECONDS:] == list(
            range(now_s - DUMP_SECONDS + 1, now_s + 1)
        )
        for p in data:
            expected = reference(emu, "BTCUSDT", p["timestamp"] / 1000)
            assert p["value"] == pytest.approx(expected, abs=ROUNDING)
        # the stream's value at the window start is the market's strike
        assert data[0]["value"] == pytest.approx(strike(emu), abs=ROUNDING)
        # the reference is not the feed: the market model's basis is in it
        assert data[-1]["value"] != emu.source.feed.price_at("BTCUSDT", now_s)

        ws.send("PING")
        assert ws.recv(timeout=WAIT_S) == "PONG"

        emu.advance(3)  # an update per second the loop sees, at least the last one
        stamps = []
        while not stamps or stamps[-1] < (now_s + 3) * 1000:
            message = frame(ws)
            assert (message["topic"], message["type"]) == (
                "crypto_prices_chainlink",
                "update",
            )
            payload = message["payload"]
            assert payload["symbol"] == "btc/usd"
            stamps.append(payload["timestamp"])
            expected = reference(emu, "BTCUSDT", payload["timestamp"] / 1000)
            assert payload["value"] == pytest.approx(expected, abs=ROUNDING)
            full = Decimal(payload["full_accuracy_value"]).scaleb(-18)
            assert full == Decimal(repr(payload["value"]))
        assert stamps == sorted(set(stamps)) and stamps[-1] == (now_s + 3) * 1000


def test_the_bot_client_sees_the_reference_and_each_windows_strike(
    model_emu: EmulatorHandle,
) -> None:
    emu = model_emu
    stream = ChainlinkStream(emu.env()["RTDS_WS_URL"], ("BTC", "ETH"), emu.clock)
    stream.start()
    try:
        start = window_start(emu.clock.now())
        now = emu.clock.now()

        def quoted(coin: str, at: float, window: int) -> bool:
            q = stream.quote(coin, window)
            return q is not None and q.spot_time == int(at) and q.strike is not None

        assert stream.signal.wait_for(
            lambda: quoted("BTC", now, start) and quoted("ETH", now, start), WAIT_S
        )
        for coin in ("BTC", "ETH"):
            q = stream.quote(coin, start)
            assert q is not None and q.strike is not None
            assert q.strike == pytest.approx(strike(emu, coin), abs=ROUNDING)
            expected = reference(emu, f"{coin}USDT", int(now))
            assert q.spot == pytest.approx(expected, abs=ROUNDING)

        # a jump over the next window's start: its first second is still sent
        nxt = start + WINDOW_SECONDS
        emu.advance(nxt + 5 - emu.clock.now())
        assert stream.signal.wait_for(lambda: quoted("BTC", nxt + 5, nxt), WAIT_S)
        q = stream.quote("BTC", nxt)
        assert q is not None and q.strike is not None
        assert q.strike == pytest.approx(strike(emu), abs=ROUNDING)
        assert q.spot == pytest.approx(reference(emu, "BTCUSDT", nxt + 5), abs=ROUNDING)
        assert stream.connects == 1
    finally:
        stream.stop()
