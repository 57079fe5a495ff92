"""The market poller with small fakes: one batched book request per step, failures
contained, the window row (and its strike) written once, one update per step."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

import src.bot.market_poller as market_poller
from src.bot.market_board import MarketBoard
from src.bot.market_poller import MarketPoller
from src.data.db_connection import db_connection
from src.data.market_data.binance import KlineSnapshot
from src.data.market_data.chainlink import ReferenceQuote
from src.data.market_data.polymarket import BookLevel, MarketInfo, OrderBook
from src.data.market_data.windows import WindowRef, current_window
from src.trading.venue.port import VenueUnavailableError
from src.utils.clock import SimClock
from tests.unit.position_manager.support import migrated_db

T0 = 1_767_225_600  # aligned to 15 minutes
COINS = ("BTC", "ETH", "SOL")


def market(coin: str, start: int) -> MarketInfo:
    slug = f"{coin.lower()}-updown-15m-{start}"
    return MarketInfo(
        slug=slug,
        coin=coin,
        start=start,
        end=start + 900,
        condition_id=f"0xcond-{slug}",
        up_token_id=f"{slug}-up",
        down_token_id=f"{slug}-down",
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
        fee_rate=Decimal("0.07"),
        fee_exponent=1,
        neg_risk=False,
        accepting_orders=True,
        closed=False,
        outcome=None,
    )


class Directory:
    """``prefetch``/``lookup`` over a fixed set of markets."""

    def __init__(self, markets: Sequence[MarketInfo]) -> None:
        self.markets = {m.slug: m for m in markets}
        self.prefetched: list[list[WindowRef]] = []
        self.looked_up: list[WindowRef] = []

    def prefetch(self, windows: Sequence[WindowRef]) -> None:
        self.prefetched.append(list(windows))

    def lookup(self, window: WindowRef) -> MarketInfo | None:
        self.looked_up.append(window)
        return self.markets.get(window.slug)


class Venue:
    """``books`` answering a mid of 0.50 for every token, or failing when told to."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.fail = False

    def books(self, token_ids: Sequence[str]) -> dict[str, OrderBook]:
        self.calls.append(list(token_ids))
        if self.fail:
            raise VenueUnavailableError("HTTP 503")
        return {
            t: OrderBook(
                t,
                (BookLevel(Decimal("0.49"), Decimal(100)),),
                (BookLevel(Decimal("0.51"), Decimal(100)),),
                T0 * 1000,
                tick_size=Decimal("0.01"),
            )
            for t in token_ids
        }


class Binance:
    """``refresh``/``strike_price`` with a strike that appears when the test says so."""

    def __init__(self) -> None:
        self.strikes: dict[str, float] = {}
        self.refreshed: list[str] = []
        self.strike_asked: list[tuple[str, int]] = []

    def refresh(self, coin: str) -> KlineSnapshot:
        self.refreshed.append(coin)
        return KlineSnapshot(f"{coin}USDT", (), 100.0 + len(self.refreshed), T0 * 1000)

    def strike_price(self, coin: str, window_start: int) -> float | None:
        self.strike_asked.append((coin, window_start))
        return self.strikes.get(coin)


