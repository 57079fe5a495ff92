"""Each fault kind, and what a client sees of it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
import requests
from py_clob_client_v2 import OrderArgs
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.http_helpers import helpers
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from src.sim.emulator.faults import FaultSpecError
from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import Side
from src.sim.venue.errors import POST_ONLY_MODE
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import current_market, new_trader, quote


@pytest.fixture
def short_client_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The client's module-level httpx client with a 0.5 s timeout instead of 5 s (its
    configuration, not its code), so a held answer times out quickly."""
    monkeypatch.setattr(helpers._http_client, "timeout", httpx.Timeout(0.5))
    yield


def _order(
    client: object, token: str, price: float = 0.40, post_only: bool = False
) -> dict:
    return client.create_and_post_order(  # type: ignore[attr-defined, no-any-return]
        OrderArgs(token_id=token, price=price, size=10, side="BUY"), post_only=post_only
    )


def test_latency_delays_the_answer(emu: EmulatorHandle, market: ListedMarket) -> None:
    emu.set_faults("book:latency=300ms")
    session = requests.Session()
    started = time.perf_counter()
    answer = session.get(f"{emu.base_url}/book", params={"token_id": market.up_token_id})
    assert answer.status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_server_error_refuses_without_acting(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    trader = new_trader(emu)
    emu.set_faults("order:5xx=1")
    with pytest.raises(PolyApiException) as caught:
        _order(trader.client, market.up_token_id)
    assert caught.value.status_code == 500
    assert caught.value.error_msg == {"error": "Internal server error"}
    emu.set_faults("")
    assert trader.client.get_open_orders() == []
    emu.set_faults("order:5xx=1/503")
    with pytest.raises(PolyApiException) as caught:
        _order(trader.client, market.up_token_id)
    assert caught.value.status_code == 503


def test_rate_limit_answers_429_with_retry_after(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    emu.set_faults("all:429=1/3s")
    answer = requests.get(f"{emu.base_url}/book", params={"token_id": market.up_token_id})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"
    assert answer.json() == {"error": "Too Many Requests"}
    gamma = requests.get(f"{emu.base_url}/gamma/markets/slug/{market.slug}")
    assert gamma.status_code == 429
    assert requests.get(f"{emu.base_url}/admin/status").status_code == 200  # never faulted


def test_timeout_after_the_order_was_accepted(
    emu: EmulatorHandle, market: ListedMarket, short_client_timeout: None
) -> None:
    trader = new_trader(emu)
    emu.set_faults("order:timeout=1/3s")
    with pytest.raises(PolyApiException) as caught:
        _order(trader.client, market.up_token_id)
    assert caught.value.status_code is None
    assert caught.value.error_msg == "Request exception!"
    [order] = trader.client.get_open_orders()  # the order is on the book all the same
    assert order["price"] == "0.4" and order["status"] == "LIVE"


def test_dropped_answer_after_the_order_was_accepted(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    trader = new_trader(emu)
    emu.set_faults("order:drop=1")
    with pytest.raises(PolyApiException) as caught:
        _order(trader.client, market.up_token_id)
    assert caught.value.status_code is None
    assert caught.value.error_msg == "Request exception!"
    assert len(trader.client.get_open_orders()) == 1


def test_websocket_drop(emu: EmulatorHandle, market: ListedMarket) -> None:
    emu.set_faults("ws:drop=30s")
    with connect(emu.env()["POLYMARKET_WS_URL"] + "/market") as ws:
        ws.send(json.dumps({"assets_ids": [market.up_token_id], "type": "market"}))
        assert len(json.loads(ws.recv(timeout=5))) == 1
        emu.advance(10)
        ws.send("PING")
        assert ws.recv(timeout=5) == "PONG"
        emu.advance(20)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)


def test_stale_books(emu: EmulatorHandle, market: ListedMarket) -> None:
    up = market.up_token_id
    session = requests.Session()

    def bids() -> list[dict[str, str]]:
        return session.get(f"{emu.base_url}/book", params={"token_id": up}).json()["bids"]

    emu.set_faults("book:stale=10s")
    assert bids() == []
    quote(emu, up, Side.BUY, "0.40", "10")
    assert bids() == []  # the frozen snapshot
    assert session.get(f"{emu.base_url}/midpoint", params={"token_id": up}).json() == {
        "mid": "0"
    }  # only /book was targeted; /midpoint sees the live book (one-sided: "0")
    emu.advance(11)
    assert bids() == [{"price": "0.4", "size": "10"}]
    emu.set_faults("clob:stale=on")
    assert len(bids()) == 1  # frozen from the first read after the fault was set
    quote(emu, up, Side.BUY, "0.41", "10")
    assert len(bids()) == 1
    emu.advance(3600)
    assert len(bids()) == 1


def test_post_only_mode(emu: EmulatorHandle, market: ListedMarket) -> None:
    trader = new_trader(emu)
    emu.set_faults("engine:postonly=120s")
    with pytest.raises(PolyApiException) as caught:
        _order(trader.client, market.up_token_id)
    assert caught.value.status_code == 400
    assert caught.value.error_msg == {"error": POST_ONLY_MODE}
    assert _order(trader.client, market.up_token_id, post_only=True)["status"] == "live"
    assert trader.client.cancel_all()["canceled"]  # cancels are allowed
    emu.advance(121)
    assert _order(trader.client, market.up_token_id)["success"] is True


def test_faults_change_at_run_time_through_the_admin_endpoint(emu: EmulatorHandle) -> None:
    session = requests.Session()
    admin = f"{emu.base_url}/admin/faults"
    answer = session.put(admin, json={"spec": "order:5xx=0.1, book:latency=50ms"})
    assert answer.status_code == 200
    assert answer.json()["spec"] == "order:5xx=0.1,book:latency=50ms"
    rules = session.get(admin).json()["rules"]
    assert [(r["target"], r["kind"]) for r in rules] == [
        ("order", "5xx"),
        ("book", "latency"),
    ]
    bad = session.put(admin, json={"spec": "order:explode=1"})
    assert bad.status_code == 400 and "unknown kind" in bad.json()["error"]
    assert session.delete(admin).json() == {"spec": "", "rules": []}
    with pytest.raises(FaultSpecError):
        emu.set_faults("order:5xx=2")


def _statuses(seed: int) -> list[int]:
    emu = start_emulator(seed=seed, faults="book:5xx=0.5")
    try:
        token = current_market(emu).up_token_id
        session = requests.Session()
        return [
            session.get(f"{emu.base_url}/book", params={"token_id": token}).status_code
            for _ in range(24)
        ]
    finally:
        emu.stop()


def test_fault_draws_are_deterministic_per_seed() -> None:
    first = _statuses(seed=3)
    assert first == _statuses(seed=3)
    assert set(first) == {200, 500}
    assert first != _statuses(seed=4)


def test_injected_faults_are_counted_by_kind_across_plans() -> None:
    emu = start_emulator()
    try:
        emu.set_faults("book:5xx=1")
        token = current_market(emu).up_token_id
        for _ in range(3):
            requests.get(f"{emu.base_url}/book", params={"token_id": token}, timeout=5)
        emu.set_faults("book:429=1,engine:postonly=on")
        requests.get(f"{emu.base_url}/book", params={"token_id": token}, timeout=5)
        body = requests.get(f"{emu.base_url}/admin/faults", timeout=5).json()
        assert body["injected"] == {"5xx": 3, "429": 1, "postonly": 1}
    finally:
        emu.stop()
