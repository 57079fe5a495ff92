"""Fair value in the simulated market: the strategy's rule, with the simulator's settings.

There is one fair-value rule in the project,
:func:`src.trading.signals.fair_value.fair_value`: ``P(end ≥ strike) = F(ln(S/K) / √(σ²τ +
b²))``. The market model reuses it rather than keeping a copy. Its structure matches the
simulated resolution: the reference price is the feed's price times ``exp(β)``, ``β ~ N(0,
basis²)`` drawn afresh at the end, and the strike (the reference at the start) is public —
so given the feed price ``S`` now, the end reference clears ``K`` with that probability,
``F`` the distribution of the standardised move (a unit-variance Student-t by default: the
generated and the real 1-minute returns have fat tails).
"""

from __future__ import annotations

from dataclasses import replace

from src.sim.market_model.params import MarketModelParams
from src.trading.params import StrategyParams
from src.trading.signals.fair_value import FairValue, fair_value

__all__ = ["FairValue", "fair_value", "fair_value_settings"]


def fair_value_settings(params: MarketModelParams) -> StrategyParams:
    """The strategy's fair-value settings that match the simulated market: the model and
    degrees of freedom the makers use, the simulator's basis and settlement averaging, and
    its volatility floor."""
    return replace(
        StrategyParams(),
        fair_value_model=params.fair_value_model,
        student_t_dof=params.student_t_dof,
        basis_bp=params.basis_bp,
        settlement_twap_s=params.settlement_twap_s,
        min_sigma_bp=params.min_sigma_bp,
    )
