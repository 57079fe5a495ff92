"""The kline downloader: pure planning (ranges, months, pages, gaps, resume) and the
fetch/save loop against an in-memory Binance, with a manual clock (no sleeping)."""

from __future__ import annotations

import gzip
import itertools
import warnings
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from binance.exceptions import BinanceAPIException

from src.data.download import (
    DAY_MS,
    PAGE_MINUTES,
    DownloadFailedError,
    FetchError,
    FilePlan,
    InvalidSymbolError,
    KlineFetcher,
    RetryPolicy,
    Span,
    download,
    find_gaps,
    month_file_name,
    month_span,
    months_of,
    page_spans,
    plan_download,
    plan_file,
    read_month_file,
    target_span,
    write_month_file,
)
from src.sim.feeds import GapPolicy, KlineFileError, KlineRepairWarning, read_klines_csv
from src.sim.feeds.base import MINUTE_MS, Kline
from src.sim.feeds.binance_csv import write_klines_csv
from src.sim.feeds.generator import generate_tables
from src.sim.feeds.table import KlineTable
from src.utils.clock import SimClock

M = MINUTE_MS
JAN_30 = 1_769_731_200_000  # 2026-01-30 00:00 UTC
FEB_1 = 1_769_904_000_000  # 2026-02-01 00:00 UTC


def klines(
    start_ms: int, minutes: int, symbol: str = "BTCUSDT", seed: int = 3
) -> list[Kline]:
    return generate_tables(seed, start_ms, minutes, symbols=[symbol])[symbol].to_klines()


def binance_row(k: Kline) -> list[Any]:
    """A kline as Binance sends it: numbers as strings, the trade count as an int."""
    return [
        k.open_time_ms,
        repr(k.open),
        repr(k.high),
        repr(k.low),
        repr(k.close),
        repr(k.volume),
        k.close_time_ms,
        repr(k.quote_volume),
        k.trades,
        repr(k.taker_buy_volume),
        repr(k.taker_buy_quote_volume),
        "0",
    ]


def api_error(status: int, body: str, headers: dict[str, str] | None = None) -> Exception:
    response = SimpleNamespace(headers=headers or {}, text=body, request=None)
    return BinanceAPIException(response, status, body)


class FakeBinance:
    """``get_klines`` over in-memory candles; can lack minutes and fail on cue."""

    def __init__(self, data: dict[str, Iterable[Kline]]) -> None:
        self.data = {s: {k.open_time_ms: k for k in ks} for s, ks in data.items()}
        self.calls: list[dict[str, Any]] = []
        self.fail_from: int | None = None  # every page request from this one on fails
        self.errors: list[Exception] = []  # raised (in order) before answering

    @property
    def pages(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if "startTime" in c]

    def get_klines(self, **params: Any) -> Any:
        self.calls.append(params)
        if self.errors:
            raise self.errors.pop(0)
        if params["symbol"] not in self.data:
            raise api_error(400, '{"code": -1121, "msg": "Invalid symbol."}')
        failing = self.fail_from is not None and len(self.pages) > self.fail_from
        if "startTime" in params and failing:
            raise requests.ConnectionError("network is down")
        rows = sorted(self.data[params["symbol"]].values(), key=lambda k: k.open_time_ms)
        start, end = params.get("startTime"), params.get("endTime")
        if start is None:
            return [binance_row(k) for k in rows[-params["limit"] :]]
        chosen = [k for k in rows if start <= k.open_time_ms <= end][: params["limit"]]
        return [binance_row(k) for k in chosen]


def fetcher(client: FakeBinance, clock: SimClock | None = None) -> KlineFetcher:
    return KlineFetcher(client, clock or SimClock(start=0.0))


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- the range asked for ------------------------------------------------------------


def test_target_ends_at_the_last_closed_minute() -> None:
    now = (FEB_1 + 5 * M + 30_500) / 1000  # 00:05:30.5: the 00:05 candle is forming
    span = target_span(now, 2)
    assert span == Span(FEB_1 + 5 * M - 2 * DAY_MS, FEB_1 + 5 * M)
    assert span.minutes == 2 * 1440


def test_until_includes_that_whole_utc_day_and_never_the_future() -> None:
    now = (FEB_1 + 3 * DAY_MS + 7 * M) / 1000
    assert target_span(now, 2, until=date(2026, 1, 31)) == Span(FEB_1 - 2 * DAY_MS, FEB_1)
    assert target_span(now, 1, until=date(2026, 12, 31)) == target_span(now, 1)


