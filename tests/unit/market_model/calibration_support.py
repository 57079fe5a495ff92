"""Recordings made by the simulator itself, for the calibration's tests: the makers' quote
path of :func:`src.sim.market_model.view.build_quote_path` over a generated feed, observed
once a second (a few seconds dropped, as a real logger drops them)."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from src.data.quotes import COLUMNS, QuoteRow, RecordedWindow, format_row
from src.sim.feeds import GeneratedFeed, KlineTable, write_klines_csv
from src.sim.market_model import MarketModelParams, fair_value_settings
from src.sim.market_model.pricing import MICRO, NO_ASK, NO_BID
from src.sim.market_model.view import WindowInputs, ar1_path, build_quote_path
from src.sim.market_model.volatility import SigmaByMinute

START = 1_767_225_600  # 2026-01-01 00:00 UTC, a window start
SYMBOL = "BTCUSDT"
LEAD_S = 2 * 3600  # klines before the first window (volatility history)


@dataclass(frozen=True)
class SimulatedRecording:
    """Recorded windows and the klines they were made from."""

    windows: list[RecordedWindow]
    klines: KlineTable
    feed: GeneratedFeed


def simulated_recording(
    params: MarketModelParams, windows: int, seed: int, *, drop: float = 0.05
) -> SimulatedRecording:
    """``windows`` consecutive BTC windows from START quoted by makers with ``params``."""
    minutes = (LEAD_S + 900 * windows) // 60 + 2
    feed = GeneratedFeed(seed=seed, start_ms=(START - LEAD_S) * 1000, minutes=minutes)
    first = feed.time_range()[0] / 1000
    settings = fair_value_settings(params)
    rng = random.Random(seed)
    dropped = np.random.default_rng(seed)
    recorded = []
    for i in range(windows):
        start = START + 900 * i
        strike = feed.price_at(SYMBOL, start)
        sigma = SigmaByMinute(
            feed,
            SYMBOL,
            start - params.maker_lag_s,
            start + 900,
            params.vol_lookback_min,
            params.default_sigma_bp * 1e-4,
        )
        noise = ar1_path(rng, 900, params.noise_sd_logit, params.noise_persistence)
        path = build_quote_path(
            feed,
            WindowInputs(SYMBOL, start, start + 900, strike),
            sigma,
            params,
            settings,
            noise,
            first,
        )
        outcome = "UP" if feed.price_at(SYMBOL, start + 899.999) >= strike else "DOWN"
        slug = f"btc-updown-15m-{start}"
        rows = []
        for k, quote in enumerate(path.quotes):
            if dropped.random() < drop:
                continue
            bid = None if quote.bid == NO_BID else Decimal(quote.bid) / MICRO
            ask = None if quote.ask == NO_ASK else Decimal(quote.ask) / MICRO
            rows.append(
                QuoteRow(
                    slug,
                    start,
                    float(start + k),
                    bid,
                    ask,
                    None if ask is None else 1 - ask,
                    None if bid is None else 1 - bid,
                    outcome,
                )
            )
        recorded.append(RecordedWindow(slug, "BTC", start, outcome, tuple(rows)))
    first_ms, end_ms = feed.time_range()
    return SimulatedRecording(recorded, feed.table(SYMBOL, first_ms, end_ms), feed)


def write_recording(recording: SimulatedRecording, folder: Path) -> tuple[Path, Path]:
    """The recording's quotes and klines as files in ``folder``: (quotes, klines)."""
    quotes = folder / "btc-quotes.csv"
    with quotes.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for window in recording.windows:
            for row in window.rows:
                writer.writerow(format_row(row))
    klines = folder / "BTCUSDT-1m-sim.csv.gz"
    decimals = recording.feed.params.coin(SYMBOL).csv_decimals()
    write_klines_csv(klines, recording.klines, decimals=decimals)
    return quotes, klines
