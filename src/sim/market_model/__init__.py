"""The simulated market: makers quoting the Up/Down books around their view of fair value,
takers trading through them, and the driver that runs markets through their life.

Public surface::

    from src.sim.market_model import SimExchange, MarketModelParams

See ``docs/SIMULATOR.md`` ("Market model") for the model, its parameters and why they are
what they are.
"""

from src.sim.market_model.exchange import (
    DEFAULT_MAKER_ADDRESS,
    DEFAULT_TAKER_ADDRESS,
    SimExchange,
)
from src.sim.market_model.fair import fair_value_settings
from src.sim.market_model.maker import MakerBook, MakerStats
from src.sim.market_model.params import MarketModelParams, MarketModelParamsError
from src.sim.market_model.state import MarketBooks, MarketState, ModelStats
from src.sim.market_model.view import Quote, QuotePath

__all__ = [
    "DEFAULT_MAKER_ADDRESS",
    "DEFAULT_TAKER_ADDRESS",
    "MakerBook",
    "MakerStats",
    "MarketBooks",
    "MarketModelParams",
    "MarketModelParamsError",
    "MarketState",
    "ModelStats",
    "Quote",
    "QuotePath",
    "SimExchange",
    "fair_value_settings",
]