@pytest.mark.parametrize("days", [0, -1, 10_000])
def test_days_out_of_range_are_refused(days: int) -> None:
    with pytest.raises(ValueError, match="days"):
        target_span(FEB_1 / 1000, days)


def test_months_split_the_target_at_month_and_year_boundaries() -> None:
    span = Span(FEB_1 - DAY_MS, FEB_1 + DAY_MS)
    assert months_of(span) == [
        (2026, 1, Span(FEB_1 - DAY_MS, FEB_1)),
        (2026, 2, Span(FEB_1, FEB_1 + DAY_MS)),
    ]
    new_year = month_span(2026, 1).start_ms
    dec = months_of(Span(new_year - M, new_year + M))
    assert [(y, m, s.minutes) for y, m, s in dec] == [(2025, 12, 1), (2026, 1, 1)]
    assert month_span(2026, 2).minutes == 28 * 1440
    assert month_file_name("BTCUSDT", 2026, 2) == "BTCUSDT-1m-2026-02.csv.gz"


def test_spans_are_whole_minutes() -> None:
    with pytest.raises(ValueError):
        Span(1, M)
    with pytest.raises(ValueError):
        Span(2 * M, M)


# --- pages and gaps --------------------------------------------------------------------


def test_pages_cover_the_span_without_overlap_forwards_and_backwards() -> None:
    span = Span(JAN_30, JAN_30 + 2500 * M)
    forward = page_spans(span)
    assert [p.minutes for p in forward] == [PAGE_MINUTES, PAGE_MINUTES, 500]
    assert forward[0].start_ms == span.start_ms and forward[-1].end_ms == span.end_ms
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(forward))
    backward = page_spans(span, backward=True)
    assert [p.minutes for p in backward] == [PAGE_MINUTES, PAGE_MINUTES, 500]
    assert backward[0].end_ms == span.end_ms and backward[-1].start_ms == span.start_ms
    assert all(a.start_ms == b.end_ms for a, b in itertools.pairwise(backward))
    assert sum(p.minutes for p in backward) == span.minutes
    assert page_spans(Span(JAN_30, JAN_30)) == []


def test_gaps_are_the_runs_of_minutes_without_a_candle() -> None:
    span = Span(JAN_30, JAN_30 + 10 * M)
    times = [JAN_30 + i * M for i in (2, 3, 6, 7)]
    assert find_gaps(times, span) == [
        Span(JAN_30, JAN_30 + 2 * M),
        Span(JAN_30 + 4 * M, JAN_30 + 6 * M),
        Span(JAN_30 + 8 * M, JAN_30 + 10 * M),
    ]
    every = [JAN_30 + i * M for i in range(-3, 13)]  # rows outside the span do not count
    assert find_gaps(every, span) == []
    assert find_gaps([], span) == [span]


# --- planning against what a file holds -----------------------------------------------


