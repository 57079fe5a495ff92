"""``polyflup redeem``: on-chain against a local JSON-RPC receiver, and against the emulator.

The on-chain tests point ``POLYMARKET_CLOB_URL`` and ``POLYMARKET_DATA_URL`` at hosts that
cannot exist and refuse any name lookup but 127.0.0.1: with ``--condition`` the command must
need only the Polygon node.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eth_abi import decode
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes

from src.cli import cli
from src.data.db_connection import configure_database, db_connection
from src.data.ledger_store import (
    apply_fill_event,
    cash_balance,
    insert_order_intent,
    record_cash,
    settle_position,
)
from src.data.migrations import run_migrations
from src.sim.venue import Side as SimSide
from src.trading.execution import TradeParams, execute_trade
from src.trading.ledger.accounting import FeeAsset, Side
from src.trading.ledger.events import FillEvent, FillStatus, OrderIntent
from src.trading.redemption import (
    CTF_ADDRESS,
    CTF_COLLATERAL_ADAPTER,
    PUSD_ADDRESS,
    REDEEM_ARG_TYPES,
    REDEEM_SELECTOR,
    TRANSFER_TOPIC,
    USDC_E_ADDRESS,
)
from src.trading.venue.port import OrderType
from tests.integration.emulator.support import quote
from tests.integration.ledger import conftest as ledger_world
from tests.integration.ledger.conftest import World

pytestmark = pytest.mark.integration
world = ledger_world.world  # the ledger tests' fixture: emulator, key, migrated database

M = 1_000_000
CID = "0x" + "c0" * 31 + "de"
GWEI = 10**9


# --- a Polygon node on 127.0.0.1 ---------------------------------------------------------------


class Node(ThreadingHTTPServer):
    """Answers the JSON-RPC methods a redemption uses; remembers every call."""

    daemon_threads = True

    def __init__(self, payer: str, paid_micro: int, collateral: str) -> None:
        super().__init__(("127.0.0.1", 0), NodeHandler)
        self.payer = payer
        self.paid_micro = paid_micro
        self.collateral = collateral
        self.calls: list[dict[str, Any]] = []
        self.raw: list[bytes] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, method: str, params: list[Any]) -> Any:
        if method == "eth_chainId":
            return "0x89"
        if method == "eth_getTransactionCount":
            return "0x7"
        if method in ("eth_gasPrice", "eth_maxPriorityFeePerGas"):
            return hex(30 * GWEI)
        if method == "eth_estimateGas":
            return hex(180_000)
        if method == "eth_sendRawTransaction":
            raw = bytes.fromhex(params[0][2:])
            self.raw.append(raw)
            return "0x" + keccak(raw).hex()
        if method == "eth_getTransactionReceipt":
            return self.receipt(params[0])
        raise KeyError(method)

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        def topic(address: str) -> str:
            return "0x" + "00" * 12 + address[2:].lower()

        return {
            "transactionHash": tx_hash,
            "status": "0x1",
            "blockNumber": "0x4d2",
            "gasUsed": hex(150_000),
            "logs": [
                {
                    "address": self.collateral,
                    "topics": [TRANSFER_TOPIC, topic(CTF_ADDRESS), topic(self.payer)],
                    "data": "0x" + self.paid_micro.to_bytes(32, "big").hex(),
                }
            ],
        }


class NodeHandler(BaseHTTPRequestHandler):
    server: Node

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.calls.append(body)
        try:
            reply = {"jsonrpc": "2.0", "id": body["id"], "result": None}
            reply["result"] = self.server.answer(body["method"], body["params"])
        except KeyError:
            reply = {
                "jsonrpc": "2.0",
                "id": body["id"],
                "error": {"code": -32601, "message": "method not found"},
            }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name anything tried to resolve other than 127.0.0.1 (refused)."""
    real = socket.getaddrinfo
    seen: list[str] = []

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", b"127.0.0.1"):
            seen.append(str(host))
            raise socket.gaierror(f"test: no lookups of {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return seen


@pytest.fixture
def key() -> str:
    return Account.create().key.hex()


@contextmanager
def node_for(key: str, paid_micro: int, collateral: str = PUSD_ADDRESS) -> Iterator[Node]:
    node = Node(Account.from_key(key).address, paid_micro, collateral)
    thread = threading.Thread(target=node.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield node
    finally:
        node.shutdown()
        node.server_close()


def run_live(tmp_path: Path, key: str, *args: str, stdin: str | None = None, **env: str):
    environment = {
        "POLYMARKET_CLOB_URL": "https://clob.example.invalid",
        "POLYMARKET_DATA_URL": "https://data.example.invalid",
        "POLYMARKET_PRIVATE_KEY": key,
        "POLYMARKET_SIGNATURE_TYPE": "0",
        "POLYMARKET_FUNDER_ADDRESS": "",
        "POLYGON_RPC_URL": "",
        "POLYFLUP_DB": str(tmp_path / "bot.db"),
        "POLYFLUP_LOG_DIR": str(tmp_path / "logs"),
        **env,
    }
    return CliRunner().invoke(
        cli,
        ["--env-file", str(tmp_path / "absent.env"), "redeem", *args],
        env=environment,
        input=stdin,
        catch_exceptions=False,
    )


def settled_ledger(db: Path, condition_id: str, size_micro: int) -> str:
    """A database holding one UP position of the market, bought at 0.50 and settled as won."""
    run_migrations(db)
    configure_database(db)
    with db_connection() as cur:
        record_cash(cur, "deposit", 100 * M, 0)
        cur.execute(
            "INSERT INTO windows (id, symbol, slug, condition_id, up_token_id, "
            "down_token_id, start_ms, end_ms, created_ms) "
            "VALUES (1, 'BTC', 'btc-updown-15m-900', ?, 'tok-up', 'tok-down', 900000, "
            "1800000, 0)",
            (condition_id,),
        )
        intent = OrderIntent(
            "entry-1", "tok-up", "BTC", "UP", Side.BUY, "entry", "FOK", 500_000,
            size_micro, "live", window_id=1, venue_order_id="0xabc",
        )  # fmt: skip
        insert_order_intent(cur, intent, 1_000_000)
        fill = FillEvent(
            "trade-1", "0xabc", FillStatus.CONFIRMED, Side.BUY, "taker", 500_000,
            size_micro, 0, FeeAsset.SHARES, 1_000_000,
        )  # fmt: skip
        apply_fill_event(cur, fill, 1_000_000)
        settle_position(cur, "tok-up", "UP", 1_800_000)
    return "tok-up"


# --- on-chain ----------------------------------------------------------------------------------


def test_on_chain_redeem_signs_sends_and_books_the_payout(
    tmp_path: Path, key: str, looked_up: list[str]
) -> None:
    address = Account.from_key(key).address
    token = settled_ledger(tmp_path / "bot.db", CID, 10 * M)
    with node_for(key, paid_micro=10 * M) as node:
        result = run_live(
            tmp_path, key, "--condition", CID, "--yes", "--json", POLYGON_RPC_URL=node.url
        )
        assert result.exit_code == 0, result.output
        [raw] = node.raw
    assert looked_up == []  # neither the CLOB nor the Data API was asked anything
    assert Account.recover_transaction(raw) == address
    tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    assert tx["type"] == 2 and tx["chainId"] == 137 and tx["nonce"] == 7
    assert tx["value"] == 0 and tx["gas"] == 216_000  # the estimate + 20 %
    assert tx["maxPriorityFeePerGas"] == 30 * GWEI
    assert "0x" + bytes(tx["to"]).hex() == CTF_COLLATERAL_ADAPTER.lower()
    data = bytes(tx["data"])
    assert data[:4] == REDEEM_SELECTOR
    collateral, parent, condition, index_sets = decode(list(REDEEM_ARG_TYPES), data[4:])
    assert collateral.lower() == PUSD_ADDRESS.lower() and parent == bytes(32)
    assert condition == bytes.fromhex(CID[2:]) and list(index_sets) == [1, 2]

    report = json.loads(result.stdout)
    tx_hash = "0x" + keccak(raw).hex()
    assert report["path"] == "on-chain" and report["positions"] == []
    assert report["redemptions"] == [
        {
            "condition_id": CID,
            "status": "mined",
            "paid": "10",
            "tx_hash": tx_hash,
            "ledger": "recorded",
            "note": None,
        }
    ]
    assert key[2:] not in result.output and key[2:] not in _logs(tmp_path)
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == 100 * M - 5 * M + 10 * M
        status = cur.execute(
            "SELECT status FROM positions WHERE token_id = ?", (token,)
        ).fetchone()[0]
        ref = cur.execute("SELECT redeemed_micro, redeem_ref FROM settlements").fetchone()
        [audited] = cur.execute(
            "SELECT message FROM audit_events WHERE kind = 'money'"
        ).fetchall()
    assert tx_hash in audited[0]
    assert status == "redeemed" and tuple(ref) == (10 * M, tx_hash)


def test_v1_market_calls_the_ctf_with_usdc_e(
    tmp_path: Path, key: str, looked_up: list[str]
) -> None:
    with node_for(key, paid_micro=2 * M, collateral=USDC_E_ADDRESS) as node:
        result = run_live(
            tmp_path,
            key,
            "--condition",
            CID,
            "--market-version",
            "v1",
            "--yes",
            POLYGON_RPC_URL=node.url,
        )
        assert result.exit_code == 0, result.output
        [raw] = node.raw
    tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    assert "0x" + bytes(tx["to"]).hex() == CTF_ADDRESS.lower()
    data = bytes(tx["data"])
    assert decode(list(REDEEM_ARG_TYPES), data[4:])[0].lower() == USDC_E_ADDRESS.lower()
    assert "Redeemed 1 of 1 market(s)" in result.stdout
    assert "no database" in result.stdout  # nothing to record into: said, not failed
    assert looked_up == []


def test_declining_sends_nothing(tmp_path: Path, key: str, looked_up: list[str]) -> None:
    with node_for(key, paid_micro=M) as node:
        result = run_live(
            tmp_path, key, "--condition", CID, stdin="n\n", POLYGON_RPC_URL=node.url
        )
        assert result.exit_code == 0 and "Nothing redeemed" in result.stdout
        assert node.calls == [] and looked_up == []


def test_missing_rpc_url_is_a_configuration_error(
    tmp_path: Path, key: str, looked_up: list[str]
) -> None:
    result = run_live(tmp_path, key, "--condition", CID, "--yes")
    assert result.exit_code == 2
    assert "POLYGON_RPC_URL" in result.stderr
    assert looked_up == []


def test_proxy_wallets_are_sent_to_the_relayer(
    tmp_path: Path, key: str, looked_up: list[str]
) -> None:
    funder = "0x" + "ab" * 20
    result = run_live(
        tmp_path,
        key,
        "--condition",
        CID,
        "--yes",
        POLYMARKET_SIGNATURE_TYPE="2",
        POLYMARKET_FUNDER_ADDRESS=funder,
        POLYGON_RPC_URL="http://127.0.0.1:9",
    )
    assert result.exit_code == 1
    assert "relayer" in result.stderr and funder in result.stderr
    assert "polymarket.com" in result.stderr
    assert looked_up == []


def test_a_malformed_condition_is_a_usage_error(tmp_path: Path, key: str) -> None:
    result = run_live(tmp_path, key, "--condition", "0x1234", "--dry-run")
    assert result.exit_code == 2 and "condition id" in result.output


def _logs(tmp_path: Path) -> str:
    folder = tmp_path / "logs"
    return "".join(p.read_text() for p in folder.glob("*")) if folder.exists() else ""


# --- against the emulator ----------------------------------------------------------------------


def run_emulator(world: World, *args: str) -> Result:
    env = {
        **world.emu.env(),
        "POLYMARKET_PRIVATE_KEY": world.key,
        "POLYGON_RPC_URL": "",
        "POLYFLUP_DB": str(world.db),
        "POLYFLUP_LOG_DIR": str(world.db.parent / "logs"),
    }
    return CliRunner().invoke(
        cli,
        ["--env-file", str(world.db.parent / "absent.env"), "redeem", *args],
        env=env,
        catch_exceptions=False,
    )


def test_emulator_redeems_a_won_position_and_books_it(world: World) -> None:
    market = world.market
    with db_connection() as cur:
        cur.execute(
            "INSERT INTO windows (id, symbol, slug, condition_id, up_token_id, "
            "down_token_id, start_ms, end_ms, created_ms) VALUES (1, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                market.coin,
                market.slug,
                market.condition_id,
                market.up_token_id,
                market.down_token_id,
                market.start * 1000,
                market.end * 1000,
            ),
        )
    tokens = {"UP": market.up_token_id, "DOWN": market.down_token_id}
    for outcome, token in tokens.items():
        quote(world.emu, token, SimSide.SELL, "0.50", "20")
        execute_trade(
            TradeParams(
                "BTC",
                outcome,
                token,
                Side.BUY,
                Decimal("0.50"),
                Decimal("10"),
                OrderType.FAK,
                window_id=1,
                client_order_id=f"buy-{outcome}",
            ),
            context=world.ctx,
        )
    world.emu.advance(market.resolves_at - world.emu.clock.now())
    info = world.gamma.market_by_slug(market.slug)
    assert info is not None and info.outcome is not None
    winner = str(info.outcome)
    with db_connection() as cur:
        held = cur.execute(
            "SELECT size_micro FROM positions WHERE token_id = ?", (tokens[winner],)
        ).fetchone()[0]
        for token in tokens.values():
            settle_position(cur, token, winner, int(world.emu.clock.now() * 1000))
    assert held > 9 * M  # 10 bought, less the taker fee in shares

    listed = run_emulator(world, "--dry-run", "--json")
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.stdout)
    assert report["path"] == "emulator" and report["redemptions"] == []
    assert report["conditions"] == [market.condition_id]
    assert sorted(p["outcome"] for p in report["positions"]) == ["Down", "Up"]
    assert {p["condition_id"] for p in report["positions"]} == {market.condition_id}
    table = run_emulator(world, "--dry-run")
    assert "Redeemable positions" in table.stdout and market.slug in table.stdout
    assert market.condition_id in table.stdout and "Dry run: nothing sent" in table.stdout

    done = run_emulator(world, "--json")
    assert done.exit_code == 0, done.output
    [redemption] = json.loads(done.stdout)["redemptions"]
    assert redemption["status"] == "redeemed" and redemption["ledger"] == "recorded"
    assert Decimal(redemption["paid"]) * M == held
    with db_connection(readonly=True) as cur:
        assert cash_balance(cur) == world.venue.collateral_micro()
        statuses = {r[0] for r in cur.execute("SELECT status FROM positions")}
    assert statuses == {"redeemed"}
    again = run_emulator(world)
    assert again.exit_code == 0 and "No redeemable positions" in again.stdout
