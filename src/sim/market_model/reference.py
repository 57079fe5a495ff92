"""The resolution reference price, and the per-market random streams.

Markets resolve on a Chainlink price, not on the feed (Binance): the reference is the feed's
price times ``exp(β)``, ``β ~ N(0, basis_bp²)``, drawn independently at the start (the
strike) and at the end of each window. With ``settlement_twap_s`` > 0 the end reference is
the average of the feed over the last that many seconds (one sample a second, the close
included) times ``exp(β)``.
"""

from __future__ import annotations

import hashlib
import math
import random

from src.sim.feeds.base import PriceFeed

BP = 1e-4
END_EPSILON_S = 1e-6
"""The end price is the last sample before the end: the window's last candle's close."""


def stream_rng(seed: int, key: str, stream: str) -> random.Random:
    """An independent, reproducible random stream for ``(seed, key, stream)``.

    Each market draws from its own streams, so what happens in one market never changes
    another's randomness, and the order markets are processed in does not matter.
    """
    digest = hashlib.blake2b(f"{seed}|{key}|{stream}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def draw_basis(rng: random.Random, basis_bp: float) -> float:
    """One log basis between the reference and the feed (0 when ``basis_bp`` is 0)."""
    return rng.gauss(0.0, basis_bp * BP) if basis_bp > 0 else 0.0


def reference_price(feed_price: float, basis: float) -> float:
    """The reference (resolution) price for a feed price and a log basis."""
    return feed_price * math.exp(basis)


def end_feed_price(feed: PriceFeed, symbol: str, end: float, twap_s: float) -> float:
    """The feed's side of the end reference: the last price before ``end``, or its
    average over the last ``twap_s`` seconds (one sample per second)."""
    last = end - END_EPSILON_S
    samples = int(twap_s)
    if samples <= 1:
        return feed.price_at(symbol, last)
    total = 0.0
    for k in range(samples):
        total += feed.price_at(symbol, last - k)
    return total / samples
