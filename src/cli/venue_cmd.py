"""Venue commands: ``reconcile``, ``cancel-all`` and ``doctor``.

All three talk to the CLOB named by ``POLYMARKET_CLOB_URL`` with the configured key — the
real venue, or ``polyflup emulator`` when the URLs point at it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import requests
from py_clob_client_v2 import ApiCreds
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
from src.config.errors import ConfigError
from src.config.settings import Settings, load_settings, secret_values
from src.data.db_connection import configure_database, db_connection
from src.data.market_data.polymarket import GammaClient
from src.data.migrations import code_version, current_version
from src.trading.position_manager.reconcile_runner import (
    ReconcileError,
    compute_plan,
    gamma_token_info,
    reconcile,
)
from src.trading.position_manager.reconciliation import ReconcilePlan, describe
from src.trading.venue.clob import ClobVenue
from src.trading.venue.port import VenueUnavailableError
from src.utils.clock import SystemClock
from src.utils.redaction import REDACTOR, redact

MAX_CLOCK_DRIFT_S = 5


def venue_from_settings(settings: Settings, **options: Any) -> ClobVenue:
    """The CLOB venue for the configured key (L2 credentials derived when not set);
    ``options`` go to :meth:`ClobVenue.connect` over the settings' (e.g. ``rate_per_s``)."""
    if not settings.private_key:
        raise click.UsageError(
            "POLYMARKET_PRIVATE_KEY is not set: the venue commands need the account's key "
            "(for the emulator any generated key works)"
        )
    creds = (
        ApiCreds(settings.api_key, settings.api_secret, settings.api_passphrase)
        if settings.api_key
        else None
    )
    return ClobVenue.connect(
        settings.polymarket_clob_url,
        private_key=settings.private_key,
        chain_id=settings.chain_id,
        data_url=settings.polymarket_data_url,
        signature_type=settings.signature_type,
        funder=settings.funder_address or None,
        creds=creds,
        timeout_s=settings.venue_timeout_sec,
        **options,
    )


def plan_json(plan: ReconcilePlan) -> dict[str, Any]:
    """The plan as JSON: every action with its kind and fields, and the unresolved ids."""
    actions = []
    for action in plan.actions:
        fields = asdict(action)
        actions.append({**fields, "description": describe(action)})
    return {"actions": actions, "unresolved": list(plan.unresolved)}


def _open_db(ctx: click.Context, settings: Settings) -> None:
    path = settings.db_path
    if not path.exists():
        err_console().print(f"❌ No database at {path}: run `polyflup migrate` first.")
        ctx.exit(EXIT_FAILURE)
    configure_database(path)
    with db_connection(readonly=True) as cur:
        if current_version(cur.connection) < code_version():
            err_console().print(f"❌ Database {path} is behind: run `polyflup migrate`.")
            ctx.exit(EXIT_FAILURE)


@click.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@db_option
@click.pass_context
@handle_errors
def reconcile_cmd(
    ctx: click.Context, dry_run: bool, as_json: bool, db_path: Path | None
) -> None:
    """Compare the database with the venue and bring it to the venue's state.

    An empty plan means the ledger agrees with the venue. Exit 1 when the venue's state
    cannot be proven (the bot would refuse to trade).
    """
    settings = build_settings(ctx, db_path=db_path)
    setup_logging(settings, to_files=not dry_run)
    _open_db(ctx, settings)
    venue = venue_from_settings(settings)
    try:
        plan = compute_plan(venue)
    except VenueUnavailableError as exc:
        err_console().print(f"❌ The venue did not answer: {redact(str(exc))}")
        ctx.exit(EXIT_FAILURE)
    if as_json and dry_run:
        emit_json(plan_json(plan))
        ctx.exit(EXIT_FAILURE if plan.unresolved else 0)
    if not as_json:
        _print_plan(plan)
    if dry_run:
        ctx.exit(EXIT_FAILURE if plan.unresolved else 0)
    mode = "live" if "polymarket.com" in settings.polymarket_clob_url else "sim"
    try:
        done = reconcile(
            venue,
            SystemClock(),
            mode,
            gamma_token_info(GammaClient(settings.polymarket_gamma_url)),
        )
    except ReconcileError as exc:
        if as_json:
            emit_json({"applied": [], "error": redact(str(exc))})
        err_console().print(f"❌ Reconciliation failed: {redact(str(exc))}")
        ctx.exit(EXIT_FAILURE)
    if as_json:
        emit_json({"applied": done, "error": None})
    else:
        console().print(f"✅ Reconciled: {len(done)} action(s) applied.")


