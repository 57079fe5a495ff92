"""Window and slug arithmetic."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.data.market_data.windows import (
    SlugError,
    WindowRef,
    current_window,
    normalize_coin,
    parse_slug,
    window_slug,
    window_start,
)


def test_window_boundaries() -> None:
    # 2026-01-01 00:14:59 UTC is in the window that started at 00:00.
    assert window_start(1767225600 + 899.9) == 1767225600
    assert window_start(1767225600 + 900) == 1767226500
    w = current_window("btcusdt", 1767225600 + 10)
    assert w == WindowRef("BTC", 1767225600)
    assert w.slug == "btc-updown-15m-1767225600"
    assert w.time_left(1767225600 + 10) == 890
    assert w.next().start == 1767226500


@pytest.mark.parametrize(
    "bad",
    [
        "btc-updown-15m-123",
        "btc-updown-5m-1767225600",
        "btc-updown-15m-1767225601",
        "",
        "BTC",
    ],
)
def test_parse_slug_rejects(bad: str) -> None:
    with pytest.raises(SlugError):
        parse_slug(bad)


def test_misaligned_start_is_refused() -> None:
    with pytest.raises(SlugError):
        window_slug("ETH", 1767225601)


@given(st.sampled_from(["BTC", "ETH", "SOL", "XRP"]), st.integers(1_500_000, 2_500_000))
def test_slug_round_trip(coin: str, n: int) -> None:
    ref = WindowRef(coin, n * 900)
    assert parse_slug(ref.slug) == ref


@pytest.mark.parametrize(
    ("raw", "coin"),
    [("btc", "BTC"), ("ETHUSDT", "ETH"), (" xrp ", "XRP"), ("USDT", "USDT")],
)
def test_normalize_coin(raw: str, coin: str) -> None:
    assert normalize_coin(raw) == coin
