"""``polyflup redeem``: collect the collateral of resolved markets.

Against the emulator (a loopback ``POLYMARKET_CLOB_URL``) it uses the emulator's admin
redemption through ``ClobVenue.redeem``. Against the real venue it sends
``redeemPositions`` to Polygon itself (:mod:`src.trading.redemption`) — only possible for an
EOA key (signature type 0): proxy and Safe wallets redeem through Polymarket's relayer,
which is not implemented. The on-chain path with ``--condition`` needs neither the CLOB nor
the Data API, only ``POLYGON_RPC_URL``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import requests
from eth_account import Account
from rich.table import Table

from src.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    build_settings,
    console,
    db_option,
    emit_json,
    err_console,
    handle_errors,
    setup_logging,
)
from src.cli.venue_cmd import venue_from_settings
from src.config.settings import Settings
from src.data.db_connection import configure_database, db_connection
from src.data.migrations import code_version, current_version
from src.trading.position_manager.portfolio import window_by_condition
from src.trading.position_manager.settlement import book_redemption
from src.trading.redemption import (
    MARKET_VERSIONS,
    POLYGON_CHAIN_ID,
    PolygonRpc,
    RedeemablePosition,
    RedeemError,
    RedeemStatus,
    RedeemTarget,
    condition_bytes,
    parse_redeemable,
    redeem_on_chain,
)
from src.trading.venue.clob import ClobVenue, ClobVenueError, is_loopback
from src.trading.venue.port import VenueUnavailableError
from src.utils.clock import SimClock, SystemClock
from src.utils.logger import log, log_warning
from src.utils.money import format_micro, micro_str
from src.utils.redaction import redact

DATA_PAGE = 500
MAX_DATA_PAGES = 20  # 10,000 rows: far beyond any account; stops a looping server
DATA_TIMEOUT_S = 10.0
RPC_TIMEOUT_S = 15.0

PROXY_WALLETS = (
    "POLYMARKET_SIGNATURE_TYPE={kind}: the positions are held by the proxy/Safe wallet "
    "{funder}, so the redemption must be executed by that wallet — normally through "
    "Polymarket's relayer, which polyflup does not implement (it sends transactions from "
    "the key's own address only). Redeem them on polymarket.com or with Polymarket's "
    "relayer client; `polyflup redeem --dry-run` still lists them."
)
RECONCILE_NOTE = (
    "`polyflup reconcile` will report it (a size_mismatch for the burnt tokens, a "
    "cash_mismatch for the collateral) and book neither — that takes a person"
)


@dataclass
class Outcome:
    """What happened to one market's redemption, for the table and ``--json``."""

    condition_id: str
    status: str  # mined, reverted, pending (on-chain); redeemed (emulator); failed
    paid_micro: int | None = None
    tx_hash: str | None = None
    ledger: str = ""
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True when the collateral is proven to have been collected."""
        return self.status in (RedeemStatus.MINED, "redeemed")

    def as_json(self) -> dict[str, Any]:
        """The JSON object of this outcome (amounts as exact decimal strings)."""
        return {
            "condition_id": self.condition_id,
            "status": self.status,
            "paid": None if self.paid_micro is None else micro_str(self.paid_micro),
            "tx_hash": self.tx_hash,
            "ledger": self.ledger,
            "note": self.note,
        }


# --- the Data API ---------------------------------------------------------------------------


def fetch_redeemable(data_url: str, address: str) -> list[RedeemablePosition]:
    """Every redeemable position the Data API lists for ``address`` (all pages); malformed
    rows are skipped with one warning."""
    session = requests.Session()
    positions: list[RedeemablePosition] = []
    malformed = 0
    for page in range(MAX_DATA_PAGES):
        url = (
            f"{data_url.rstrip('/')}/positions?user={address}&redeemable=true"
            f"&limit={DATA_PAGE}&offset={page * DATA_PAGE}"
        )
        try:
            answer = session.get(url, timeout=DATA_TIMEOUT_S)
        except requests.RequestException as exc:
            raise RedeemError(
                f"the Data API did not answer ({exc.__class__.__name__})"
            ) from None
        if answer.status_code != 200:
            raise RedeemError(f"the Data API answered HTTP {answer.status_code}")
        try:
            rows = answer.json()
            found, bad = parse_redeemable(rows)
        except ValueError as exc:
            raise RedeemError(f"the Data API's answer is not usable: {exc}") from None
        positions.extend(found)
        malformed += bad
        if len(rows) < DATA_PAGE:
            break
    if malformed:
        log_warning(f"⚠️ Data API: skipped {malformed} malformed position row(s)")
    return positions


def conditions_of(positions: Sequence[RedeemablePosition]) -> list[str]:
    """The markets to redeem, once each, in the order listed; neg-risk ones left out
    (they redeem through the NegRiskAdapter, which this command does not call)."""
    chosen: dict[str, str] = {}
    for position in positions:
        if position.negative_risk:
            log_warning(f"⚠️ {position.condition_id} is a neg-risk market: not redeemed")
            continue
        chosen.setdefault(position.condition_id.lower(), position.condition_id)
    return list(chosen.values())


# --- the ledger -----------------------------------------------------------------------------


def ledger_problem(settings: Settings) -> str | None:
    """Why the database cannot record a redemption, or None when it can (it is then the
    configured database)."""
    path = settings.db_path
    if not path.exists():
        return f"no database at {path}"
    configure_database(path)
    with db_connection(readonly=True) as cur:
        if current_version(cur.connection) < code_version():
            return f"database {path} is behind: run `polyflup migrate`"
    return None


def record_in_ledger(
    condition_id: str, paid_micro: int | None, reference: str, now_ms: int
) -> str:
    """Book a market's redemption against the database's settled positions of it: the
    winning position receives what was paid, a losing one 0. Returns what was done."""
    with db_connection() as cur:
        rows = _ledger_rows(cur, condition_id)
        if not rows:
            return "not in the database: nothing recorded"
        unsettled = [r for r in rows if r["settlement_id"] is None]
        todo = [
            r for r in rows if r["settlement_id"] is not None and r["redeemed_ms"] is None
        ]
        if not todo:
            if unsettled:
                return (
                    f"not settled in the database yet: nothing recorded; {RECONCILE_NOTE}"
                )
            return "already recorded"
        winners = [r for r in todo if r["won"]]
        if paid_micro is None and winners:
            return f"the receipt shows no payout: nothing recorded; {RECONCILE_NOTE}"
        # a market the ledger settled as lost pays nothing: no payout shown is 0
        paid_micro = paid_micro or 0
        if paid_micro and not winners:
            return (
                "paid, but the database has no settled winning position of this market: "
                "nothing recorded; "
                f"{RECONCILE_NOTE}"
            )
        expected = sum(int(r["payout_micro"]) for r in winners)
        window = window_by_condition(cur, condition_id)
    if window is None:
        return f"the market's window is not in the database: nothing recorded; {RECONCILE_NOTE}"
    # one booking rule for the bot and this command (settlement.book_redemption)
    book_redemption(window, paid_micro, SimClock(start=now_ms / 1000), reference)
    if expected != paid_micro:
        return f"recorded ({micro_str(expected)} expected by the ledger)"
    return "recorded"


def _ledger_rows(cur: sqlite3.Cursor, condition_id: str) -> list[sqlite3.Row]:
    return cur.execute(
        "SELECT p.token_id, s.id AS settlement_id, s.won, s.payout_micro, s.redeemed_ms "
        "FROM positions p JOIN windows w ON p.token_id IN (w.up_token_id, w.down_token_id) "
        "LEFT JOIN settlements s ON s.position_id = p.id "
        "WHERE lower(w.condition_id) = lower(?)",
        (condition_id,),
    ).fetchall()


# --- the command ----------------------------------------------------------------------------


def _check_conditions(conditions: Sequence[str]) -> list[str]:
    chosen: dict[str, str] = {}
    for condition in conditions:
        try:
            condition_bytes(condition)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--condition") from None
        chosen.setdefault(condition.lower(), condition.strip())
    return list(chosen.values())


def _signer_address(settings: Settings) -> str:
    if not settings.private_key:
        raise click.UsageError(
            "POLYMARKET_PRIVATE_KEY is not set: redeeming needs the account's key "
            "(for the emulator any generated key works)"
        )
    return str(Account.from_key(settings.private_key).address)


def _live_preconditions(ctx: click.Context, settings: Settings) -> None:
    """What the on-chain path needs before anything is contacted."""
    if settings.signature_type != 0:
        err_console().print(
            "❌ "
            + PROXY_WALLETS.format(
                kind=settings.signature_type, funder=settings.funder_address
            ),
            markup=False,
        )
        ctx.exit(EXIT_FAILURE)
    if settings.chain_id != POLYGON_CHAIN_ID:
        err_console().print(
            f"❌ POLYMARKET_CHAIN_ID={settings.chain_id}: on-chain redemption knows the "
            f"Polygon ({POLYGON_CHAIN_ID}) contracts only.",
            markup=False,
        )
        ctx.exit(EXIT_CONFIG)
    if not settings.polygon_rpc_url:
        err_console().print(
            "❌ POLYGON_RPC_URL is not set: redeeming on the real venue sends a Polygon "
            "transaction and needs a JSON-RPC node (set POLYGON_RPC_URL in the "
            "environment or .env).",
            markup=False,
        )
        ctx.exit(EXIT_CONFIG)


@click.command("redeem")
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    metavar="CID",
    help="Condition id (0x + 64 hex) of a resolved market to redeem (repeatable). "
    "Without it: every redeemable position the Data API lists.",
)
@click.option(
    "--market-version",
    type=click.Choice(MARKET_VERSIONS),
    default="v2",
    show_default=True,
    help="On-chain only: v2 = pUSD markets (CTF collateral adapter), v1 = USDC.e markets "
    "from before the 2026-04-28 CLOB V2 cut-over (ConditionalTokens directly).",
)
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="On-chain only: seconds to wait for each transaction to be mined.",
)
@click.option("--dry-run", is_flag=True, help="List what would be redeemed; send nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (on-chain).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@db_option
@click.pass_context
@handle_errors
def redeem_cmd(
    ctx: click.Context,
    conditions: tuple[str, ...],
    market_version: str,
    wait_s: float,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    db_path: Path | None,
) -> None:
    """Redeem the winning tokens of resolved markets for collateral.

    Against the emulator: its admin redemption. On Polymarket: a `redeemPositions`
    transaction on Polygon signed by POLYMARKET_PRIVATE_KEY (EOA keys only; needs
    POLYGON_RPC_URL and gas). The ledger records a redemption when the database holds the
    settled position. Exit 1 when a redemption failed or is not mined yet.
    """
    settings = build_settings(ctx, db_path=db_path)
    setup_logging(settings, to_files=not dry_run)
    wanted = _check_conditions(conditions)
    emulator = is_loopback(settings.polymarket_clob_url)
    signer = _signer_address(settings)
    if not emulator and not dry_run:
        _live_preconditions(ctx, settings)

    venue: ClobVenue | None = venue_from_settings(settings) if emulator else None
    account = venue.address if venue else (settings.funder_address or signer)
    positions: list[RedeemablePosition] = []
    if not wanted:
        try:
            positions = fetch_redeemable(settings.polymarket_data_url, account)
        except RedeemError as exc:
            err_console().print(f"❌ {redact(str(exc))}", markup=False)
            ctx.exit(EXIT_FAILURE)
        wanted = conditions_of(positions)

    report: dict[str, Any] = {
        "account": account,
        "path": "emulator" if emulator else "on-chain",
        "dry_run": dry_run,
        "positions": [_position_json(p) for p in positions],
        "conditions": wanted,
        "redemptions": [],
    }
    if not as_json:
        _print_positions(positions, listed=not conditions)
    if not emulator and settings.signature_type != 0 and not as_json:
        console().print(
            "ℹ️ "
            + PROXY_WALLETS.format(
                kind=settings.signature_type, funder=settings.funder_address
            ),
            markup=False,
        )
    if dry_run or not wanted:
        _finish(report, [], as_json, dry_run)
        return
    target = RedeemTarget.for_version(market_version)
    if (
        not emulator
        and not yes
        and not click.confirm(
            f"Send {len(wanted)} redeemPositions transaction(s) from {signer} on Polygon "
            f"to {target.contract} ({target.version}, collateral {target.collateral})? "
            "Each costs gas.",
            err=True,
        )
    ):
        console().print("Nothing redeemed.")
        return

    ledger_off = ledger_problem(settings)
    outcomes = []
    for condition in wanted:
        if venue is not None:
            outcome = _redeem_emulator(venue, condition)
        else:
            outcome = _redeem_on_chain(settings, condition, market_version, wait_s)
        if outcome.ok:
            if ledger_off:
                outcome.ledger = f"{ledger_off}: nothing recorded"
            else:
                now_ms = _now_ms(venue)
                reference = outcome.tx_hash or f"redeem:{condition}"
                outcome.ledger = record_in_ledger(
                    condition, outcome.paid_micro, reference, now_ms
                )
        outcomes.append(outcome)
    _finish(report, outcomes, as_json, dry_run)
    if not all(o.ok for o in outcomes):
        ctx.exit(EXIT_FAILURE)


def _now_ms(venue: ClobVenue | None) -> int:
    """When to stamp the ledger: the emulator's clock in sim (its time is simulated)."""
    if venue is not None:
        try:
            return venue.server_time() * 1000
        except VenueUnavailableError:
            log_warning("⚠️ the emulator's clock did not answer: the wall clock stamps it")
    return int(time.time() * 1000)