def plan_with(target: Span, first: int | None = None, last: int | None = None) -> FilePlan:
    """A plan for a file holding the minutes ``first`` to ``last`` (none if not given)."""
    rows = [] if first is None or last is None else klines(first, (last - first) // M + 1)
    return plan_file("BTCUSDT", Path("x.csv.gz"), target, rows)


def test_a_new_file_fetches_the_whole_target_forwards() -> None:
    target = Span(JAN_30, JAN_30 + 100 * M)
    plan = plan_with(target)
    assert (plan.before, plan.after, plan.missing_minutes) == (None, target, 100)


def test_a_partial_file_is_completed_after_its_last_candle() -> None:
    target = Span(JAN_30, JAN_30 + 100 * M)
    plan = plan_with(target, JAN_30, JAN_30 + 39 * M)
    assert plan.present == Span(JAN_30, JAN_30 + 40 * M)
    assert (plan.before, plan.after) == (None, Span(JAN_30 + 40 * M, target.end_ms))
    assert plan.missing_minutes == 60


def test_a_longer_target_is_fetched_before_the_first_candle() -> None:
    target = Span(JAN_30, JAN_30 + 100 * M)
    plan = plan_with(target, JAN_30 + 50 * M, JAN_30 + 99 * M)
    assert (plan.before, plan.after) == (Span(JAN_30, JAN_30 + 50 * M), None)


def test_a_target_apart_from_the_file_is_joined_to_it() -> None:
    """The minutes between are fetched too, so the file stays one fetched span."""
    later = plan_with(Span(JAN_30 + 80 * M, JAN_30 + 90 * M), JAN_30, JAN_30 + 9 * M)
    assert later.after == Span(JAN_30 + 10 * M, JAN_30 + 90 * M)
    earlier = plan_with(Span(JAN_30, JAN_30 + 5 * M), JAN_30 + 50 * M, JAN_30 + 59 * M)
    assert earlier.before == Span(JAN_30, JAN_30 + 50 * M)


def test_a_covered_target_needs_nothing_even_with_gaps_inside() -> None:
    rows = klines(JAN_30, 100)
    holey = rows[:10] + rows[15:]
    plan = plan_file("BTCUSDT", Path("x"), Span(JAN_30, JAN_30 + 100 * M), holey)
    assert plan.missing_minutes == 0


def test_planning_reads_the_files_in_the_folder(tmp_path: Path) -> None:
    jan = klines(FEB_1 - 60 * M, 30)
    write_month_file(tmp_path / "BTCUSDT-1m-2026-01.csv.gz", jan)
    (tmp_path / "BTCUSDT-1m-2026-02.csv.gz.tmp").write_bytes(b"left by a kill")
    target = Span(FEB_1 - 60 * M, FEB_1 + 60 * M)
    plans = plan_download(["BTCUSDT", "ETHUSDT"], tmp_path, target)
    assert [(p.symbol, p.path.name, p.missing_minutes) for p in plans] == [
        ("BTCUSDT", "BTCUSDT-1m-2026-01.csv.gz", 30),
        ("BTCUSDT", "BTCUSDT-1m-2026-02.csv.gz", 60),
        ("ETHUSDT", "ETHUSDT-1m-2026-01.csv.gz", 60),
        ("ETHUSDT", "ETHUSDT-1m-2026-02.csv.gz", 60),
    ]
    assert plans[0].rows == tuple(jan)


def test_a_damaged_file_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2026-01.csv.gz"
    write_month_file(path, klines(JAN_30, 5))
    text = gzip.decompress(path.read_bytes()).decode().splitlines()
    text[3] = text[3].replace(",", ",x", 1)
    path.write_bytes(gzip.compress("\n".join(text).encode()))
    with pytest.raises(KlineFileError) as caught:
        plan_download(["BTCUSDT"], tmp_path, Span(JAN_30, JAN_30 + 10 * M))
    assert caught.value.path == str(path) and caught.value.line == 4


def test_a_file_with_another_months_candles_is_refused(tmp_path: Path) -> None:
    write_month_file(tmp_path / "BTCUSDT-1m-2026-02.csv.gz", klines(JAN_30, 5))
    with pytest.raises(KlineFileError, match="outside 2026-02"):
        plan_download(["BTCUSDT"], tmp_path, Span(FEB_1, FEB_1 + 10 * M))


# --- files ---------------------------------------------------------------------------


def test_a_file_without_gaps_is_byte_for_byte_the_backtest_writers(tmp_path: Path) -> None:
    rows = klines(JAN_30, 300)
    write_month_file(tmp_path / "a.csv.gz", rows)
    write_klines_csv(tmp_path / "b.csv.gz", KlineTable.from_klines(rows))
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def test_a_file_with_gaps_keeps_them_and_reads_back(tmp_path: Path) -> None:
    rows = klines(JAN_30, 50)
    holey = rows[:10] + rows[20:]
    path = tmp_path / "BTCUSDT-1m-2026-01.csv.gz"
    write_month_file(path, holey)
    assert read_month_file(path) == holey
    with pytest.raises(KlineFileError, match="gap"):
        read_klines_csv(path)
    with pytest.warns(KlineRepairWarning, match="filled 10"):
        assert len(read_klines_csv(path, gaps=GapPolicy.FILL)) == 50
    assert gzip.decompress(path.read_bytes()).decode().count("open_time") == 1


# --- downloading ---------------------------------------------------------------------


def test_downloads_across_a_month_boundary_in_pages(tmp_path: Path) -> None:
    target = Span(FEB_1 - 1500 * M, FEB_1 + 700 * M)
    source = klines(target.start_ms - DAY_MS, 3 * 1440)
    client = FakeBinance({"BTCUSDT": source})
    progress: list[tuple[str, int]] = []
    report = download(
        fetcher(client),
        plan_download(["BTCUSDT"], tmp_path, target),
        on_progress=lambda s, n: progress.append((s, n)),
    )
    assert [c["limit"] for c in client.pages] == [PAGE_MINUTES] * 3
    assert len(client.pages) == 3 and all(c["interval"] == "1m" for c in client.calls)
    assert sum(n for _, n in progress) == target.minutes
    jan = read_klines_csv(tmp_path / "BTCUSDT-1m-2026-01.csv.gz")
    feb = read_klines_csv(tmp_path / "BTCUSDT-1m-2026-02.csv.gz")
    wanted = [k for k in source if target.start_ms <= k.open_time_ms < target.end_ms]
    assert jan.to_klines() + feb.to_klines() == wanted
    assert [(f.rows, f.fetched, f.present, f.gaps) for f in report.files] == [
        (1500, 1500, 0, ()),
        (700, 700, 0, ()),
    ]
    again = plan_download(["BTCUSDT"], tmp_path, target)
    assert sum(p.missing_minutes for p in again) == 0


def test_an_interrupted_download_resumes_to_the_same_files(tmp_path: Path) -> None:
    target = Span(FEB_1 - 2500 * M, FEB_1 + 1200 * M)
    source = klines(target.start_ms, target.minutes)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    download(
        fetcher(FakeBinance({"BTCUSDT": source})),
        plan_download(["BTCUSDT"], whole, target),
        checkpoint_pages=2,
    )
    client = FakeBinance({"BTCUSDT": source})
    client.fail_from = 2  # the 3rd page (of January's 3) never comes
    with pytest.raises(DownloadFailedError) as caught:
        download(
            fetcher(client), plan_download(["BTCUSDT"], cut, target), checkpoint_pages=2
        )
    saved = caught.value.report
    assert isinstance(caught.value.cause, FetchError)
    assert "ConnectionError" in caught.value.cause.reason
    assert [(f.path.name, f.rows, f.written) for f in saved.files] == [
        ("BTCUSDT-1m-2026-01.csv.gz", 2000, True),  # checkpointed after 2 pages
        ("BTCUSDT-1m-2026-02.csv.gz", 0, False),
    ]
    read_klines_csv(cut / "BTCUSDT-1m-2026-01.csv.gz")  # a valid file
    resumed = FakeBinance({"BTCUSDT": source})
    plans = plan_download(["BTCUSDT"], cut, target)
    assert sum(p.missing_minutes for p in plans) == target.minutes - 2000
    report = download(fetcher(resumed), plans, checkpoint_pages=2)
    assert resumed.pages[0]["startTime"] == target.start_ms + 2000 * M
    assert [(f.present, f.fetched) for f in report.files] == [(2000, 500), (0, 1200)]
    assert file_bytes(cut) == file_bytes(whole)


def test_extending_backwards_stays_contiguous_when_interrupted(tmp_path: Path) -> None:
    """A longer --days fetches before the first candle, page by page backwards, so every
    save is one contiguous span and a resume asks only for what is still missing."""
    source = klines(JAN_30 - DAY_MS, 3 * 1440)
    short = Span(FEB_1 - 600 * M, FEB_1)
    download(
        fetcher(FakeBinance({"BTCUSDT": source})),
        plan_download(["BTCUSDT"], tmp_path, short),
    )
    longer = Span(FEB_1 - 2600 * M, FEB_1)
    client = FakeBinance({"BTCUSDT": source})
    client.fail_from = 1
    with pytest.raises(DownloadFailedError):
        download(
            fetcher(client),
            plan_download(["BTCUSDT"], tmp_path, longer),
            checkpoint_pages=1,
        )
    assert client.pages[0]["endTime"] == FEB_1 - 600 * M - 1
    path = tmp_path / "BTCUSDT-1m-2026-01.csv.gz"
    assert read_klines_csv(path).first_open_ms == FEB_1 - 1600 * M  # contiguous, no gap
    plans = plan_download(["BTCUSDT"], tmp_path, longer)
    assert plans[0].before == Span(longer.start_ms, FEB_1 - 1600 * M)
    download(fetcher(FakeBinance({"BTCUSDT": source})), plans)
    wanted = [k for k in source if longer.start_ms <= k.open_time_ms < longer.end_ms]
    assert read_klines_csv(path).to_klines() == wanted


def test_missing_minutes_are_reported_not_invented(tmp_path: Path) -> None:
    target = Span(FEB_1, FEB_1 + 1500 * M)
    source = klines(FEB_1, 1500)
    lacking = source[:100] + source[130:1490]  # an outage, and the last 10 minutes
    client = FakeBinance({"BTCUSDT": lacking})
    report = download(fetcher(client), plan_download(["BTCUSDT"], tmp_path, target))
    (only,) = report.files
    assert only.gaps == (
        Span(FEB_1 + 100 * M, FEB_1 + 130 * M),
        Span(FEB_1 + 1490 * M, FEB_1 + 1500 * M),
    )
    assert (only.rows, only.gap_minutes) == (1460, 40)
    assert read_month_file(only.path) == lacking
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KlineRepairWarning)
        assert len(read_klines_csv(only.path, gaps=GapPolicy.FILL)) == 1490
    # The outage inside is known; only the edge is asked again (and still lacks).
    plans = plan_download(["BTCUSDT"], tmp_path, target)
    assert plans[0].after == Span(FEB_1 + 1490 * M, target.end_ms)
    again = download(fetcher(FakeBinance({"BTCUSDT": lacking})), plans)
    assert again.files[0].fetched == 0 and again.files[0].gap_minutes == 40


