"""The RTDS Chainlink client's pure parts: the subscription, the message parser, the
per-coin store (latest price, window-start values) and ``handle_text`` (never connected)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from src.data.market_data.chainlink import (
    STARTS_KEPT,
    TOPIC,
    ChainlinkPrices,
    ChainlinkStream,
    ReferencePoint,
    ReferenceQuote,
    coin_of_symbol,
    parse_message,
    rtds_symbol,
    subscribe_message,
)
from src.trading.venue.streams.messages import MalformedMessageError
from src.utils.clock import SimClock

T0 = 1_767_225_600  # a window start
MS = 1000


def update(symbol: str = "btc/usd", at_ms: int = T0 * MS, value: object = 87_001.5) -> str:
    return json.dumps(
        {
            "topic": TOPIC,
            "type": "update",
            "timestamp": at_ms + 120,
            "payload": {
                "symbol": symbol,
                "timestamp": at_ms,
                "value": value,
                "full_accuracy_value": "87001500000000000000000",
            },
        }
    )


def dump(symbol: str, points: list[tuple[int, object]]) -> str:
    return json.dumps(
        {
            "topic": TOPIC,
            "type": "subscribe",
            "timestamp": T0 * MS,
            "payload": {
                "symbol": symbol,
                "data": [{"timestamp": t, "value": v} for t, v in points],
            },
        }
    )


def test_symbols() -> None:
    assert rtds_symbol("BTC") == "btc/usd" and rtds_symbol("ethusdt") == "eth/usd"
    assert coin_of_symbol("btc/usd") == "BTC" and coin_of_symbol(" SOL/USD ") == "SOL"
    for bad in ("btcusdt", "btc/usdt", "", None, 3, "/usd", "b t c/usd", "btc/usd/x"):
        assert coin_of_symbol(bad) is None, bad


def test_the_subscription_names_every_coin_once_with_a_json_string_filter() -> None:
    message = json.loads(subscribe_message(["ETH", "BTC", "btc"]))
    assert message["action"] == "subscribe"
    subs = message["subscriptions"]
    assert [s["topic"] for s in subs] == [TOPIC, TOPIC] and {s["type"] for s in subs} == {
        "*"
    }
    assert [json.loads(s["filters"]) for s in subs] == [
        {"symbol": "btc/usd"},
        {"symbol": "eth/usd"},
    ]


def test_an_update_is_one_point() -> None:
    assert parse_message(update()) == [ReferencePoint("BTC", T0 * MS, 87_001.5)]
    assert parse_message(update(value=87_001)) == [ReferencePoint("BTC", T0 * MS, 87_001.0)]


def test_a_dump_is_its_points_in_order() -> None:
    points = parse_message(dump("eth/usd", [(T0 * MS - MS, 3001.25), (T0 * MS, "3001.5")]))
    assert points == [
        ReferencePoint("ETH", T0 * MS - MS, 3001.25),
        ReferencePoint("ETH", T0 * MS, 3001.5),
    ]
    assert parse_message(dump("eth/usd", [])) == []


@pytest.mark.parametrize(
    "text",
    [
        "PONG",
        "pong",
        "PING",
        "",
        "  ",
        json.dumps(
            {"topic": "crypto_prices", "payload": {"symbol": "btcusdt", "value": 1}}
        ),
        json.dumps({"message": "subscribed", "statusCode": 200}),
        json.dumps({"topic": "activity", "type": "trades", "payload": None}),
    ],
)
def test_keep_alives_other_topics_and_acknowledgements_give_nothing(text: str) -> None:
    assert parse_message(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        '"x"',
        "3",
        json.dumps({"topic": TOPIC}),
        json.dumps({"topic": TOPIC, "payload": []}),
        update(symbol="btcusdt"),
        update(symbol=""),
        update(value=None),
        update(value="abc"),
        update(value="NaN"),
        update(value=-1),
        update(value=0),
        update(value=True),
        update(value=10**400),
        update(value=1e300),
        update(value=[1]),
        update(at_ms=0),
        update(at_ms=-5),
        update(at_ms=10**20),
        json.dumps({"topic": TOPIC, "payload": {"symbol": "btc/usd", "value": 1.0}}),
        json.dumps(
            {"topic": TOPIC, "payload": {"symbol": "btc/usd", "timestamp": 1.5, "value": 1}}
        ),
        json.dumps(
            {
                "topic": TOPIC,
                "payload": {"symbol": "btc/usd", "timestamp": "1_000", "value": 1},
            }
        ),
        json.dumps({"topic": TOPIC, "payload": {"symbol": "btc/usd", "data": "x"}}),
        dump("btc/usd", [(T0 * MS, 1.0), (T0 * MS, "NaN")]),  # one bad row: all out
        dump("btc/usd", [(T0 * MS, 1.0), (None, 2.0)]),
        json.dumps({"topic": TOPIC, "payload": {"symbol": "btc/usd", "data": [3]}}),
        "[" * 100_000,
    ],
)
def test_malformed_messages_raise_only_malformed_message_error(text: str) -> None:
    with pytest.raises(MalformedMessageError):
        parse_message(text)


def test_string_and_integral_numbers_are_accepted() -> None:
    text = json.dumps(
        {
            "topic": TOPIC,
            "payload": {"symbol": "btc/usd", "timestamp": f"{T0 * MS}", "value": "87000.5"},
        }
    )
    assert parse_message(text) == [ReferencePoint("BTC", T0 * MS, 87_000.5)]
    text = json.dumps(
        {
            "topic": TOPIC,
            "payload": {"symbol": "btc/usd", "timestamp": T0 * MS * 1.0, "value": 2},
        }
    )
    assert parse_message(text)[0].timestamp_ms == T0 * MS


# --- the store --------------------------------------------------------------------------


def point(seconds: float, value: float, coin: str = "BTC") -> ReferencePoint:
    return ReferencePoint(coin, int(seconds * MS), value)


def test_the_latest_point_is_the_newest_whatever_the_arrival_order() -> None:
    prices = ChainlinkPrices()
    prices.apply([point(T0 + 5, 5.0), point(T0 + 3, 3.0)])
    latest = prices.latest("BTC")
    assert latest == point(T0 + 5, 5.0) and latest.time == T0 + 5
    assert prices.latest("ETH") is None


def test_the_window_start_value_is_the_point_in_the_windows_first_second() -> None:
    prices = ChainlinkPrices()
    prices.apply([point(T0 - 1, 1.0), point(T0 + 1, 2.0)])
    assert prices.start_value("BTC", T0) is None  # the start itself was never seen
    prices.apply([point(T0 + 0.4, 4.0)])
    assert prices.start_value("BTC", T0) == 4.0
    prices.apply([point(T0, 9.0)])  # an earlier point of that second (a dump) wins
    assert prices.start_value("BTC", T0) == 9.0
    prices.apply([point(T0 + 0.2, 7.0)])  # a later one does not replace it
    assert prices.start_value("BTC", T0) == 9.0
    assert prices.start_value("BTC", T0 - 900) is None


def test_start_values_are_kept_for_a_few_windows_only() -> None:
    prices = ChainlinkPrices()
    starts = [T0 + 900 * k for k in range(STARTS_KEPT + 3)]
    prices.apply([point(s, float(s)) for s in starts])
    kept = [s for s in starts if prices.start_value("BTC", s) is not None]
    assert kept == starts[-STARTS_KEPT:]


def test_a_quote_has_the_latest_price_its_time_and_the_windows_start_value() -> None:
    prices = ChainlinkPrices()
    assert prices.quote("BTC", T0) is None
    prices.apply([point(T0 + 42, 101.0)])
    assert prices.quote("BTC", T0) == ReferenceQuote(101.0, T0 + 42, None)
    prices.apply([point(T0, 100.0)])
    assert prices.quote("BTC", T0) == ReferenceQuote(101.0, T0 + 42, 100.0)
    assert prices.quote("BTC", T0 + 900) == ReferenceQuote(101.0, T0 + 42, None)


# --- the stream's handler (never connected) ---------------------------------------------


@pytest.fixture
def warnings_seen(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    logger = logging.getLogger("polyflup")
    propagate = logger.propagate
    logger.propagate = False
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.WARNING)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.propagate = propagate


def stream(coins: tuple[str, ...] = ("BTC", "ETH")) -> ChainlinkStream:
    return ChainlinkStream("ws://127.0.0.1:9/rtds", coins, SimClock(start=T0 + 7))


def test_the_stream_keeps_its_coins_only_and_notes_the_time() -> None:
    s = stream(("btc",))
    assert s.coins == ("BTC",) and s.options.ping_interval_s == 5.0
    assert json.loads(s.subscribe_messages()[0])["subscriptions"][0]["filters"] == (
        '{"symbol": "btc/usd"}'
    )
    s.handle_text(update("eth/usd"))
    assert s.quote("ETH", T0) is None and s.last_message_at == T0 + 7
    s.handle_text(update("btc/usd", T0 * MS, 87_000.0))
    assert s.quote("btc", T0) == ReferenceQuote(87_000.0, T0, 87_000.0)
    assert stream(()).subscribe_messages() == []


def test_a_malformed_message_is_logged_once_and_ignored(
    warnings_seen: pytest.LogCaptureFixture,
) -> None:
    s = stream()
    s.handle_text(update(value="NaN"))
    s.handle_text(update(value="NaN"))
    s.handle_text("{")
    lines = [r.getMessage() for r in warnings_seen.records]
    assert len(lines) == 2 and all("rtds-chainlink" in line for line in lines)
    assert s.quote("BTC", T0) is None and s.last_message_at is None
