"""The adapters of ``polyflup run --paper``: live market data, fills simulated in memory.

Books come from the configured CLOB without credentials, markets from Gamma, klines from
Binance — as in live — but orders go to a :class:`PaperVenue`, never to the venue. No key
is needed and none is used: the settings handed to the engine carry none.

* **Fills.** Taker fills come back in each order's reply; a resting order fills later,
  when a book read shows the market crossing it. Those maker fills reach the ledger through
  a watchdog that resyncs ``fills(since)`` every few Clock seconds: the order sync does not
  book fills, and there is no user channel to push them.
* **The paper account is the ledger.** The simulated venue lives in memory, so a run on a
  ledger that already holds cash starts from that cash and those positions (resting paper
  orders do not survive a restart: reconciliation marks them expired). An empty ledger
  starts from ``SIM_STARTING_BALANCE``. Otherwise a second run would hold tokens its venue
  does not, and every exit would be refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from src.bot.wiring import Adapters
from src.config.modes import Mode
from src.config.settings import Settings
from src.data.db_connection import DatabaseNotConfiguredError, db_connection
from src.data.market_data.binance import BinanceMarketData, make_client
from src.data.market_data.polymarket import GammaClient
from src.trading.position_manager.reconcile_runner import load_local_state
from src.trading.venue.paper import PAPER_ACCOUNT, PaperVenue, PublicBookReader
from src.trading.venue.streams import Watchdog, WatchdogConfig
from src.utils.clock import AnchoredClock, Clock, SystemClock
from src.utils.logger import log
from src.utils.money import micro_str, to_micro

PAPER_RESYNC_S = 5.0
"""Clock seconds between two bookings of resting orders' fills (one book read each)."""


@dataclass(frozen=True, slots=True)
class PaperAccount:
    """What the paper venue starts with (micro-units)."""

    collateral_micro: int
    holdings: dict[str, int] = field(default_factory=dict)
    resumed: bool = False


def paper_account(settings: Settings) -> PaperAccount:
    """The ledger's cash and positions when it has any, else the configured balance."""
    fresh = PaperAccount(to_micro(settings.sim_starting_balance))
    try:
        with db_connection(readonly=True) as cur:
            if cur.execute("SELECT COUNT(*) FROM cash_ledger").fetchone()[0] == 0:
                return fresh
            local = load_local_state(cur)
    except DatabaseNotConfiguredError:
        return fresh
    holdings = {token: size for token, size in local.positions.items() if size > 0}
    return PaperAccount(local.cash_micro or 0, holdings, resumed=True)


def connect_paper(settings: Settings, speed: float | None) -> Adapters:
    """The paper adapters: the system clock, or the CLOB's ``/time`` run at ``speed``."""
    reader = PublicBookReader(settings.polymarket_clob_url, settings.chain_id)
    clock: Clock = SystemClock()
    if speed is not None:
        clock = AnchoredClock(reader.server_time, speed)
        log(f"⏱️ clock anchored to the venue's /time, ×{speed:g}")
    gamma = GammaClient(settings.polymarket_gamma_url)
    binance = BinanceMarketData(
        make_client(settings.binance_api_url, settings.binance_futures_url), clock
    )
    account = paper_account(settings)
    venue = PaperVenue(
        reader,
        clock,
        account.collateral_micro,
        gamma=gamma,
        address=PAPER_ACCOUNT,
        holdings=account.holdings,
    )
    watchdog = Watchdog(venue, clock, config=WatchdogConfig(stale_after_s=PAPER_RESYNC_S))
    # Nothing downstream may sign with a configured key by mistake.
    paper_settings = dataclasses.replace(
        settings, private_key="", api_key="", api_secret="", api_passphrase=""
    )
    start = (
        f"resumed from the ledger ({micro_str(account.collateral_micro)} cash, "
        f"{len(account.holdings)} token position(s))"
        if account.resumed
        else f"{micro_str(account.collateral_micro)} starting cash"
    )
    log(
        f"📄 paper trading: books from {settings.polymarket_clob_url}, fills simulated in "
        f"memory, {start} — no order leaves this process"
    )
    return Adapters(
        mode=Mode.PAPER,
        settings=paper_settings,
        clock=clock,
        venue=venue,
        gamma=gamma,
        binance=binance,
        speed=speed,
        streams=[watchdog],
        watchdog=watchdog,
    )