def _print_plan(plan: ReconcilePlan) -> None:
    if plan.empty:
        console().print("✅ The ledger agrees with the venue: nothing to do.")
        return
    table = Table(title="Reconciliation plan")
    table.add_column("#", justify="right")
    table.add_column("Action")
    table.add_column("Details")
    for number, action in enumerate(plan.actions, 1):
        table.add_row(str(number), action.kind, describe(action))
    for order_id in plan.unresolved:
        table.add_row("?", "unresolved", f"state of {order_id} could not be proven")
    console().print(table)


@click.command("cancel-all")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@handle_errors
def cancel_all_cmd(ctx: click.Context, yes: bool) -> None:
    """Cancel every open order of the account at the venue."""
    settings = build_settings(ctx)
    setup_logging(settings)
    venue = venue_from_settings(settings)
    if not yes and not click.confirm(
        f"Cancel ALL open orders of {venue.address} at {settings.polymarket_clob_url}?"
    ):
        console().print("Nothing cancelled.")
        return
    reply = venue.cancel_all()
    console().print(f"🧹 Cancelled {len(reply.cancelled)} order(s).")
    for order_id, reason in reply.not_cancelled.items():
        console().print(f"⚠️ {order_id} not cancelled: {reason}")


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight check's result."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _check(name: str, fix: str, run: Callable[[], str]) -> Check:
    try:
        return Check(name, True, run())
    except Exception as exc:  # a check reports, it never aborts the others
        return Check(name, False, redact(str(exc)) or exc.__class__.__name__, fix)


def _database_check(settings: Settings) -> Check:
    def database() -> str:
        if not settings.db_path.exists():
            raise RuntimeError(f"no database at {settings.db_path}")
        configure_database(settings.db_path)
        with db_connection(readonly=True) as cur:
            version = current_version(cur.connection)
        if version < code_version():
            raise RuntimeError(f"schema version {version} < {code_version()}")
        return f"{settings.db_path} (schema version {version})"

    return _check("database migrated", "run `polyflup migrate`", database)


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process that is not this one (nor a reused pid)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:  # where /proc exists, a reused pid of another program is not the bot
        return b"polyflup" in cmdline.read_bytes()
    except OSError:
        return not Path("/proc/self").exists()


def bot_running_check(db_path: Path) -> Check:
    """Whether a ``polyflup run`` holds this database's instance lock, without touching
    the lock (taking it, even shared, could make a starting bot refuse to run)."""
    lock = Path(f"{db_path}.lock")

    def running() -> str:
        try:
            text = lock.read_text(encoding="ascii", errors="replace").strip()
        except FileNotFoundError:
            raise RuntimeError(f"no bot has run on {db_path} (no {lock.name})") from None
        pid = int(text) if text.isdigit() else 0
        if not _process_alive(pid):
            raise RuntimeError(f"no bot running on {db_path} (last pid {text or '?'})")
        return f"pid {pid} holds {lock}"

    return _check("bot running", "start it: `polyflup run` (or see its logs)", running)


def local_checks(settings: Settings) -> list[Check]:
    """The checks that need no network and no key, for a healthcheck of a running bot:
    the configuration, the database's schema, and a live bot on that database."""
    return [
        Check("configuration", True, f"profile {settings.profile}"),
        _database_check(settings),
        bot_running_check(settings.db_path),
    ]


