"""The CLI through click's runner: output, exit codes, masking."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from src import __version__
from src.cli import cli
from src.data.migrations import MIGRATIONS_DIR, discover, run_migrations

KEY = "0x" + "3c" * 32
WEBHOOK = "https://discord.com/api/webhooks/42/s3cr3t-token"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["config"],
        ["config", "show"],
        ["config", "validate"],
        ["migrate"],
        ["positions"],
        ["trades"],
        ["stats"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_config_validate_ok_and_bad() -> None:
    ok = invoke("config", "validate")
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = invoke("config", "validate", env={"MIN_EDGE": "1.5"})
    assert bad.exit_code == 2
    assert "MIN_EDGE=1.5" in bad.output and "allowed" in bad.output
    flag = invoke("config", "validate", "--set", "BET_PERCENT=0")
    assert flag.exit_code == 2 and "BET_PERCENT" in flag.output


def test_unknown_profile_exits_2_listing_the_names() -> None:
    result = invoke("config", "validate", "--profile", "yolo")
    assert result.exit_code == 2
    assert "conservative, balanced, aggressive, ultra" in result.output


def test_malformed_set_flag_is_a_usage_error() -> None:
    result = invoke("config", "show", "--set", "MIN_EDGE")
    assert result.exit_code == 2 and "NAME=VALUE" in result.output


def test_config_show_masks_secrets_and_names_sources(tmp_path: Path) -> None:
    Path(".env").write_text(f"DISCORD_WEBHOOK_URL={WEBHOOK}\nSIM_SEED=5\n")
    result = invoke(
        "config",
        "show",
        "--profile",
        "aggressive",
        "--set",
        "MAX_SIZE=42",
        env={"POLYMARKET_PRIVATE_KEY": KEY, "COLUMNS": "250"},
    )
    assert result.exit_code == 0
    assert KEY not in result.output and KEY[2:] not in result.output
    assert "s3cr3t-token" not in result.output
    lines = {
        line.split("│")[1].strip(): line
        for line in result.output.splitlines()
        if line.count("│") >= 4
    }
    assert (
        "***" in lines["POLYMARKET_PRIVATE_KEY"]
        and " env " in lines["POLYMARKET_PRIVATE_KEY"]
    )
    assert ".env" in lines["DISCORD_WEBHOOK_URL"] and "***" in lines["DISCORD_WEBHOOK_URL"]
    assert "profile:aggressive" in lines["BET_PERCENT"]
    assert "flag" in lines["MAX_SIZE"] and "42" in lines["MAX_SIZE"]
    assert "(not set)" in lines["POLYMARKET_API_SECRET"]


def test_config_show_json() -> None:
    result = invoke("config", "show", "--json", env={"POLYMARKET_PRIVATE_KEY": KEY})
    data = json.loads(result.stdout)
    assert data["POLYMARKET_PRIVATE_KEY"] == {
        "value": "***",
        "source": "env",
        "group": "Wallet",
    }
    assert data["BET_PERCENT"]["source"] == "profile:balanced"
    assert KEY not in result.output


def test_env_file_option(tmp_path: Path) -> None:
    custom = tmp_path / "custom.env"
    custom.write_text("SIM_SEED=77\n")
    data = json.loads(invoke("--env-file", str(custom), "config", "show", "--json").stdout)
    assert data["SIM_SEED"] == {"value": "77", "source": ".env", "group": "Runtime"}


def test_migrate_creates_then_reports_up_to_date() -> None:
    latest = max(m.version for m in discover(MIGRATIONS_DIR))
    first = invoke("migrate", "--db", "x.db")
    assert first.exit_code == 0 and f"migrated from version 0 to {latest}" in first.output
    second = invoke("migrate", "--db", "x.db")
    assert second.exit_code == 0 and "up to date" in second.output


def test_migrate_refuses_a_newer_database() -> None:
    invoke("migrate", "--db", "x.db")
    with sqlite3.connect("x.db") as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'future', 'x', 'now')")
    result = invoke("migrate", "--db", "x.db")
    assert result.exit_code == 1 and "newer" in result.output


def test_positions_and_trades_when_there_is_no_database() -> None:
    for command in ("positions", "trades"):
        result = invoke(command)
        assert result.exit_code == 0 and "No database" in result.output
        assert not Path("polyflup.db").exists()
    assert json.loads(invoke("positions", "--json").stdout) == []


def test_positions_and_trades_empty_then_filled() -> None:
    invoke("migrate")
    assert "No open positions." in invoke("positions").output
    assert "No trades yet." in invoke("trades").output
    seed_ledger(Path("polyflup.db"))
    table = invoke("positions", env={"COLUMNS": "200"}).output
    assert "BTC" in table and "10.00" in table and "0.550" in table
    rows = json.loads(invoke("positions", "--json").stdout)
    assert rows == [
        {
            "token_id": "111",
            "symbol": "BTC",
            "side": "UP",
            "size": "10",
            "cost": "5.5",
            "fees": "0.1732",
            "realized_pnl": "0",
            "status": "open",
            "exit_reason": None,
            "window": "btc-updown-15m-1767225600",
        }
    ]
    trades = json.loads(invoke("trades", "--json").stdout)
    assert trades[0]["price"] == "0.55" and trades[0]["fee"] == "0.1732"
    assert trades[0]["status"] == "CONFIRMED"
    assert "0.550" in invoke("trades", env={"COLUMNS": "200"}).output


def seed_ledger(db: Path) -> None:
    run_migrations(db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO windows (id, symbol, slug, start_ms, end_ms, created_ms) "
            "VALUES (1, 'BTC', 'btc-updown-15m-1767225600', 1767225600000, "
            "1767226500000, 0)"
        )
        conn.execute(
            "INSERT INTO positions (window_id, token_id, symbol, outcome, size_micro, "
            "cost_micro, fees_micro, opened_ms, updated_ms) "
            "VALUES (1, '111', 'BTC', 'UP', 10000000, 5500000, 173200, "
            "1767225660000, 0)"
        )
        conn.execute(
            "INSERT INTO orders (id, client_order_id, token_id, symbol, outcome, "
            "side, intent, order_type, price_micro, size_micro, filled_micro, "
            "status, mode, created_ms, updated_ms) VALUES (1, 'c-1', '111', 'BTC', "
            "'UP', 'BUY', 'entry', 'FOK', 550000, 10000000, 10000000, 'filled', "
            "'sim', 0, 0)"
        )
        conn.execute(
            "INSERT INTO fills (venue_trade_id, order_id, token_id, side, role, "
            "price_micro, size_micro, notional_micro, fee_micro, status, matched_ms, "
            "updated_ms) VALUES ('t-1', 1, '111', 'BUY', 'taker', 550000, 10000000, "
            "5500000, 173200, "
            "'CONFIRMED', 1767225660000, 0)"
        )


def test_run_defaults_to_sim_and_stops_by_itself_with_a_summary() -> None:
    result = invoke("run", "--profile", "aggressive", "--duration", "30", "--speed", "300")
    assert result.exit_code == 0, result.output
    assert "SIMULATION on the embedded emulator" in result.output
    assert "profile aggressive" in result.output
    assert "Run stopped (duration)" in result.output
    assert Path("sim.db").exists()  # a sim run keeps its ledger apart from the real one


def test_run_with_a_wallet_but_no_live_flag_stays_in_sim() -> None:
    result = invoke(
        "run", "--duration", "30", "--speed", "300", env={"POLYMARKET_PRIVATE_KEY": KEY}
    )
    assert "SIMULATION" in result.output and "--live was not given" in result.output
    assert KEY not in result.output


def test_live_without_a_key_is_refused() -> None:
    result = invoke("run", "--live")
    assert result.exit_code == 2 and "POLYMARKET_PRIVATE_KEY" in result.output


def test_two_mode_flags_are_refused() -> None:
    result = invoke("run", "--live", "--paper", env={"POLYMARKET_PRIVATE_KEY": KEY})
    assert result.exit_code == 2 and "only one of" in result.output


def test_windows_and_duration_together_are_refused() -> None:
    result = invoke("run", "--windows", "2", "--duration", "60")
    assert result.exit_code == 2


def test_unexpected_errors_exit_1_without_leaking(monkeypatch: pytest.MonkeyPatch) -> None:
    import src.cli.db_cmd as db_cmd

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError(f"disk on fire near {KEY}")

    monkeypatch.setattr(db_cmd, "run_migrations", explode)
    result = invoke("migrate", env={"POLYMARKET_PRIVATE_KEY": KEY})
    assert result.exit_code == 1
    assert "disk on fire" in result.output and KEY not in result.output
    assert KEY not in "".join(p.read_text() for p in Path("logs").glob("*.log"))


def _orders_of_mode(path: Path, mode: str) -> None:
    from src.data.migrations import run_migrations

    run_migrations(path)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO orders (client_order_id, token_id, symbol, outcome, side, intent, "
            "order_type, price_micro, size_micro, mode, created_ms, updated_ms) VALUES "
            f"('c-1', '1', 'BTC', 'UP', 'BUY', 'entry', 'GTC', 500000, 5000000, '{mode}', "
            "0, 0)"
        )


def test_each_mode_keeps_its_own_ledger() -> None:
    from src.cli.run_cmd import mode_database
    from src.config.modes import Mode
    from src.config.settings import load_settings

    settings = load_settings(environ={}, env_file=None)
    assert mode_database(settings, Mode.SIM).name == "sim.db"
    assert mode_database(settings, Mode.PAPER).name == "paper.db"
    assert mode_database(settings, Mode.LIVE) == settings.db_path


def test_a_live_run_refuses_a_ledger_with_paper_orders() -> None:
    _orders_of_mode(Path("polyflup.db"), "paper")
    result = invoke("run", "--live", env={"POLYMARKET_PRIVATE_KEY": KEY})
    assert result.exit_code == 2
    assert "POLYFLUP_DB" in result.output and "paper orders" in result.output


def test_a_sim_run_never_wipes_a_ledger_of_real_orders() -> None:
    _orders_of_mode(Path("mine.db"), "live")
    result = invoke("run", "--sim", "--db", "mine.db", "--windows", "1")
    assert result.exit_code == 2 and "live orders" in result.output
    assert Path("mine.db").exists()


def test_a_second_run_on_a_locked_database_is_refused_and_touches_nothing() -> None:
    from src.bot.instance_lock import InstanceLock

    _orders_of_mode(Path("sim.db"), "sim")
    before = Path("sim.db").read_bytes()
    with InstanceLock(Path("sim.db")):  # a running bot holds it
        result = invoke("run", "--sim", "--duration", "30", "--speed", "300")
    assert result.exit_code == 1
    assert "another `polyflup run`" in result.output and "Traceback" not in result.output
    assert Path("sim.db").read_bytes() == before  # its ledger was not wiped
