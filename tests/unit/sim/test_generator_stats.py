"""The generator's per-minute statistics lie in the range of the real files in shared/data.

Each statistic of :class:`~src.sim.feeds.stats.ReturnStats` is computed for every real kline
file and for a generated month of each coin; the generated value must fall inside the range
the real files span, widened by the tolerance below. The tolerances are about the spread of
the statistic between months of one market (fat tails make kurtosis and the Pearson
correlations noisy: a month with a crash doubles them). With the default parameters, 79 of
the 80 coin-months of seeds 0..19 pass every range, so the fixed seed here is not a lucky
pick; the one miss is a lag-1 autocorrelation of 0.062 (SOL, seed 19), a fat-tail sampling
outlier: over the 80, that statistic has mean 0.003 and standard deviation 0.017.

The coins' returns move together as the real files of one period do (LINK, AVAX and LTC in
February 2026: 1-minute return correlations 0.89 to 0.92).

Print the comparison table of docs/SIMULATOR.md, "Price feeds" with
``.venv/bin/python -m tests.unit.sim.test_generator_stats``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from src.sim.feeds.binance_csv import read_klines_csv
from src.sim.feeds.generator import DEFAULT_START_MS, generate_tables
from src.sim.feeds.stats import ReturnStats, return_stats
from src.sim.feeds.table import KlineTable
from tests.conftest import SHARED

SHARED_DATA = SHARED / "data"
SEED = 2026
MONTH_MINUTES = 28 * 1440


@dataclass(frozen=True)
class Tolerance:
    """Widening of the real range: ``[lo * low_factor - pad, hi * high_factor + pad]``."""

    pad: float = 0.0
    low_factor: float = 1.0
    high_factor: float = 1.0

    def bounds(self, lo: float, hi: float) -> tuple[float, float]:
        return lo * self.low_factor - self.pad, hi * self.high_factor + self.pad


TOLERANCES = {
    # Volatility levels differ by coin and period; ±25 % around the real range.
    "std_bp": Tolerance(low_factor=0.8, high_factor=1.25),
    # Sample kurtosis of a fat-tailed month swings by multiples.
    "excess_kurtosis": Tolerance(low_factor=0.5, high_factor=3.0),
    "acf1": Tolerance(pad=0.03),
    "abs_acf1": Tolerance(pad=0.06),
    "abs_acf10": Tolerance(pad=0.06),
    "taker_corr": Tolerance(pad=0.06),
    "taker_lead_corr": Tolerance(pad=0.02),
    "range_ratio": Tolerance(pad=0.15),
    "volume_abs_corr": Tolerance(pad=0.06),
    "log_volume_std": Tolerance(pad=0.15),
    "log_volume_acf1": Tolerance(pad=0.08),
    "trades_volume_corr": Tolerance(pad=0.05),
}
# The mean return of a month is noise (tested for zero drift elsewhere); the count differs.
UNCOMPARED = {"minutes", "mean_bp"}


def real_tables() -> dict[str, KlineTable]:
    """Every kline file in the shared data, by file name (empty if there is none)."""
    if not SHARED_DATA.is_dir():
        return {}
    return {
        path.name.split(".")[0]: read_klines_csv(path)
        for path in sorted(SHARED_DATA.glob("*-1m-*.csv*"))
    }


def real_stats() -> dict[str, ReturnStats]:
    """Statistics of every kline file in the shared data (empty if there is none)."""
    return {name: return_stats(table) for name, table in real_tables().items()}


def generated_tables(seed: int = SEED) -> dict[str, KlineTable]:
    """A generated four-week month of each default coin."""
    return generate_tables(seed, DEFAULT_START_MS, MONTH_MINUTES)


def generated_stats(seed: int = SEED) -> dict[str, ReturnStats]:
    """Statistics of a generated four-week month of each default coin."""
    return {symbol: return_stats(t) for symbol, t in generated_tables(seed).items()}


def pair_correlations(tables: dict[str, KlineTable]) -> dict[tuple[str, str], float]:
    """1-minute return correlation of every pair of tables covering the same minutes."""
    returns = {name: np.diff(np.log(t.close)) for name, t in tables.items()}
    names = sorted(tables)
    return {
        (a, b): float(np.corrcoef(returns[a], returns[b])[0, 1])
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if np.array_equal(tables[a].open_time_ms, tables[b].open_time_ms)
    }


@pytest.fixture(scope="module")
def real_data() -> dict[str, KlineTable]:
    found = real_tables()
    if not found:
        pytest.skip(f"no real kline files in {SHARED_DATA}")
    return found


@pytest.fixture(scope="module")
def real(real_data: dict[str, KlineTable]) -> dict[str, ReturnStats]:
    return {name: return_stats(table) for name, table in real_data.items()}


@pytest.fixture(scope="module")
def generated_data() -> dict[str, KlineTable]:
    return generated_tables()


@pytest.fixture(scope="module")
def generated(generated_data: dict[str, KlineTable]) -> dict[str, ReturnStats]:
    return {symbol: return_stats(table) for symbol, table in generated_data.items()}


def test_every_statistic_has_a_tolerance() -> None:
    names = {f.name for f in dataclasses.fields(ReturnStats)}
    assert names == set(TOLERANCES) | UNCOMPARED


@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_generated_statistic_is_in_the_real_range(
    name: str, real: dict[str, ReturnStats], generated: dict[str, ReturnStats]
) -> None:
    values = [getattr(s, name) for s in real.values()]
    lo, hi = TOLERANCES[name].bounds(min(values), max(values))
    for symbol, stats in generated.items():
        value = getattr(stats, name)
        assert lo <= value <= hi, (
            f"{symbol} {name} = {value:.4f} outside [{lo:.4f}, {hi:.4f}]"
        )


def test_coins_move_together_like_real_coins_of_one_period(
    real_data: dict[str, KlineTable], generated_data: dict[str, KlineTable]
) -> None:
    real_pairs = pair_correlations(real_data)
    if not real_pairs:
        pytest.skip("no two real files cover the same minutes")
    lo, hi = min(real_pairs.values()) - 0.1, max(real_pairs.values()) + 0.05
    generated_pairs = pair_correlations(generated_data)
    assert len(generated_pairs) == 6
    for pair, value in generated_pairs.items():
        assert lo <= value <= hi, (
            f"{pair} correlation {value:.3f} outside [{lo:.3f}, {hi:.3f}]"
        )


def test_the_real_files_show_what_the_generator_claims(
    real: dict[str, ReturnStats],
) -> None:
    # The premises of the model, checked on the real data itself.
    for name, stats in real.items():
        assert stats.excess_kurtosis > 5, name
        assert abs(stats.acf1) < 0.1, name
        assert stats.abs_acf1 > 0.2, name
        assert stats.taker_corr > 0.3, name
        assert abs(stats.taker_lead_corr) < 0.03, name


def markdown_table(real: dict[str, ReturnStats], generated: dict[str, ReturnStats]) -> str:
    """The comparison as a Markdown table: one row per file or generated coin."""
    names = [f.name for f in dataclasses.fields(ReturnStats) if f.name != "minutes"]
    lines = [
        "| series | minutes | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for label, group in (("real", real), ("generated", generated)):
        for series, stats in group.items():
            cells = [f"{getattr(stats, n):.3f}" for n in names]
            lines.append(
                f"| {label} {series} | {stats.minutes} | " + " | ".join(cells) + " |"
            )
    bounds = []
    for n in names:
        if n in TOLERANCES:
            values = [getattr(s, n) for s in real.values()]
            lo, hi = TOLERANCES[n].bounds(min(values), max(values))
            bounds.append(f"{lo:.3f} .. {hi:.3f}")
        else:
            bounds.append("—")
    lines.append("| accepted range | | " + " | ".join(bounds) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table(real_stats(), generated_stats()))
    print("\nreal same-period pairs:", pair_correlations(real_tables()))
    print("generated pairs:", pair_correlations(generated_tables()))
    # How robust the defaults are: pass count over many seeds.
    found = real_stats()
    passed = total = 0
    for seed in range(20):
        for stats in generated_stats(seed).values():
            total += 1
            ok = True
            for name, tolerance in TOLERANCES.items():
                values = np.array([getattr(s, name) for s in found.values()])
                lo, hi = tolerance.bounds(values.min(), values.max())
                ok &= lo <= getattr(stats, name) <= hi
            passed += ok
    print(f"\nseeds 0..19: {passed}/{total} generated coin-months inside every range")
