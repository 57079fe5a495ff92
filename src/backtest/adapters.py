"""In-process stand-ins for the HTTP adapters, over the emulator's world without its
server: the same ``MarketInfo`` Gamma would describe (built by the same payload code and
parsed by the same parser), the same klines Binance would answer, the same matching
engine — so a backtest and ``run --sim --lockstep`` see the same market."""

from __future__ import annotations

from typing import Any

from src.data.market_data.binance import parse_klines
from src.data.market_data.polymarket import MarketDataError, MarketInfo, parse_gamma_market
from src.sim import binance_api
from src.sim.emulator.context import EmulatorContext, market_snapshot
from src.sim.emulator.gamma import market_body
from src.sim.feeds.base import Kline
from src.utils.clock import Clock


class InProcessGamma:
    """``market_by_slug`` / ``market_by_token`` without HTTP (GammaClient's interface)."""

    def __init__(self, context: EmulatorContext) -> None:
        self._context = context

    def _info(self, market: Any) -> MarketInfo | None:
        if market is None:
            return None
        return parse_gamma_market(
            market_body(market_snapshot(self._context.source, market))
        )

    def market_by_slug(self, slug: str) -> MarketInfo | None:
        """The market of ``slug``, as Gamma would describe it."""
        return self._info(self._context.source.by_slug(slug))

    def market_by_token(self, token_id: str) -> MarketInfo | None:
        """The market holding ``token_id``."""
        return self._info(self._context.source.by_token(token_id))


class InProcessBinanceClient:
    """The three python-binance calls ``BinanceMarketData`` makes, answered from the feed
    by the emulator's own Binance functions (errors become ``MarketDataError``)."""

    def __init__(self, context: EmulatorContext, clock: Clock) -> None:
        self._feed = context.feed
        self._clock = clock
        # the forming minute's extremes, kept between polls (same answers, fewer reads)
        self._paths = binance_api.FormingPaths()
        # per symbol, the last minutes read: (first, read_end, candles). A poll asks from
        # its last closed minute to now: the same span until a minute closes, then one
        # minute more, then (the bot has taken the closed one) a part of that one; and a
        # minute's candle never changes (one slot a symbol: bounded)
        self._minutes: dict[str, tuple[int, int, list[Kline]]] = {}

    def _answer(self, func: Any, params: dict[str, Any], **extra: Any) -> Any:
        query = {k: str(v) for k, v in params.items()}
        try:
            return func(self._feed, self._clock.now(), query, **extra)
        except binance_api.BinanceApiError as exc:
            raise MarketDataError(f"Binance error {exc.code}: {exc.msg}") from None

    def get_klines(self, **params: Any) -> Any:
        """``GET /api/v3/klines``."""
        return self._answer(binance_api.klines, params, paths=self._paths)

    def parsed_klines(self, **params: Any) -> list[Kline]:
        """``parse_klines(get_klines(...))`` without writing the candles as text and
        reading them back: the same rows with numbers (:func:`~src.sim.binance_api.
        kline_values`), through the same parser (``BinanceMarketData`` asks this way).
        The same range rules (:func:`~src.sim.binance_api.kline_span`) pick the bars;
        a span within the last one read reuses its minutes (:meth:`_span_minutes`)."""
        # ints as they are (what their text reads as), anything else as its text
        query = {k: v if type(v) is int else str(v) for k, v in params.items()}
        now = self._clock.now()
        try:
            span = binance_api.kline_span(self._feed, now, query)
        except binance_api.BinanceApiError as exc:
            raise MarketDataError(f"Binance error {exc.code}: {exc.msg}") from None
        if span is None:
            return []
        bars = binance_api.span_bars(
            self._feed, now, span, self._paths, self._span_minutes(span)
        )
        return parse_klines([binance_api.kline_values(b) for b in bars])

    def _span_minutes(self, span: binance_api.KlineSpan) -> list[Kline]:
        """``feed.klines(span.symbol, span.first, span.read_end)``: the candles opening in
        that range, so the kept ones of a range holding it, when there are (the tests
        hold them equal)."""
        first, end = span.first, span.read_end
        kept = self._minutes.get(span.symbol)
        if kept is not None and kept[0] <= first and end <= kept[1]:
            if kept[0] == first and kept[1] == end:
                return kept[2]
            return [k for k in kept[2] if first <= k.open_time_ms < end]
        minutes = self._feed.klines(span.symbol, first, end)
        self._minutes[span.symbol] = (first, end, minutes)
        return minutes

    def get_symbol_ticker(self, **params: Any) -> Any:
        """``GET /api/v3/ticker/price``."""
        return self._answer(binance_api.ticker_price, params)

    def futures_funding_rate(self, **params: Any) -> Any:
        """``GET /fapi/v1/fundingRate``."""
        return self._answer(binance_api.funding_rate, params)