def test_an_unknown_symbol_stops_before_any_file_is_written(tmp_path: Path) -> None:
    client = FakeBinance({"BTCUSDT": klines(FEB_1, 100)})
    plans = plan_download(["BTCUSDT", "NOPEUSDT"], tmp_path, Span(FEB_1, FEB_1 + 100 * M))
    with pytest.raises(InvalidSymbolError) as caught:
        download(fetcher(client), plans)
    assert caught.value.symbol == "NOPEUSDT" and "NOPEUSDT" in str(caught.value)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    assert len(client.calls) == 2  # one check per symbol, no retry of a 400


def test_nothing_missing_means_no_request(tmp_path: Path) -> None:
    target = Span(FEB_1, FEB_1 + 100 * M)
    download(
        fetcher(FakeBinance({"BTCUSDT": klines(FEB_1, 100)})),
        plan_download(["BTCUSDT"], tmp_path, target),
    )
    client = FakeBinance({})
    report = download(fetcher(client), plan_download(["BTCUSDT"], tmp_path, target))
    assert client.calls == [] and report.fetched == 0 and report.files[0].present == 100


# --- fetching: validation and retries --------------------------------------------------


def test_a_page_keeps_only_valid_rows_inside_it() -> None:
    rows = klines(FEB_1, 5)
    client = FakeBinance({"BTCUSDT": rows})
    page = Span(FEB_1 + M, FEB_1 + 4 * M)
    payload = [binance_row(k) for k in rows]
    payload[2][2] = "-1"  # high below low: dropped
    payload.append(binance_row(rows[3]))  # a repeat: once
    client.get_klines = lambda **_: payload  # type: ignore[method-assign]
    got = fetcher(client).page("BTCUSDT", page)
    assert got == [rows[1], rows[3]]  # rows 0 and 4 lie outside the page


