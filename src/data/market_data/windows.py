"""15-minute window arithmetic: the one place that knows how windows and slugs are built.

Windows start at :00/:15/:30/:45 UTC; the slug is ``{coin}-updown-15m-{start_unix}``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

WINDOW_SECONDS = 900
SUPPORTED_COINS = ("BTC", "ETH", "SOL", "XRP")
_SLUG_RE = re.compile(r"^(?P<coin>[a-z0-9]+)-updown-15m-(?P<start>\d{9,11})$")


class SlugError(ValueError):
    """A slug that is not a 15-minute Up/Down slug."""


@dataclass(frozen=True, slots=True)
class WindowRef:
    """One coin's 15-minute window, identified by its start time."""

    coin: str
    start: int

    @property
    def end(self) -> int:
        """Unix time at which the window closes (and trading stops)."""
        return self.start + WINDOW_SECONDS

    @property
    def slug(self) -> str:
        """The market's Gamma slug."""
        return window_slug(self.coin, self.start)

    def time_left(self, now: float) -> float:
        """Seconds until the window closes (negative once it has)."""
        return self.end - now

    def elapsed(self, now: float) -> float:
        """Seconds since the window opened."""
        return now - self.start

    def next(self) -> WindowRef:
        """The following window of the same coin."""
        return WindowRef(self.coin, self.start + WINDOW_SECONDS)


def window_start(timestamp: float) -> int:
    """Start (Unix seconds) of the window containing ``timestamp``."""
    whole = int(timestamp // 1)
    return whole - whole % WINDOW_SECONDS


def current_window(coin: str, now: float) -> WindowRef:
    """The window of ``coin`` that contains ``now``."""
    return WindowRef(normalize_coin(coin), window_start(now))


def normalize_coin(coin: str) -> str:
    """``'btc'``, ``'BTCUSDT'`` → ``'BTC'``."""
    text = coin.strip().upper()
    for suffix in ("USDT", "USDC", "USD"):
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text


# typed: a float start (``1767225600.0``) must not share an int's slug; errors are not
# cached. Bounded: a day is 96 windows a coin, and every poll asks for the same few.
@functools.lru_cache(maxsize=1024, typed=True)
def window_slug(coin: str, start: int) -> str:
    """``window_slug('BTC', 1767225600) → 'btc-updown-15m-1767225600'``."""
    if start % WINDOW_SECONDS:
        raise SlugError(f"window start {start} is not aligned to 15 minutes")
    return f"{normalize_coin(coin).lower()}-updown-15m-{start}"


def parse_slug(slug: str) -> WindowRef:
    """Inverse of :func:`window_slug`; raises :class:`SlugError` on anything else."""
    match = _SLUG_RE.match(slug.strip())
    if not match:
        raise SlugError(f"not a 15-minute Up/Down slug: {slug!r}")
    start = int(match["start"])
    if start % WINDOW_SECONDS:
        raise SlugError(f"slug start {start} is not aligned to 15 minutes: {slug!r}")
    return WindowRef(match["coin"].upper(), start)