class Writes:
    """Counts the poller's window-table writes (the real functions still run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.upserts: list[str] = []
        self.strikes: list[tuple[int, float]] = []
        upsert, set_strike = market_poller.upsert_window, market_poller.set_window_strike

        def counting_upsert(cur, info, now_ms):
            self.upserts.append(info.slug)
            return upsert(cur, info, now_ms)

        def counting_strike(cur, window_id, strike):
            self.strikes.append((window_id, strike))
            set_strike(cur, window_id, strike)

        monkeypatch.setattr(market_poller, "upsert_window", counting_upsert)
        monkeypatch.setattr(market_poller, "set_window_strike", counting_strike)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    migrated_db(tmp_path, deposit=0)
    clock = SimClock(start=T0 + 30)
    board = MarketBoard(COINS)
    # SOL has no market yet (Gamma has not listed it).
    directory = Directory([market("BTC", T0), market("ETH", T0)])
    venue = Venue()
    binance = Binance()
    updates: list[int] = []
    poller = MarketPoller(
        board,
        directory,  # type: ignore[arg-type]
        venue,  # type: ignore[arg-type]
        binance,  # type: ignore[arg-type]
        clock,
        on_update=lambda: updates.append(len(updates)),
    )
    return {
        "clock": clock,
        "board": board,
        "directory": directory,
        "venue": venue,
        "binance": binance,
        "poller": poller,
        "updates": updates,
        "writes": Writes(monkeypatch),
    }


def test_one_batched_book_request_per_step_for_every_current_up_token(env: dict) -> None:
    env["poller"].step()
    env["poller"].step()
    expected = [f"btc-updown-15m-{T0}-up", f"eth-updown-15m-{T0}-up"]
    assert [sorted(c) for c in env["venue"].calls] == [expected, expected]
    # the next window of every coin is discovered ahead of time
    assert env["directory"].prefetched[0] == [WindowRef(c, T0 + 900) for c in COINS]
    assert env["binance"].refreshed == list(COINS) * 2


def test_each_coin_gets_its_book_and_a_fresh_sequence(env: dict) -> None:
    env["poller"].step()
    board = env["board"]
    btc, eth = board.feed("BTC"), board.feed("ETH")
    assert btc is not None and eth is not None
    assert btc.book is not None and btc.book.token_id == f"btc-updown-15m-{T0}-up"
    assert eth.book is not None and eth.book.token_id == f"eth-updown-15m-{T0}-up"
    assert btc.window == WindowRef("BTC", T0) and btc.polled_at == T0 + 30
    assert btc.spot == btc.klines.last_price  # type: ignore[union-attr]
    sequences = [board.feed(c).sequence for c in COINS]  # type: ignore[union-attr]
    assert len(set(sequences)) == 3
    env["poller"].step()
    assert board.feed("BTC").sequence > max(sequences)  # type: ignore[union-attr]
    assert board.mids("BTC")[-1].price == Decimal("0.50")


def test_a_window_without_a_market_publishes_a_feed_without_one(env: dict) -> None:
    env["poller"].step()
    sol = env["board"].feed("SOL")
    assert sol is not None and sol.window == WindowRef("SOL", T0)
    assert (sol.market, sol.window_id, sol.book) == (None, None, None)
    assert sol.klines is not None  # Binance data still flows for it


def test_no_market_at_all_means_no_book_request(env: dict) -> None:
    env["directory"].markets.clear()
    env["poller"].step()
    assert env["venue"].calls == []
    assert all(env["board"].feed(c).market is None for c in COINS)  # type: ignore[union-attr]
    assert env["updates"] == [0]


def test_unavailable_books_leave_no_book_and_count_a_failure(env: dict) -> None:
    env["venue"].fail = True
    env["poller"].step()
    assert env["poller"].book_failures == 1
    btc = env["board"].feed("BTC")
    assert btc is not None and btc.market is not None and btc.book is None
    assert btc.window_id is not None  # the rest of the feed is still published
    assert env["updates"] == [0]
    env["venue"].fail = False
    env["poller"].step()
    assert env["poller"].book_failures == 1
    assert env["board"].feed("BTC").book is not None  # type: ignore[union-attr]


def test_on_update_is_called_once_per_step(env: dict) -> None:
    for _ in range(3):
        env["poller"].step()
    assert env["updates"] == [0, 1, 2]


def _window_row(slug: str) -> tuple:
    with db_connection(readonly=True) as cur:
        return tuple(
            cur.execute(
                "SELECT id, strike_micro FROM windows WHERE slug = ?", (slug,)
            ).fetchone()
        )


def test_the_window_row_is_written_once_and_the_strike_once_known(env: dict) -> None:
    poller, writes, binance = env["poller"], env["writes"], env["binance"]
    btc_slug = f"btc-updown-15m-{T0}"
    poller.step()
    poller.step()
    assert sorted(writes.upserts) == sorted([btc_slug, f"eth-updown-15m-{T0}"])
    assert writes.strikes == []
    window_id, strike = _window_row(btc_slug)
    assert strike is None
    assert env["board"].feed("BTC").window_id == window_id  # type: ignore[union-attr]
    assert env["board"].feed("BTC").strike is None  # type: ignore[union-attr]

    binance.strikes["BTC"] = 97_123.456789
    poller.step()
    assert writes.strikes == [(window_id, 97_123.456789)]
    assert writes.upserts.count(btc_slug) == 2  # once for the row, once for its strike
    assert _window_row(btc_slug) == (window_id, 97_123_456_789)
    assert env["board"].feed("BTC").strike == 97_123.456789  # type: ignore[union-attr]

    asked = len(binance.strike_asked)
    poller.step()
    poller.step()
    assert writes.upserts.count(btc_slug) == 2 and len(writes.strikes) == 1
    btc_asks = [a for a in binance.strike_asked[asked:] if a[0] == "BTC"]
    assert btc_asks == []  # a known strike is not asked for again


def test_a_new_window_gets_its_own_row_and_strike(env: dict) -> None:
    poller, writes, binance = env["poller"], env["writes"], env["binance"]
    binance.strikes["BTC"] = 100.0
    poller.step()
    first = env["board"].feed("BTC")
    env["directory"].markets[f"btc-updown-15m-{T0 + 900}"] = market("BTC", T0 + 900)
    binance.strikes["BTC"] = 101.5
    env["clock"].advance(900)
    poller.step()
    second = env["board"].feed("BTC")
    assert first is not None and second is not None
    assert second.window == WindowRef("BTC", T0 + 900) and second.strike == 101.5
    assert second.window_id != first.window_id
    assert ("BTC", T0 + 900) in binance.strike_asked
    assert _window_row(f"btc-updown-15m-{T0 + 900}")[1] == 101_500_000
    assert [s for _, s in writes.strikes] == [100.0, 101.5]
    # a strike known at first sight is written with the row: one write per window
    assert writes.upserts.count(f"btc-updown-15m-{T0}") == 1
    assert writes.upserts.count(f"btc-updown-15m-{T0 + 900}") == 1


class Reference:
    """``quote`` of a Chainlink reference: BTC only, recording what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def quote(self, coin: str, window_start: int) -> ReferenceQuote | None:
        self.asked.append((coin, window_start))
        return ReferenceQuote(87_000.0, T0 + 29, 86_990.0) if coin == "BTC" else None


