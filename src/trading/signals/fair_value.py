"""Fair value of the Up token: P(settlement price ≥ strike) from the underlying.

    d   = ln(S / K)                                  log-distance of spot from the strike
    v   = σ² · τ_eff + b²                             variance of the log end price
    P↑  = F(d / √v)                                  F = Φ, or a unit-variance Student-t

σ is the 1-minute log-return volatility, τ_eff the effective minutes left (shortened when the
settlement price is a trailing TWAP: averaging the last W seconds removes two thirds of their
variance), and b the standard deviation of the basis between Binance — where S and K come
from — and the Chainlink reference the market settles on. The basis term is what pulls the
probability to ½ within about a basis point of the strike near the end: there, Binance cannot
tell the outcome (``../shared/data/README.md``: every Binance/Chainlink disagreement in 265
windows was a move under 1 bp). When S and K are both Chainlink's own (the live reference,
``docs/STRATEGY.md`` §4), b is only that reference's noise (``chainlink_basis_bp``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from src.trading.params import StrategyParams
from src.trading.signals.frozen import quick_init
from src.trading.signals.mathx import norm_cdf, student_t_cdf_pair

_BP = 1e-4


@quick_init
@dataclass(frozen=True, slots=True)
class FairValue:
    """The model probability of Up and every quantity it was computed from."""

    p_up: float
    p_down: float
    log_moneyness: float
    sigma_1m: float
    tau_eff_minutes: float
    basis_sd: float
    total_sd: float
    z: float
    model: str


def effective_minutes(time_left_s: float, twap_s: float) -> float:
    """Minutes of diffusion variance left when settlement averages the last ``twap_s``.

    For a Brownian log-price, the average over the last W seconds has variance σ²·W/3 seen
    from before the window, and σ²·τ³/(3W²) from inside it (τ < W left), continuous at τ = W.
    """
    tau = max(0.0, time_left_s)
    if twap_s <= 0:
        return tau / 60.0
    if tau >= twap_s:
        return (tau - 2.0 * twap_s / 3.0) / 60.0
    return tau**3 / (3.0 * twap_s**2) / 60.0


def fair_value(
    spot: float,
    strike: float,
    sigma_1m: float,
    time_left_s: float,
    params: StrategyParams,
    basis_bp: float | None = None,
) -> FairValue:
    """P(end ≥ strike) for positive finite ``spot`` and ``strike`` (ties resolve Up).

    ``basis_bp`` replaces ``params.basis_bp`` — the smaller noise left when spot and
    strike are both read from the settlement's own reference (Chainlink).
    """
    if not (math.isfinite(spot) and math.isfinite(strike) and spot > 0 and strike > 0):
        raise ValueError(
            f"spot and strike must be positive and finite: {spot!r}, {strike!r}"
        )
    floor = params.min_sigma_bp * _BP
    sigma = sigma_1m if math.isfinite(sigma_1m) and sigma_1m > floor else floor
    tau_eff = effective_minutes(time_left_s, params.settlement_twap_s)
    basis = (params.basis_bp if basis_bp is None else basis_bp) * _BP
    total = math.sqrt(sigma * sigma * tau_eff + basis * basis)
    d = math.log(spot) - math.log(strike)
    if total <= 0.0:
        # No time and no basis noise: the outcome is known (a tie goes Up).
        up = 1.0 if d >= 0 else 0.0
        return FairValue(
            up,
            1.0 - up,
            d,
            sigma,
            tau_eff,
            basis,
            0.0,
            math.copysign(math.inf, d) if d else 0.0,
            params.fair_value_model,
        )
    z = d / total
    if params.fair_value_model == "student_t":
        dof = params.student_t_dof
        # Rescale so the t has unit variance: σ measures the standard deviation, not the scale.
        k = math.sqrt(dof / (dof - 2.0))
        p_up, p_down = student_t_cdf_pair(z * k, dof)  # = cdf(z·k), cdf(−z·k)
    else:
        p_up, p_down = norm_cdf(z), norm_cdf(-z)
    return FairValue(
        p_up, p_down, d, sigma, tau_eff, basis, total, z, params.fair_value_model
    )
