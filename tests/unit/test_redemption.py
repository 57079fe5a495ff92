"""Redemption: calldata, transactions, receipts, the JSON-RPC adapter (no network)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from eth_abi import decode
from eth_account import Account
from eth_utils import keccak

from src.trading.redemption import (
    CTF_ADDRESS,
    CTF_COLLATERAL_ADAPTER,
    PUSD_ADDRESS,
    REDEEM_ARG_TYPES,
    REDEEM_SELECTOR,
    TRANSFER_TOPIC,
    USDC_E_ADDRESS,
    PolygonRpc,
    RedeemError,
    RedeemStatus,
    RedeemTarget,
    RpcUnreachableError,
    build_transaction,
    collateral_paid,
    parse_redeemable,
    redeem_call,
    redeem_on_chain,
    with_gas_margin,
)
from src.utils.clock import SimClock

CID = "0x" + "5a" * 31 + "01"
GWEI = 10**9


def test_selector_is_the_keccak_of_the_signature() -> None:
    signature = "redeemPositions(address,bytes32,bytes32,uint256[])"
    assert keccak(text=signature)[:4] == REDEEM_SELECTOR
    assert REDEEM_SELECTOR.hex() == "01b7037c"


@pytest.mark.parametrize("collateral", [USDC_E_ADDRESS, PUSD_ADDRESS])
def test_calldata_decodes_back_to_the_inputs(collateral: str) -> None:
    data = redeem_call(CID, collateral)
    assert data[:4] == REDEEM_SELECTOR
    token, parent, condition, index_sets = decode(list(REDEEM_ARG_TYPES), data[4:])
    assert token.lower() == collateral.lower()
    assert parent == bytes(32)
    assert condition == bytes.fromhex(CID[2:])
    assert list(index_sets) == [1, 2]


@pytest.mark.parametrize("bad", ["", "0x1234", CID[2:] + "00", "0x" + "zz" * 32])
def test_a_malformed_condition_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="condition id"):
        redeem_call(bad, USDC_E_ADDRESS)


def test_target_by_market_version() -> None:
    assert RedeemTarget.for_version("v1") == RedeemTarget("v1", CTF_ADDRESS, USDC_E_ADDRESS)
    assert RedeemTarget.for_version("v2") == RedeemTarget(
        "v2", CTF_COLLATERAL_ADAPTER, PUSD_ADDRESS
    )
    with pytest.raises(ValueError, match="v3"):
        RedeemTarget.for_version("v3")


def test_transactions_eip1559_and_legacy() -> None:
    common = {"to": CTF_ADDRESS, "data": b"\x01\x02", "chain_id": 137, "nonce": 4}
    modern = build_transaction(
        **common, gas=100_000, gas_price=40 * GWEI, priority_fee=30 * GWEI
    )
    assert modern == {
        "chainId": 137,
        "nonce": 4,
        "gas": 100_000,
        "to": CTF_ADDRESS,
        "data": "0x0102",
        "value": 0,
        "type": 2,
        "maxPriorityFeePerGas": 30 * GWEI,
        "maxFeePerGas": 110 * GWEI,
    }
    legacy = build_transaction(
        **common, gas=100_000, gas_price=40 * GWEI, priority_fee=None
    )
    assert legacy["gasPrice"] == 40 * GWEI and "type" not in legacy
    assert "maxFeePerGas" not in legacy and legacy["value"] == 0
    assert with_gas_margin(100_000) == 120_000


@pytest.mark.parametrize("priority_fee", [30 * GWEI, None])
def test_a_signed_transaction_recovers_to_the_key(priority_fee: int | None) -> None:
    account = Account.create()
    tx = build_transaction(
        to=CTF_COLLATERAL_ADAPTER,
        data=redeem_call(CID, PUSD_ADDRESS),
        chain_id=137,
        nonce=0,
        gas=200_000,
        gas_price=50 * GWEI,
        priority_fee=priority_fee,
    )
    signed = Account.sign_transaction(tx, account.key)
    assert Account.recover_transaction(signed.raw_transaction) == account.address


def transfer_log(token: str, to: str, value: int, sender: str = CTF_ADDRESS) -> dict:
    def topic(address: str) -> str:
        return "0x" + "00" * 12 + address[2:].lower()

    return {
        "address": token,
        "topics": [TRANSFER_TOPIC, topic(sender), topic(to)],
        "data": hex(value),
    }


def test_collateral_paid_reads_transfers_to_the_account() -> None:
    me = Account.create().address
    other = Account.create().address
    receipt = {
        "logs": [
            transfer_log(PUSD_ADDRESS, me, 4_000_000),
            transfer_log(PUSD_ADDRESS, me, 1_500_000),
            transfer_log(PUSD_ADDRESS, other, 9_000_000),  # not ours
            transfer_log(USDC_E_ADDRESS, me, 7_000_000),  # another token
            {"address": PUSD_ADDRESS, "topics": "junk"},  # malformed: ignored
        ]
    }
    assert collateral_paid(receipt, PUSD_ADDRESS, me) == 5_500_000
    assert collateral_paid(receipt, USDC_E_ADDRESS, me) == 7_000_000
    assert collateral_paid({"logs": []}, PUSD_ADDRESS, me) is None


def test_data_api_rows_are_parsed_defensively() -> None:
    good = {
        "conditionId": CID,
        "asset": "123",
        "size": 9.3,
        "currentValue": 9.3,
        "outcome": "Up",
        "slug": "btc-updown-15m-1",
        "title": "Bitcoin Up or Down",
        "redeemable": True,
    }
    rows = [
        good,
        {**good, "redeemable": False},  # not redeemable: left out, not malformed
        {**good, "conditionId": "0x12"},
        {**good, "size": "lots"},
        {"redeemable": True},
        "not a row",
    ]
    positions, malformed = parse_redeemable(rows)
    assert malformed == 4
    [position] = positions
    assert position.condition_id == CID and position.size_micro == 9_300_000
    assert position.value_micro == 9_300_000 and not position.negative_risk
    with pytest.raises(ValueError):
        parse_redeemable({"error": "nope"})


# --- the JSON-RPC adapter against a fake session ---------------------------------------------


class FakeResponse:
    def __init__(self, body: Any, status: int = 200) -> None:
        self.body = body
        self.status_code = status

    def json(self) -> Any:
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


class FakeSession:
    """Answers each JSON-RPC method from a table; an exception in the table is raised."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[dict] = []

    def post(self, url: str, json: dict, timeout: float) -> FakeResponse:
        self.calls.append(json)
        answer = self.answers[json["method"]]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, FakeResponse):
            return answer
        if callable(answer):
            answer = answer(json["params"])
        return FakeResponse({"jsonrpc": "2.0", "id": json["id"], "result": answer})