def test_the_chainlink_reference_is_published_with_each_feed(env: dict) -> None:
    env["poller"].step()
    assert all(env["board"].feed(c).reference is None for c in COINS)  # type: ignore[union-attr]
    reference = Reference()
    env["poller"].reference = reference
    env["poller"].step()
    assert reference.asked == [(c, T0) for c in COINS]
    btc = env["board"].feed("BTC")
    assert btc is not None and btc.reference == ReferenceQuote(87_000.0, T0 + 29, 86_990.0)
    assert env["board"].feed("ETH").reference is None  # type: ignore[union-attr]


def test_windows_kept_for_a_window_are_those_of_the_time(env: dict) -> None:
    """The windows built once a window (polls at odd times, across boundaries, a step
    back) are each poll's own current and next windows."""
    poller, clock, directory = env["poller"], env["clock"], env["directory"]
    offsets = [0, 7.5, 869.99, 870, 899.999, 900, 901, 1799, 450, 2700, 2700.5, 0.25]
    for offset in offsets:
        clock.set(T0 + offset)
        poller.step()
        now = clock.now()
        want = [current_window(c, now) for c in COINS]
        assert [env["board"].feed(c).window for c in COINS] == want  # type: ignore[union-attr]
        assert directory.prefetched[-1] == [w.next() for w in want]
