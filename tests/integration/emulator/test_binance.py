"""The unmodified python-binance against the emulator: REST market data, Binance's error
envelope, and kline messages through ThreadedWebsocketManager."""

from __future__ import annotations

import queue
from typing import Any

import binance.base_client
import pytest
from binance.exceptions import BinanceAPIException
from binance.ws.streams import BinanceSocketManager, ThreadedWebsocketManager

from src.data.market_data.binance import make_client
from src.sim.emulator.server import EmulatorHandle
from src.sim.feeds import read_klines_csv
from tests.conftest import shared_path
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import current_market

WAIT_S = 10.0


def _client(emu: EmulatorHandle) -> Any:
    env = emu.env()
    return make_client(env["BINANCE_API_URL"], env["BINANCE_FUTURES_URL"])


def test_klines_ticker_depth_and_funding(emu: EmulatorHandle) -> None:
    client = _client(emu)
    now_ms = int(emu.clock.now() * 1000)
    rows = client.get_klines(symbol="BTCUSDT", interval="1m", limit=5)
    assert len(rows) == 5 and all(len(r) == 12 for r in rows)
    assert rows[-1][0] == now_ms - now_ms % 60_000  # the forming candle comes last
    assert rows[-2][6] == rows[-1][0] - 1
    history = client.get_historical_klines("BTCUSDT", "1m", now_ms - 30 * 60_000)
    assert len(history) == 31 and history[0][0] == now_ms - 30 * 60_000
    price = float(client.get_symbol_ticker(symbol="BTCUSDT")["price"])
    assert price == pytest.approx(emu.source.feed.price_at("BTCUSDT", emu.clock.now()))
    top = client.get_orderbook_ticker(symbol="BTCUSDT")
    assert float(top["bidPrice"]) < price < float(top["askPrice"])
    depth = client.get_order_book(symbol="BTCUSDT", limit=5)
    assert len(depth["bids"]) == 5 and len(depth["asks"]) == 5
    trades = client.get_aggregate_trades(symbol="BTCUSDT", limit=3)
    assert len(trades) == 3 and trades[-1]["T"] <= now_ms
    mark = client.futures_mark_price(symbol="BTCUSDT")
    assert mark["symbol"] == "BTCUSDT" and "lastFundingRate" in mark
    funding = client.futures_funding_rate(symbol="BTCUSDT", limit=3)
    assert [f["symbol"] for f in funding] == ["BTCUSDT"] * 3
    assert client.get_server_time() == {"serverTime": now_ms}


def test_errors_use_binances_envelope(emu: EmulatorHandle) -> None:
    client = _client(emu)
    with pytest.raises(BinanceAPIException) as caught:
        client.get_klines(symbol="NOPEUSDT", interval="1m")
    assert caught.value.status_code == 400
    assert (caught.value.code, caught.value.message) == (-1121, "Invalid symbol.")
    with pytest.raises(BinanceAPIException) as caught:
        client.get_klines(symbol="BTCUSDT", interval="7m")
    assert caught.value.code == -1120


def test_threaded_websocket_manager_receives_kline_messages(
    emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = emu.env()
    # python-binance builds its URLs from class attributes (reference §9.2).
    monkeypatch.setattr(binance.base_client.BaseClient, "API_URL", env["BINANCE_API_URL"])
    monkeypatch.setattr(BinanceSocketManager, "STREAM_URL", env["BINANCE_WS_URL"])
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    manager = ThreadedWebsocketManager()
    manager.start()
    try:
        manager.start_kline_socket(callback=received.put, symbol="BTCUSDT", interval="1m")
        first = received.get(timeout=WAIT_S)
        assert first["e"] == "kline" and first["s"] == "BTCUSDT"
        assert first["k"]["i"] == "1m" and first["k"]["x"] is False
        emu.advance(61)
        later = first
        while later["k"]["t"] == first["k"]["t"]:
            later = received.get(timeout=WAIT_S)
        assert later["k"]["t"] == first["k"]["t"] + 60_000
    finally:
        manager.stop()
        # Its read loop notices the stop only when a message arrives (or after 10 s of
        # silence), so keep the simulated market moving until the thread ends.
        for _ in range(50):
            if not manager.is_alive():
                break
            emu.advance(1)
            manager.join(0.2)
        assert not manager.is_alive()


def test_a_replayed_file_is_served_as_recorded() -> None:
    path = shared_path("data", "BTCUSDT-1m-2026-01-09_12.csv.gz")
    emu = start_emulator(data_files=(str(path),))
    try:
        table = read_klines_csv(path)
        first = table.kline(0)
        rows = _client(emu).get_klines(
            symbol="BTCUSDT", interval="1m", startTime=first.open_time_ms, limit=3
        )
        assert [r[0] for r in rows] == [table.kline(i).open_time_ms for i in range(3)]
        assert [float(r[4]) for r in rows] == [table.kline(i).close for i in range(3)]
        assert current_market(emu).symbol == "BTCUSDT"
    finally:
        emu.stop()
