"""Database commands: ``migrate``, ``positions`` and ``trades`` (the last two read-only)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from src.cli.common import (
    EXIT_FAILURE,
    build_settings,
    console,
    db_option,
    emit_json,
    err_console,
    handle_errors,
    setup_logging,
)
from src.data.db_connection import configure_database, db_connection
from src.data.migrations import (
    MigrationError,
    code_version,
    current_version,
    run_migrations,
)
from src.data.queries import list_positions, list_trades
from src.utils.logger import log
from src.utils.money import format_micro, micro_str


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.command("migrate")
@db_option
@click.pass_context
@handle_errors
def migrate(ctx: click.Context, db_path: Path | None) -> None:
    """Create or upgrade the database schema (backs the file up first)."""
    settings = build_settings(ctx, db_path=db_path)
    setup_logging(settings)
    try:
        report = run_migrations(settings.db_path)
    except MigrationError as exc:
        err_console().print(f"❌ {exc}", markup=False)
        ctx.exit(EXIT_FAILURE)
    if not report.applied:
        console().print(
            f"✅ Database {settings.db_path} is up to date "
            f"(schema version {report.current_version})."
        )
        return
    for migration in report.applied:
        log(f"✅ Applied migration {migration.version:03d}_{migration.name}")
    if report.backup:
        console().print(f"💾 Backup before migrating: {report.backup}")
    console().print(
        f"✅ Database {settings.db_path} migrated from version "
        f"{report.previous_version} to {report.current_version}."
    )


@contextmanager
def read_database(
    ctx: click.Context, db_path: Path | None
) -> Iterator[sqlite3.Cursor | None]:
    """A read-only cursor, or None (after a friendly line) when there is nothing to read."""
    settings = build_settings(ctx, db_path=db_path)
    path = settings.db_path
    if not path.exists():
        # stderr, so `--json` output stays parseable
        err_console().print(
            f"No database at {path} yet — start the bot or run "
            "`polyflup migrate` to create it."
        )
        yield None
        return
    configure_database(path)
    with db_connection(readonly=True) as cursor:
        version = current_version(cursor.connection)
        if version < code_version():
            err_console().print(
                f"⚠️ Database {path} is at schema version {version}; run "
                "`polyflup migrate` first."
            )
            ctx.exit(EXIT_FAILURE)
        yield cursor


@click.command("positions")
@db_option
@click.option("--all", "include_closed", is_flag=True, help="Include closed positions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (amounts as strings).")
@click.pass_context
@handle_errors
def positions(
    ctx: click.Context, db_path: Path | None, include_closed: bool, as_json: bool
) -> None:
    """List open positions (or all with --all) from the database."""
    with read_database(ctx, db_path) as cursor:
        rows = [] if cursor is None else list_positions(cursor, include_closed)
    if as_json:
        emit_json(
            [
                {
                    "token_id": r.token_id,
                    "symbol": r.symbol,
                    "side": r.outcome,
                    "size": micro_str(r.size_micro),
                    "cost": micro_str(r.cost_micro),
                    "fees": micro_str(r.fees_micro),
                    "realized_pnl": micro_str(r.realized_pnl_micro),
                    "status": r.status,
                    "exit_reason": r.exit_reason,
                    "window": r.window_slug,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        console().print("No open positions." if not include_closed else "No positions yet.")
        return
    table = Table(title="Positions")
    for name, justify in (
        ("Symbol", "left"),
        ("Side", "left"),
        ("Window", "left"),
        ("Size", "right"),
        ("Avg price", "right"),
        ("Cost", "right"),
        ("Fees", "right"),
        ("Realized PnL", "right"),
        ("Status", "left"),
        ("Opened (UTC)", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)
    for r in rows:
        avg = r.avg_price_micro
        pnl_style = (
            "green"
            if r.realized_pnl_micro > 0
            else ("red" if r.realized_pnl_micro < 0 else "")
        )
        table.add_row(
            r.symbol,
            r.outcome,
            r.window_slug or "—",
            format_micro(r.size_micro),
            "—" if avg is None else format_micro(avg, 3),
            format_micro(r.cost_micro),
            format_micro(r.fees_micro, 4),
            f"[{pnl_style}]{format_micro(r.realized_pnl_micro)}[/]"
            if pnl_style
            else format_micro(r.realized_pnl_micro),
            r.status + (f" ({r.exit_reason})" if r.exit_reason else ""),
            _when(r.opened_ms),
        )
    console().print(table)


@click.command("trades")
@db_option
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many recent fills to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (amounts as strings).")
@click.pass_context
@handle_errors
def trades(ctx: click.Context, db_path: Path | None, limit: int, as_json: bool) -> None:
    """List recent fills (newest first) from the database."""
    with read_database(ctx, db_path) as cursor:
        rows = [] if cursor is None else list_trades(cursor, limit)
    if as_json:
        emit_json(
            [
                {
                    "trade_id": r.venue_trade_id,
                    "time": _when(r.matched_ms),
                    "symbol": r.symbol,
                    "outcome": r.outcome,
                    "side": r.side,
                    "intent": r.intent,
                    "role": r.role,
                    "price": micro_str(r.price_micro),
                    "size": micro_str(r.size_micro),
                    "fee": micro_str(r.fee_micro),
                    "fee_asset": r.fee_asset,
                    "status": r.status,
                    "client_order_id": r.client_order_id,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        console().print("No trades yet.")
        return
    table = Table(title=f"Recent trades (last {limit})")
    for name, justify in (
        ("Time (UTC)", "left"),
        ("Symbol", "left"),
        ("Outcome", "left"),
        ("Side", "left"),
        ("Intent", "left"),
        ("Role", "left"),
        ("Price", "right"),
        ("Size", "right"),
        ("Fee", "right"),
        ("Status", "left"),
        ("Trade id", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)
    for r in rows:
        fee = format_micro(r.fee_micro, 4) + (" sh" if r.fee_asset == "shares" else "")
        table.add_row(
            _when(r.matched_ms),
            r.symbol,
            r.outcome,
            r.side,
            r.intent,
            r.role,
            format_micro(r.price_micro, 3),
            format_micro(r.size_micro),
            fee,
            r.status,
            r.venue_trade_id[:18],
        )
    console().print(table)