def rpc(answers: dict[str, Any]) -> tuple[PolygonRpc, FakeSession]:
    session = FakeSession(answers)
    return PolygonRpc("http://127.0.0.1:1", timeout=3, session=session), session  # type: ignore[arg-type]


def test_rpc_errors_carry_the_node_message() -> None:
    error = FakeResponse(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32000, "message": "execution reverted"},
        }
    )
    node, _ = rpc(
        {
            "eth_estimateGas": error,
            "eth_chainId": requests.Timeout("slow"),
            "eth_gasPrice": FakeResponse("oops", status=502),
            "eth_getTransactionCount": "12",
            "eth_maxPriorityFeePerGas": FakeResponse(
                {"id": 1, "error": {"code": -32601, "message": "method not found"}}
            ),
        }
    )
    with pytest.raises(RedeemError, match="eth_estimateGas: execution reverted"):
        node.estimate_gas({"to": CTF_ADDRESS})
    with pytest.raises(RpcUnreachableError, match="did not answer within 3 s"):
        node.chain_id()
    with pytest.raises(RedeemError, match="HTTP 502"):
        node.gas_price()
    with pytest.raises(RedeemError, match="not a hex quantity"):
        node.nonce(CTF_ADDRESS)
    assert node.max_priority_fee() is None  # legacy transactions then


def chain_answers(receipts: list[Any], sent: list[str]) -> dict[str, Any]:
    def send(params: list) -> str:
        sent.append(params[0])
        return "0x" + keccak(bytes.fromhex(params[0][2:])).hex()

    def receipt(params: list) -> Any:
        return receipts.pop(0) if receipts else None

    return {
        "eth_chainId": "0x89",
        "eth_getTransactionCount": "0x3",
        "eth_gasPrice": hex(40 * GWEI),
        "eth_maxPriorityFeePerGas": hex(30 * GWEI),
        "eth_estimateGas": hex(150_000),
        "eth_sendRawTransaction": send,
        "eth_getTransactionReceipt": receipt,
    }


def test_redeem_on_chain_polls_the_receipt_on_the_clock() -> None:
    account = Account.create()
    mined = {
        "status": "0x1",
        "blockNumber": "0x10",
        "gasUsed": hex(120_000),
        "logs": [transfer_log(PUSD_ADDRESS, account.address, 6_250_000)],
    }
    sent: list[str] = []
    node, session = rpc(chain_answers([None, None, mined], sent))
    clock = SimClock(start=1_000.0)
    result = redeem_on_chain(node, account.key.hex(), CID, "v2", clock, wait_s=60, poll_s=2)
    assert result.status is RedeemStatus.MINED and result.paid_micro == 6_250_000
    assert result.block_number == 16 and result.gas_used == 120_000
    assert clock.now() == 1_004.0  # two polls found nothing: two 2 s sleeps, no real wait
    [raw] = sent
    assert Account.recover_transaction(raw) == account.address
    assert result.tx_hash == "0x" + keccak(bytes.fromhex(raw[2:])).hex()
    estimate = next(c for c in session.calls if c["method"] == "eth_estimateGas")
    assert estimate["params"][0]["to"] == CTF_COLLATERAL_ADAPTER
    assert estimate["params"][0]["from"] == account.address


def test_redeem_on_chain_pending_reverted_and_wrong_chain() -> None:
    account = Account.create()
    node, _ = rpc(chain_answers([], []))
    clock = SimClock(start=0.0)
    pending = redeem_on_chain(
        node, account.key.hex(), CID, "v1", clock, wait_s=10, poll_s=2
    )
    assert pending.status is RedeemStatus.PENDING and pending.tx_hash.startswith("0x")
    assert 10 <= clock.now() <= 12
    reverted_receipt = {"status": "0x0", "blockNumber": "0x1", "logs": []}
    node, _ = rpc(chain_answers([reverted_receipt], []))
    reverted = redeem_on_chain(node, account.key.hex(), CID, "v1", clock, wait_s=10)
    assert reverted.status is RedeemStatus.REVERTED and reverted.paid_micro is None
    node, _ = rpc({**chain_answers([], []), "eth_chainId": "0x13882"})
    with pytest.raises(RedeemError, match="chain 80002"):
        redeem_on_chain(node, account.key.hex(), CID, "v1", clock, wait_s=10)


def test_a_send_the_node_did_not_answer_names_the_transaction() -> None:
    account = Account.create()
    answers = chain_answers([], [])
    answers["eth_sendRawTransaction"] = requests.ConnectionError("reset")
    node, _ = rpc(answers)
    with pytest.raises(RedeemError, match="may have been sent"):
        redeem_on_chain(node, account.key.hex(), CID, "v2", SimClock(), wait_s=10)
