"""A migrated ledger with windows, orders and fills written through the ledger's own
functions (shared by the portfolio and settlement tests)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import apply_fill_event, insert_order_intent, record_cash
from src.data.market_data.polymarket import MarketInfo
from src.data.migrations import run_migrations
from src.data.windows_store import upsert_window
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillStatus, OrderIntent

M = 1_000_000
DAY_MS = 86_400_000
_ids = itertools.count(1)


def migrated_db(tmp_path: Path, deposit: int = 100 * M) -> Path:
    """A fresh migrated database, configured for this thread, with a starting deposit."""
    path = tmp_path / "bot.db"
    run_migrations(path)
    configure_database(path)
    if deposit:
        with db_connection() as cur:
            record_cash(cur, "deposit", deposit, 0, "starting balance")
    return path


def add_window(coin: str, start_s: int, outcome: str | None = None) -> int:
    """Insert ``coin``'s window starting at ``start_s`` (tokens ``<slug>-up/-down``)."""
    slug = f"{coin.lower()}-updown-15m-{start_s}"
    market = MarketInfo(
        slug=slug,
        coin=coin,
        start=start_s,
        end=start_s + 900,
        condition_id=f"0xcond-{slug}",
        up_token_id=f"{slug}-up",
        down_token_id=f"{slug}-down",
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
        fee_rate=Decimal("0.07"),
        fee_exponent=1,
        neg_risk=False,
        accepting_orders=True,
        closed=False,
        outcome=None,
    )
    with db_connection() as cur:
        window_id = upsert_window(cur, market, start_s * 1000)
        if outcome is not None:
            cur.execute("UPDATE windows SET outcome = ? WHERE id = ?", (outcome, window_id))
    return window_id


def token(coin: str, start_s: int, outcome: str) -> str:
    """The token id ``add_window`` gave ``outcome``."""
    return f"{coin.lower()}-updown-15m-{start_s}-{outcome.lower()}"


def place(
    token_id: str,
    *,
    side: Side = Side.BUY,
    price: int = 500_000,
    size: int = 10 * M,
    window_id: int | None = None,
    outcome: str = "UP",
    intent: str = "entry",
    status: str = "live",
    at_ms: int = 0,
    coin: str = "BTC",
) -> str:
    """Record an order (intent, then ``status``); returns its venue order id."""
    n = next(_ids)
    client_id, venue_id = f"c{n}", f"0xorder{n}"
    with db_connection() as cur:
        insert_order_intent(
            cur,
            OrderIntent(
                client_id,
                token_id,
                coin,
                outcome,
                side,
                intent,
                "GTC",
                price,
                size,
                "sim",
                window_id=window_id,
                venue_order_id=venue_id,
            ),
            at_ms,
        )
        if status != "intent":
            cur.execute(
                "UPDATE orders SET status = ? WHERE client_order_id = ?",
                (status, client_id),
            )
    return venue_id


def fill(
    venue_order_id: str,
    *,
    side: Side = Side.BUY,
    price: int = 500_000,
    size: int = 10 * M,
    at_ms: int = 0,
) -> None:
    """Book one maker fill (no fee) of ``venue_order_id`` at ``at_ms``."""
    event = FillEvent(
        f"trade{next(_ids)}",
        venue_order_id,
        FillStatus.MATCHED,
        side,
        "maker",
        price,
        size,
        0,
        FeeAsset.SHARES if side is Side.BUY else FeeAsset.COLLATERAL,
        at_ms,
    )
    with db_connection() as cur:
        apply_fill_event(cur, event, at_ms)


def trade(
    token_id: str,
    side: Side = Side.BUY,
    price: int = 500_000,
    size: int = 10 * M,
    *,
    window_id: int | None = None,
    outcome: str = "UP",
    at_ms: int = 0,
    intent: str = "entry",
) -> str:
    """An order filled completely at once; returns its venue order id."""
    venue_id = place(
        token_id,
        side=side,
        price=price,
        size=size,
        window_id=window_id,
        outcome=outcome,
        intent=intent,
        at_ms=at_ms,
    )
    fill(venue_id, side=side, price=price, size=size, at_ms=at_ms)
    return venue_id