def test_transient_errors_are_retried_with_backoff_on_the_clock() -> None:
    client = FakeBinance({"BTCUSDT": klines(FEB_1, 10)})
    client.errors = [
        api_error(502, "bad gateway"),
        requests.ConnectionError("reset"),
        api_error(429, '{"code": -1003, "msg": "Too many requests"}', {"Retry-After": "7"}),
    ]
    clock = SimClock(start=1000.0)
    got = fetcher(client, clock).page("BTCUSDT", Span(FEB_1, FEB_1 + 10 * M))
    assert len(got) == 10 and len(client.calls) == 4
    assert clock.now() == pytest.approx(1000.0 + 0.5 + 1.0 + 7.0)  # backoff, Retry-After


def test_retries_give_up_with_a_fetch_error() -> None:
    client = FakeBinance({"BTCUSDT": []})
    client.errors = [api_error(500, "oops") for _ in range(10)]
    clock = SimClock(start=0.0)
    policy = RetryPolicy(attempts=3, base_wait_s=1.0)
    with pytest.raises(FetchError, match=r"HTTP 500.*after 3 attempts"):
        KlineFetcher(client, clock, policy).page("BTCUSDT", Span(FEB_1, FEB_1 + M))
    assert len(client.calls) == 3 and clock.now() == pytest.approx(3.0)


def test_a_long_ban_is_not_waited_out() -> None:
    client = FakeBinance({"BTCUSDT": []})
    client.errors = [
        api_error(418, '{"code": -1003, "msg": "banned"}', {"Retry-After": "3600"})
    ]
    clock = SimClock(start=0.0)
    with pytest.raises(FetchError, match="wait 3600s"):
        fetcher(client, clock).page("BTCUSDT", Span(FEB_1, FEB_1 + M))
    assert len(client.calls) == 1 and clock.now() == 0.0


def test_a_refused_request_is_not_retried() -> None:
    client = FakeBinance({"BTCUSDT": []})
    client.errors = [api_error(400, '{"code": -1100, "msg": "Illegal characters"}')]
    with pytest.raises(FetchError, match="HTTP 400") as caught:
        fetcher(client).page("BTCUSDT", Span(FEB_1, FEB_1 + M))
    assert "attempts" not in str(caught.value) and len(client.calls) == 1
