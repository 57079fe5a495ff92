"""Starting and stopping the emulator, its admin endpoints, the heartbeat dead-man switch,
and the ``polyflup emulator`` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from py_clob_client_v2 import OrderArgs
from py_clob_client_v2.exceptions import PolyApiException

from src.config.settings import load_settings
from src.sim.emulator.server import EmulatorHandle
from src.sim.emulator.world import ListedMarket
from src.sim.venue import Side
from tests.integration.emulator.conftest import start_emulator
from tests.integration.emulator.support import buy_fee_shares, new_trader, quote

ROOT = Path(__file__).resolve().parents[3]


def test_env_lines_point_every_setting_at_the_emulator(emu: EmulatorHandle) -> None:
    lines = emu.env_lines()
    assert lines[0] == f"POLYMARKET_CLOB_URL={emu.base_url}"
    env = emu.env()
    assert env["POLYMARKET_WS_URL"] == f"ws://127.0.0.1:{emu.port}/ws"
    assert env["BINANCE_API_URL"].endswith("/binance/api")
    settings = load_settings(env_file=None, overrides=env)
    assert settings.polymarket_gamma_url == f"{emu.base_url}/gamma"
    assert settings.binance_ws_url == f"ws://127.0.0.1:{emu.port}/binance/"


def test_admin_fund_and_ledger(emu: EmulatorHandle, market: ListedMarket) -> None:
    up = market.up_token_id
    quote(emu, up, Side.SELL, "0.30", "40")
    trader = new_trader(emu)
    session = requests.Session()
    funded = session.post(
        f"{emu.base_url}/admin/fund", json={"address": trader.address, "amount": "250.5"}
    ).json()
    assert funded == {"address": trader.address, "balance": "1250.5"}
    trader.client.create_and_post_order(
        OrderArgs(token_id=up, price=0.30, size=40, side="BUY")
    )
    emu.step()
    ledger = session.get(f"{emu.base_url}/admin/ledger").json()
    [account] = ledger["accounts"]
    fee = buy_fee_shares("40", "0.30")
    assert account["address"] == trader.address
    assert Decimal(account["collateral"]["balance"]) == Decimal("1250.5") - 12
    [position] = account["positions"]
    assert Decimal(position["size"]) == 40 - fee
    assert Decimal(account["fees_paid"]["shares"]) == fee
    assert Decimal(account["fees_paid"]["collateral"]) == 0
    [trade] = account["trades"]
    assert Decimal(trade["fee"]) == fee and trade["fee_asset"] == "SHARES"
    assert len(account["orders"]) == 1
    assert Decimal(ledger["fees"]["shares"][up]) == fee
    assert ledger["totals"]["in_escrow"] == "0"
    one = session.get(f"{emu.base_url}/admin/ledger", params={"address": trader.address})
    assert one.json()["accounts"] == ledger["accounts"]
    bad = session.post(
        f"{emu.base_url}/admin/fund", json={"address": "nope", "amount": "1"}
    )
    assert bad.status_code == 400


def test_heartbeats_cancel_open_orders_after_ten_seconds(
    emu: EmulatorHandle, market: ListedMarket
) -> None:
    client = new_trader(emu).client
    first = client.post_heartbeat("")
    beat_id = first["heartbeat_id"]
    placed = client.create_and_post_order(
        OrderArgs(token_id=market.up_token_id, price=0.40, size=10, side="BUY")
    )
    emu.advance(8)
    assert client.post_heartbeat(beat_id) == {"heartbeat_id": beat_id}
    emu.advance(9)
    assert len(client.get_open_orders()) == 1  # 9 s since the last heartbeat
    with pytest.raises(PolyApiException) as caught:
        client.post_heartbeat("not-the-id")
    assert caught.value.status_code == 400
    assert caught.value.error_msg == {
        "error": "Invalid Heartbeat ID",
        "heartbeat_id": beat_id,
    }
    emu.advance(2)
    assert client.get_open_orders() == []
    assert client.get_order(placed["orderID"])["status"] == "CANCELED"
    restarted = client.post_heartbeat("")  # a new session after the switch fired
    assert restarted["heartbeat_id"] != beat_id


def test_state_dir_gets_urls_and_the_final_ledger(tmp_path: Path) -> None:
    handle = start_emulator(state_dir=tmp_path / "state")
    info = json.loads((tmp_path / "state" / "emulator.json").read_text())
    assert info["base_url"] == handle.base_url and info["env"] == handle.env()
    handle.stop()
    handle.stop()  # idempotent
    ledger = json.loads((tmp_path / "state" / "ledger.json").read_text())
    assert ledger["accounts"] == [] and "totals" in ledger


def test_cli_prints_the_env_lines_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    command = [
        sys.executable,
        "-c",
        "from src.cli import main; main()",
        "emulator",
        "--port",
        "0",
        "--seed",
        "5",
        "--speed",
        "60",
        "--balance",
        "2,500",
        "--faults",
        "book:latency=1ms",
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        while not any(line.strip().startswith("BINANCE_WS_URL=") for line in lines):
            line = process.stdout.readline()
            assert line, (
                f"the emulator exited: {process.stderr.read() if process.stderr else ''}"
            )
            lines.append(line)
        clob = next(
            line.split("=", 1)[1].strip()
            for line in lines
            if line.strip().startswith("POLYMARKET_CLOB_URL=")
        )
        assert requests.get(f"{clob}/ok", timeout=5).json() == "OK"
        status = requests.get(f"{clob}/admin/status", timeout=5).json()
        assert status["speed"] == 60 and status["faults"] == "book:latency=1ms"
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
        assert code == 0, process.stderr.read() if process.stderr else code
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_cli_refuses_a_bad_fault_spec() -> None:
    from click.testing import CliRunner

    from src.cli import cli

    result = CliRunner().invoke(cli, ["emulator", "--faults", "book:latency=fast"])
    assert result.exit_code == 2
    assert "not a duration" in result.output