def _redeem_emulator(venue: ClobVenue, condition: str) -> Outcome:
    try:
        paid = venue.redeem(condition)
    except (ClobVenueError, VenueUnavailableError) as exc:
        return Outcome(condition, "failed", note=redact(str(exc)))
    return Outcome(condition, "redeemed", paid_micro=paid)


def _redeem_on_chain(
    settings: Settings, condition: str, version: str, wait_s: float
) -> Outcome:
    rpc = PolygonRpc(settings.polygon_rpc_url, timeout=RPC_TIMEOUT_S)
    try:
        result = redeem_on_chain(
            rpc, settings.private_key, condition, version, SystemClock(), wait_s
        )
    except RedeemError as exc:
        log_warning(f"❌ redeem {condition[:10]}… failed: {exc}")
        return Outcome(condition, "failed", note=redact(str(exc)))
    outcome = Outcome(
        condition, str(result.status), paid_micro=result.paid_micro, tx_hash=result.tx_hash
    )
    if result.status is RedeemStatus.PENDING:
        outcome.note = "not mined yet: look the transaction up before trying again"
    elif result.status is RedeemStatus.REVERTED:
        outcome.note = (
            "the transaction reverted (market not resolved, or nothing to redeem?)"
        )
    elif result.paid_micro is None:
        outcome.note = (
            "mined, but no collateral arrived at the account: the market lost, or it is "
            "the other version (try --market-version v1/v2)"
        )
    return outcome


