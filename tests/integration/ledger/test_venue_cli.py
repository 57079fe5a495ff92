"""``polyflup reconcile``, ``cancel-all`` and ``doctor`` against the emulator."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner, Result

from src.cli import cli
from src.trading.execution import TradeParams, execute_trade
from src.trading.ledger.accounting import Side
from src.trading.venue.clob import Heartbeats, RedeemNotSupportedError, is_loopback
from src.trading.venue.port import OrderType
from tests.integration.ledger.conftest import World

pytestmark = pytest.mark.integration


def run(world: World, *args: str, stdin: str | None = None) -> Result:
    env = {
        **world.emu.env(),
        "POLYMARKET_PRIVATE_KEY": world.key,
        "POLYFLUP_DB": str(world.db),
        "POLYFLUP_LOG_DIR": str(world.db.parent / "logs"),
    }
    return CliRunner().invoke(
        cli,
        ["--env-file", str(world.db.parent / "absent.env"), *args],
        env=env,
        input=stdin,
        catch_exceptions=False,
    )


def rest(world: World, cid: str) -> None:
    execute_trade(
        TradeParams(
            "BTC",
            "UP",
            world.market.up_token_id,
            Side.BUY,
            Decimal("0.40"),
            Decimal("10"),
            OrderType.GTC,
            post_only=True,
            client_order_id=cid,
        ),
        context=world.ctx,
    )


def test_reconcile_prints_then_applies_the_plan(world: World) -> None:
    world.emu.set_faults("order:drop=1")
    rest(world, "lost")
    world.emu.set_faults("")
    dry = run(world, "reconcile", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    [action] = json.loads(dry.stdout)["actions"]
    assert action["kind"] == "set_order_status" and action["status"] == "live"
    table = run(world, "reconcile", "--dry-run")
    assert "Reconciliation plan" in table.stdout and "set_order_status" in table.stdout
    applied = run(world, "reconcile")
    assert applied.exit_code == 0 and "1 action(s) applied" in applied.stdout
    assert json.loads(run(world, "reconcile", "--dry-run", "--json").stdout) == {
        "actions": [],
        "unresolved": [],
    }


def test_reconcile_fails_when_the_venue_does_not_answer(world: World) -> None:
    rest(world, "resting")
    world.emu.set_faults("data-orders:5xx=1")
    result = run(world, "reconcile", "--dry-run", "--json")
    assert result.exit_code == 1
    assert "did not answer" in result.stderr


def test_cancel_all_asks_first(world: World) -> None:
    rest(world, "a")
    rest(world, "b")
    refused = run(world, "cancel-all", stdin="n\n")
    assert "Nothing cancelled" in refused.stdout
    assert len(world.venue.open_orders()) == 2
    done = run(world, "cancel-all", "--yes")
    assert done.exit_code == 0 and "Cancelled 2 order(s)" in done.stdout
    assert world.venue.open_orders() == []


def test_doctor_reports_each_check(world: World) -> None:
    result = run(world, "doctor")
    # the emulator's clock is simulated (2026-01-02): the drift check must fail, and say so
    assert result.exit_code == 1
    for name in (
        "configuration",
        "database migrated",
        "CLOB reachable",
        "Gamma reachable",
        "Binance reachable",
        "credentials derive",
        "balance/allowance",
    ):
        assert name in result.stdout
    assert result.stdout.count("✅") == 7 and result.stdout.count("❌") == 1
    assert "clock drift" in result.stdout


def test_heartbeats_and_redeem_rules(world: World) -> None:
    beats = Heartbeats(world.venue.client)
    first = beats.beat()
    assert first and beats.beat()
    assert is_loopback(world.emu.base_url)
    assert not is_loopback("https://clob.polymarket.com")
    world.venue.client.host = "https://clob.polymarket.com"  # never contacted
    with pytest.raises(RedeemNotSupportedError):
        world.venue.redeem(world.market.condition_id)
