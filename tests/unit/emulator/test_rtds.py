"""The emulator's real-time data socket, its pure parts: the basis path, which seconds are
sent, and which subscriptions are understood."""

from __future__ import annotations

import json
import math

import pytest

from src.sim.emulator.rtds import (
    DUMP_SECONDS,
    TOPIC,
    basis_at,
    due_seconds,
    dump_seconds,
    requested,
    update_message,
)

T0 = 1_767_225_600  # a window start
SERVED = {"btc/usd": "BTCUSDT", "eth/usd": "ETHUSDT"}


def test_the_basis_runs_from_the_start_draw_to_the_end_draw() -> None:
    start, end = T0, T0 + 900
    assert basis_at(2e-4, -1e-4, start, end, start) == 2e-4  # exactly: the strike
    assert basis_at(2e-4, -1e-4, start, end, end) == -1e-4
    assert basis_at(2e-4, -1e-4, start, end, start + 450) == pytest.approx(0.5e-4)
    assert basis_at(2e-4, -1e-4, start, end, start - 10) == 2e-4  # clamped
    assert basis_at(2e-4, -1e-4, start, end, end + 10) == -1e-4
    assert basis_at(2e-4, -1e-4, start, start, start) == -1e-4


def test_due_seconds_are_the_newest_and_a_skipped_window_start() -> None:
    assert due_seconds(None, T0 + 5) == [T0 + 5]
    assert due_seconds(T0 + 5, T0 + 5) == [] and due_seconds(T0 + 6, T0 + 5) == []
    assert due_seconds(T0 + 5, T0 + 9) == [T0 + 9]
    assert due_seconds(T0 - 3, T0 + 40) == [T0, T0 + 40]  # a fast clock jumped over it
    assert due_seconds(T0 - 1, T0) == [T0]
    assert due_seconds(T0 - 2000, T0 + 1) == [T0, T0 + 1]


def test_a_dump_has_the_last_seconds_and_the_window_start() -> None:
    mid = T0 + 300
    seconds = dump_seconds(mid)
    assert seconds[0] == T0 and seconds[1:] == list(range(mid - DUMP_SECONDS + 1, mid + 1))
    early = dump_seconds(T0 + 3)
    assert early == list(range(T0 + 3 - DUMP_SECONDS + 1, T0 + 4))  # the start among them


def subscription(action: str, *filters: object, topic: str = TOPIC) -> dict:
    return {
        "action": action,
        "subscriptions": [{"topic": topic, "type": "*", "filters": f} for f in filters],
    }


def test_subscriptions_by_json_string_object_or_empty_filter() -> None:
    as_text = json.dumps({"symbol": "btc/usd"})
    assert requested(subscription("subscribe", as_text), SERVED) == (
        "subscribe",
        {"btc/usd"},
    )
    assert requested(subscription("subscribe", {"symbol": "ETH/USD"}), SERVED) == (
        "subscribe",
        {"eth/usd"},
    )
    for empty in ("", None, {}):
        assert requested(subscription("subscribe", empty), SERVED) == (
            "subscribe",
            set(SERVED),
        )
    assert requested(subscription("unsubscribe", as_text), SERVED) == (
        "unsubscribe",
        {"btc/usd"},
    )


@pytest.mark.parametrize(
    "payload",
    [
        subscription("subscribe", json.dumps({"symbol": "doge/usd"})),
        subscription("subscribe", "{not json"),
        subscription("subscribe", json.dumps({"symbol": 3})),
        subscription("subscribe", "", topic="crypto_prices"),
        subscription("publish", ""),
        {"action": "subscribe", "subscriptions": "btc/usd"},
        {"action": "subscribe", "subscriptions": [3, None]},
        {},
    ],
)
def test_other_subscriptions_name_nothing(payload: dict) -> None:
    assert requested(payload, SERVED)[1] == set()


def test_an_update_carries_the_second_and_the_value_two_ways() -> None:
    message = update_message("btc/usd", T0, 87_123.456789012345, T0 + 0.25)
    assert message["timestamp"] == (T0 * 1000) + 250
    payload = message["payload"]
    assert payload["timestamp"] == T0 * 1000 and payload["value"] == 87_123.45678901
    assert int(payload["full_accuracy_value"]) == 87_123_456_789_010_000_000_000
    assert math.isfinite(payload["value"])