def _position_json(position: RedeemablePosition) -> dict[str, Any]:
    return {
        "condition_id": position.condition_id,
        "token_id": position.token_id,
        "title": position.title,
        "slug": position.slug,
        "outcome": position.outcome,
        "size": micro_str(position.size_micro),
        "value": None if position.value_micro is None else micro_str(position.value_micro),
        "negative_risk": position.negative_risk,
    }


def _print_positions(positions: Sequence[RedeemablePosition], listed: bool) -> None:
    if not listed:
        return
    if not positions:
        console().print("✅ No redeemable positions.")
        return
    table = Table(title="Redeemable positions")
    table.add_column("Market")
    table.add_column("Outcome")
    table.add_column("Size", justify="right")
    table.add_column("Value", justify="right")
    table.add_column("Condition id", no_wrap=True)
    for p in positions:
        value = "—" if p.value_micro is None else format_micro(p.value_micro)
        table.add_row(
            p.slug or p.title, p.outcome, format_micro(p.size_micro), value, p.condition_id
        )
    console().print(table)


def _finish(
    report: dict[str, Any], outcomes: Sequence[Outcome], as_json: bool, dry_run: bool
) -> None:
    report["redemptions"] = [o.as_json() for o in outcomes]
    if as_json:
        emit_json(report)
        return
    if dry_run:
        for condition in report["conditions"]:
            console().print(f"🧪 would redeem {condition}")
        console().print("Dry run: nothing sent.")
        return
    if not outcomes:
        if report["positions"]:
            console().print("Nothing to redeem.")
        return
    table = Table(title="Redemptions")
    table.add_column("Market", no_wrap=True)
    table.add_column("Status")
    table.add_column("Paid", justify="right")
    table.add_column("Transaction", no_wrap=True)
    table.add_column("Ledger / note", overflow="fold")
    for o in outcomes:
        paid = "—" if o.paid_micro is None else format_micro(o.paid_micro)
        note = "; ".join(n for n in (o.note, o.ledger) if n)
        table.add_row(_short(o.condition_id), o.status, paid, o.tx_hash or "—", note)
    console().print(table)
    done = sum(o.ok for o in outcomes)
    log(f"🏁 redeem: {done} of {len(outcomes)} market(s) redeemed")
    mark = "✅" if done == len(outcomes) else "❌"
    console().print(f"{mark} Redeemed {done} of {len(outcomes)} market(s).")


def _short(condition_id: str) -> str:
    return f"{condition_id[:10]}…{condition_id[-6:]}"
