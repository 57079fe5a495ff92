"""Fuzz: the RTDS Chainlink client — real ``crypto_prices`` captures turned into
``crypto_prices_chainlink`` messages (``btc/usd``), then corrupted.

* ``parse_message`` raises only :class:`MalformedMessageError`, and whatever it returns is
  points of a known coin with a sane timestamp and a positive finite value;
* ``ChainlinkStream.handle_text`` never raises, whatever the text, and its store only ever
  holds such points;
* a malformed message received twice is logged once, naming the stream.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from src.data.market_data.chainlink import (
    TOPIC,
    ChainlinkStream,
    ReferencePoint,
    parse_message,
)
from src.data.market_data.polymarket import MAX_TIMESTAMP_MS
from src.trading.venue.streams.messages import MalformedMessageError
from src.utils.clock import SimClock
from tests.unit.fuzz.payloads import corrupted, sample, wire_texts

pytestmark = pytest.mark.usefixtures("reference_samples")

FUZZ = settings(max_examples=150, deadline=None)
SAMPLES = ("rtds_crypto_prices_update.json", "rtds_crypto_prices_subscribe.json")
FIELDS = ("topic", "type", "timestamp", "payload", "symbol", "value", "data")
COINS = ("BTC", "ETH")


def chainlink(name: str) -> dict[str, Any]:
    """A real RTDS capture as the Chainlink topic would carry it."""
    message = json.loads(json.dumps(sample(name)))
    message["topic"] = TOPIC
    message["payload"]["symbol"] = "btc/usd"
    return message


messages = st.deferred(
    lambda: corrupted(keys=FIELDS, extra=[chainlink(n) for n in SAMPLES])
)
texts = (messages | st.lists(messages, max_size=2)).flatmap(wire_texts)


def sane(point: ReferencePoint) -> bool:
    return (
        point.coin.isalnum()
        and 0 < point.timestamp_ms < MAX_TIMESTAMP_MS
        and math.isfinite(point.value)
        and point.value > 0
    )


def test_the_uncorrupted_samples_parse() -> None:
    [update] = parse_message(json.dumps(chainlink(SAMPLES[0])))
    assert update == ReferencePoint("BTC", 1780730269000, 61035.86)
    assert len(parse_message(json.dumps(chainlink(SAMPLES[1])))) == 3


@FUZZ
@given(text=texts | st.text(max_size=40))
def test_parse_message_gives_sane_points_or_malformed_message_error(text: str) -> None:
    try:
        points = parse_message(text)
    except MalformedMessageError:
        return
    assert all(isinstance(p, ReferencePoint) and sane(p) for p in points)


def stream() -> ChainlinkStream:
    return ChainlinkStream("ws://127.0.0.1:9/rtds", COINS, SimClock(start=1_780_730_270))


@FUZZ
@given(frames=st.lists(texts | st.text(max_size=30), min_size=1, max_size=5))
def test_handle_text_never_raises(frames: list[str]) -> None:
    s = stream()
    for text in frames:
        s.handle_text(text)
    for coin in COINS:
        latest = s.prices.latest(coin)
        assert latest is None or sane(latest)
        quote = s.quote(coin, 1_780_729_200)
        assert quote is None or (quote.spot > 0 and math.isfinite(quote.spot_time))


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


def rejected(text: str) -> bool:
    try:
        parse_message(text)
    except MalformedMessageError:
        return True
    return False


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)
@given(message=messages)
def test_a_malformed_message_is_logged_once(
    warnings_seen: pytest.LogCaptureFixture, message: Any
) -> None:
    text = json.dumps(message, allow_nan=True)
    assume(rejected(text))
    warnings_seen.clear()
    s = stream()
    s.handle_text(text)
    s.handle_text(text)
    lines = [r.getMessage() for r in warnings_seen.records]
    assert len(lines) == 1, lines
    assert "rtds-chainlink" in lines[0]
