"""Settlement and redemption: book the real outcome, then the collateral it pays.

A window's positions are settled only from the market's own resolution (never from a
price guess); PnL is what the fills cost against what the outcome pays. Redemption is a
separate step because it is a separate movement of cash: settled winners are worth 1.00 a
share, but the cash arrives only when the tokens are redeemed.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.data.db_connection import db_connection
from src.data.ledger_store import record_redemption, settle_position
from src.trading.position_manager.portfolio import WindowRow, settled_tokens
from src.trading.state import position_lock
from src.utils.clock import Clock
from src.utils.logger import AuditEvent, audit, log_warning
from src.utils.money import micro_str


@dataclass(frozen=True, slots=True)
class SettledPosition:
    """One position closed by the market's resolution."""

    symbol: str
    outcome: str
    won: bool
    size_micro: int
    payout_micro: int
    pnl_micro: int


def settle_window(window: WindowRow, winner: str, clock: Clock) -> list[SettledPosition]:
    """Record the outcome and settle the window's open positions (idempotent)."""
    now_ms = int(clock.now() * 1000)
    settled: list[SettledPosition] = []
    with position_lock, db_connection() as cur:
        cur.execute(
            "UPDATE windows SET outcome = COALESCE(outcome, ?), "
            "resolved_ms = COALESCE(resolved_ms, ?) WHERE id = ?",
            (winner, now_ms, window.id),
        )
        rows = cur.execute(
            "SELECT token_id, symbol, outcome, size_micro FROM positions "
            "WHERE window_id = ? AND status = 'open' ORDER BY id",
            (window.id,),
        ).fetchall()
        for row in rows:
            settle_position(cur, row["token_id"], winner, now_ms)
            result = cur.execute(
                "SELECT s.won, s.size_micro, s.payout_micro, s.pnl_micro FROM settlements s "
                "JOIN positions p ON p.id = s.position_id WHERE p.token_id = ?",
                (row["token_id"],),
            ).fetchone()
            line = SettledPosition(
                row["symbol"],
                row["outcome"],
                bool(result["won"]),
                int(result["size_micro"]),
                int(result["payout_micro"]),
                int(result["pnl_micro"]),
            )
            settled.append(line)
            audit(
                AuditEvent(
                    "settle",
                    f"{window.slug} resolved {winner}: {line.outcome} "
                    f"{'won 💰' if line.won else 'lost 💀'}, pnl {micro_str(line.pnl_micro)}",
                    symbol=line.symbol,
                    size_micro=line.size_micro,
                    window_id=window.id,
                    data={"payout_micro": line.payout_micro, "pnl_micro": line.pnl_micro},
                ),
                cur,
                at_ms=now_ms,
            )
    return settled


def book_redemption(window: WindowRow, paid_micro: int, clock: Clock, ref: str) -> int:
    """Book a redemption's collateral against the window's settled positions.

    The venue pays 1.00 per winning share; the winners' expected payouts take the
    collateral in order, and a difference is reported (reconciliation will show it).
    Returns how many positions were marked redeemed.
    """
    now_ms = int(clock.now() * 1000)
    with position_lock, db_connection() as cur:
        tokens = settled_tokens(cur, window.id)
        expected = sum(payout for _, _, payout in tokens)
        if expected != paid_micro:
            log_warning(
                f"⚠️ [{window.symbol}] redemption of {window.slug} paid "
                f"{micro_str(paid_micro)}, the ledger expected {micro_str(expected)}"
            )
        left = paid_micro
        amounts = []
        for _token, _size, payout in tokens:
            amounts.append(min(payout, left))
            left -= amounts[-1]
        if amounts and left > 0:
            amounts[0] += left  # cash the ledger did not expect is still cash received
        for (token_id, _size, _payout), amount in zip(tokens, amounts, strict=True):
            record_redemption(cur, token_id, amount, now_ms, ref)
        audit(
            AuditEvent(
                "money",
                f"redeemed {window.slug}: {micro_str(paid_micro)} collateral ({ref})",
                symbol=window.symbol,
                window_id=window.id,
                size_micro=paid_micro,
            ),
            cur,
            at_ms=now_ms,
        )
    return len(tokens)