def run_checks(settings: Settings) -> list[Check]:
    """Every preflight check, in order; later ones are skipped when they cannot work."""
    checks = [Check("configuration", True, f"profile {settings.profile}")]
    checks.append(_database_check(settings))

    def reach(url: str) -> Callable[[], str]:
        def run() -> str:
            started = time.perf_counter()
            answer = requests.get(url, timeout=5)
            if answer.status_code >= 500:
                raise RuntimeError(f"HTTP {answer.status_code} from {url}")
            return f"{url} ({(time.perf_counter() - started) * 1000:.0f} ms)"

        return run

    clob = settings.polymarket_clob_url.rstrip("/")
    checks.append(
        _check("CLOB reachable", "check POLYMARKET_CLOB_URL", reach(f"{clob}/ok"))
    )
    gamma = settings.polymarket_gamma_url.rstrip("/")
    checks.append(
        _check(
            "Gamma reachable",
            "check POLYMARKET_GAMMA_URL",
            reach(f"{gamma}/markets?limit=1"),
        )
    )
    binance = settings.binance_api_url.rstrip("/")
    checks.append(
        _check("Binance reachable", "check BINANCE_API_URL", reach(f"{binance}/v3/ping"))
    )

    def drift() -> str:
        answer = requests.get(f"{clob}/time", timeout=5)
        answer.raise_for_status()
        venue_s = int(str(answer.json()))
        delta = time.time() - venue_s
        if abs(delta) > MAX_CLOCK_DRIFT_S:
            raise RuntimeError(f"local clock is {delta:+.0f} s off the venue's")
        return f"{delta:+.1f} s"

    checks.append(
        _check(
            "clock drift vs venue",
            "sync the system clock (NTP); in sim mode the emulator's clock may differ",
            drift,
        )
    )
    venue: list[ClobVenue] = []

    def credentials() -> str:
        venue.append(venue_from_settings(settings))
        return f"account {venue[0].address}"

    checks.append(
        _check(
            "credentials derive",
            "set POLYMARKET_PRIVATE_KEY (and the API key trio, or none of it)",
            credentials,
        )
    )

    def balance() -> str:
        if not venue:
            raise RuntimeError("no credentials")
        return f"collateral {venue[0].collateral_micro() / 1_000_000:.2f}"

    checks.append(
        _check(
            "balance/allowance readable",
            "fund the wallet and approve the exchanges; then retry",
            balance,
        )
    )
    return checks


@click.command("doctor")
@click.option(
    "--local",
    is_flag=True,
    help="Only what needs no network and no key: configuration, database, and a bot "
    "running on it (for healthchecks).",
)
@db_option
@click.pass_context
@handle_errors
def doctor_cmd(ctx: click.Context, local: bool, db_path: Path | None) -> None:
    """Preflight: configuration, database, venue and Binance, clock, credentials, balance.

    Exit 0 when every check passes, 1 when any fails. With --local (a container's
    healthcheck) it checks only the configuration, the database's schema and that a
    `polyflup run` holds the database's lock.
    """
    env_file: Path | None = ctx.obj.get("env_file") if ctx.obj else None
    overrides = {} if db_path is None else {"POLYFLUP_DB": str(db_path)}
    try:
        settings = load_settings(env_file=env_file, overrides=overrides)
    except ConfigError as exc:
        checks = [
            Check(
                "configuration",
                False,
                "; ".join(redact(str(p)) for p in exc.problems),
                "fix the values, then `polyflup config validate`",
            )
        ]
    else:
        REDACTOR.register(*secret_values(settings))
        checks = local_checks(settings) if local else run_checks(settings)
    table = Table(title="polyflup doctor --local" if local else "polyflup doctor")
    table.add_column("")
    table.add_column("Check")
    table.add_column("Result")
    table.add_column("What to do")
    for check in checks:
        table.add_row("✅" if check.ok else "❌", check.name, check.detail, check.fix)
    console().print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        err_console().print(f"❌ {len(failed)} check(s) failed.")
        ctx.exit(EXIT_FAILURE)
    console().print("✅ All checks passed.")
