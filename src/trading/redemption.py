"""Redeeming resolved positions on Polygon: calldata, the transaction, a JSON-RPC adapter.

The pure part builds ``redeemPositions(address,bytes32,bytes32,uint256[])`` calldata and the
unsigned transaction; :class:`PolygonRpc` is the only piece that talks to a node, and
:func:`redeem_on_chain` signs, sends and waits for the receipt on the given Clock.

Which contract and collateral (reference ``polymarket_api.md`` §1, §7):

* ``v1`` — markets traded before the CLOB V2 cut-over (2026-04-28), collateral USDC.e:
  ``ConditionalTokens.redeemPositions(USDC.e, 0x00…00, conditionId, [1, 2])`` directly.
* ``v2`` — pUSD markets go through the CtfCollateralAdapter. **Assumption:** the adapter
  exposes the same ``redeemPositions(address,bytes32,bytes32,uint256[])`` signature with
  pUSD as the collateral argument. Its ABI is not in our sources; if it differs, the node
  rejects the call at gas estimation and nothing is sent. Polymarket's docs say the adapter
  must be approved once (CTF ``setApprovalForAll``); this module sends no approvals.

Only externally owned accounts (signature type 0) can send this transaction themselves:
tokens held by a Polymarket proxy or Safe wallet move only through that wallet, via
Polymarket's relayer, which is not implemented here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import requests
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from src.utils.clock import Clock
from src.utils.logger import log, log_warning
from src.utils.money import from_micro, to_micro_floor

POLYGON_CHAIN_ID = 137
CTF_ADDRESS = to_checksum_address("0x4D97DCd97eC945f40cF65F87097ACe5EA0476045")
USDC_E_ADDRESS = to_checksum_address("0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174")
CTF_COLLATERAL_ADAPTER = to_checksum_address("0xAdA100Db00Ca00073811820692005400218FcE1f")
PUSD_ADDRESS = to_checksum_address("0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB")

REDEEM_SIGNATURE = "redeemPositions(address,bytes32,bytes32,uint256[])"
REDEEM_SELECTOR = function_signature_to_4byte_selector(REDEEM_SIGNATURE)
REDEEM_ARG_TYPES = ("address", "bytes32", "bytes32", "uint256[]")
PARENT_COLLECTION_ID = bytes(32)  # top-level positions: no parent collection
BINARY_INDEX_SETS = (1, 2)  # Up and Down: both slots, so either winning side pays
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()

# A Transfer's amount is one uint256 word: "0x" and at most 64 hex digits. int(x, 16)
# alone would also take a sign, underscores, full-width digits and any length.
_UINT256_HEX = re.compile(r"0x[0-9a-fA-F]{1,64}")

MARKET_VERSIONS = ("v1", "v2")
DEFAULT_POLL_S = 2.0  # Polygon makes a block about every 2 s


class RedeemError(RuntimeError):
    """A redemption that could not be done; the text is for people and holds no secret."""


class RpcUnreachableError(RedeemError):
    """The node did not answer (timeout, connection): a sent transaction may exist."""


@dataclass(frozen=True, slots=True)
class RedeemTarget:
    """Where a market's tokens are redeemed: the contract called and the collateral named."""

    version: str
    contract: str
    collateral: str

    @classmethod
    def for_version(cls, version: str) -> RedeemTarget:
        """``v1`` → ConditionalTokens with USDC.e; ``v2`` → the collateral adapter with pUSD
        (the adapter's signature is assumed, see the module's note)."""
        if version == "v1":
            return cls("v1", CTF_ADDRESS, USDC_E_ADDRESS)
        if version == "v2":
            return cls("v2", CTF_COLLATERAL_ADAPTER, PUSD_ADDRESS)
        raise ValueError(f"unknown market version {version!r} (v1 or v2)")


class RedeemStatus(StrEnum):
    """What became of a sent redemption."""

    MINED = "mined"
    REVERTED = "reverted"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class RedeemResult:
    """One redemption transaction. ``paid_micro`` is the collateral the receipt shows
    arriving at the account, or None when the receipt does not show it."""

    condition_id: str
    tx_hash: str
    status: RedeemStatus
    paid_micro: int | None = None
    block_number: int | None = None
    gas_used: int | None = None


# --- pure ---------------------------------------------------------------------------------


def condition_bytes(condition_id: str) -> bytes:
    """``0x`` + 64 hex digits → 32 bytes (``ValueError`` otherwise)."""
    text = condition_id.strip()
    digits = text[2:] if text[:2].lower() == "0x" else ""
    if len(digits) != 64:
        raise ValueError(f"not a condition id (0x + 64 hex digits): {condition_id!r}")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ValueError(
            f"not a condition id (0x + 64 hex digits): {condition_id!r}"
        ) from None


def redeem_call(
    condition_id: str, collateral: str, index_sets: Sequence[int] = BINARY_INDEX_SETS
) -> bytes:
    """Calldata of ``redeemPositions(collateral, 0x00…00, conditionId, indexSets)``."""
    args = (
        to_checksum_address(collateral),
        PARENT_COLLECTION_ID,
        condition_bytes(condition_id),
        list(index_sets),
    )
    return REDEEM_SELECTOR + encode(list(REDEEM_ARG_TYPES), list(args))


def build_transaction(
    *,
    to: str,
    data: bytes,
    chain_id: int,
    nonce: int,
    gas: int,
    gas_price: int,
    priority_fee: int | None,
) -> dict[str, Any]:
    """The unsigned transaction: EIP-1559 when the node suggested a priority fee, legacy
    (``gasPrice``) otherwise. Fees in wei; value is always 0."""
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "to": to_checksum_address(to),
        "data": "0x" + data.hex(),
        "value": 0,
    }
    if priority_fee is None:
        tx["gasPrice"] = gas_price
        return tx
    tx["type"] = 2
    tx["maxPriorityFeePerGas"] = priority_fee
    # eth_gasPrice is about base fee + tip; twice it leaves room for the base fee to rise
    # for a few blocks before inclusion. Only the actual base fee + tip is charged.
    tx["maxFeePerGas"] = 2 * gas_price + priority_fee
    return tx


def with_gas_margin(estimate: int) -> int:
    """The gas limit for an estimate: +20 %, because the estimate is taken against the
    current state and the state may change before the transaction is included."""
    return estimate + estimate // 5


def collateral_paid(
    receipt: Mapping[str, Any], collateral: str, account: str
) -> int | None:
    """Collateral (base units = micro-units) the receipt's ERC-20 ``Transfer`` logs show the
    collateral contract sending to ``account``; None when there is no such log (no payout,
    or one this parser cannot see). Malformed logs are ignored."""
    token = collateral.lower()
    wanted = account.lower()[2:]
    logs = receipt.get("logs")
    # The receipt arrives after the transaction was sent: a malformed one must not raise
    # out of redeem_on_chain, only hide the payout.
    if not isinstance(logs, list):
        return None
    total: int | None = None
    for entry in logs:
        if not isinstance(entry, Mapping):
            continue
        address, topics, data = entry.get("address"), entry.get("topics"), entry.get("data")
        if not isinstance(address, str) or address.lower() != token:
            continue
        if not isinstance(topics, list) or len(topics) != 3:
            continue
        if not all(isinstance(t, str) for t in topics):
            continue
        if topics[0].lower() != TRANSFER_TOPIC or not topics[2].lower().endswith(wanted):
            continue
        if not isinstance(data, str) or not _UINT256_HEX.fullmatch(data):
            continue
        total = (total or 0) + int(data, 16)
    return total


@dataclass(frozen=True, slots=True)
class RedeemablePosition:
    """One row of the Data API's ``/positions?redeemable=true``."""

    condition_id: str
    token_id: str
    title: str
    slug: str
    outcome: str
    size_micro: int
    value_micro: int | None
    negative_risk: bool


def parse_redeemable(rows: Any) -> tuple[list[RedeemablePosition], int]:
    """The redeemable positions of a Data API answer, and how many rows were malformed
    (skipped). Rows the API does not mark ``redeemable: true`` are left out quietly."""
    if not isinstance(rows, list):
        raise ValueError("the Data API answered something other than a list")
    positions: list[RedeemablePosition] = []
    malformed = 0
    for row in rows:
        if not isinstance(row, Mapping):
            malformed += 1
            continue
        if row.get("redeemable") is not True:
            continue
        try:
            condition = str(row["conditionId"])
            condition_bytes(condition)
            size = to_micro_floor(row["size"])
            value = row.get("currentValue")
            positions.append(
                RedeemablePosition(
                    condition_id=condition,
                    token_id=str(row["asset"]),
                    title=str(row.get("title") or ""),
                    slug=str(row.get("slug") or ""),
                    outcome=str(row.get("outcome") or "?"),
                    size_micro=size,
                    value_micro=None if value is None else to_micro_floor(value),
                    negative_risk=row.get("negativeRisk") is True,
                )
            )
        # AmountError is a ValueError; an absurd amount (10^22 and up) has more digits
        # than a Decimal holds in micro-units, and to_micro raises InvalidOperation.
        except (KeyError, ValueError, ArithmeticError):
            malformed += 1
    return positions, malformed


# --- JSON-RPC adapter ---------------------------------------------------------------------


def _quantity(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RedeemError(f"{what}: the node answered {value!r}, not a hex quantity")
    try:
        return int(value, 16)
    except ValueError:
        raise RedeemError(
            f"{what}: the node answered {value!r}, not a hex quantity"
        ) from None


class PolygonRpc:
    """A Polygon node over JSON-RPC (``POLYGON_RPC_URL``). Errors become
    :class:`RedeemError` with the node's message; the URL, which often carries a provider
    key, is never put in a message."""

    def __init__(
        self, url: str, timeout: float = 10.0, session: requests.Session | None = None
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._session = session or requests.Session()
        self._next_id = 0

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """One JSON-RPC call; returns its ``result``."""
        self._next_id += 1
        body = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        try:
            answer = self._session.post(self._url, json=body, timeout=self._timeout)
        except requests.Timeout:
            raise RpcUnreachableError(
                f"{method}: the Polygon node did not answer within {self._timeout:g} s"
            ) from None
        except requests.RequestException as exc:
            raise RpcUnreachableError(
                f"{method}: cannot reach the Polygon node ({exc.__class__.__name__})"
            ) from None
        if answer.status_code != 200:
            raise RedeemError(
                f"{method}: the Polygon node answered HTTP {answer.status_code}"
            )
        try:
            reply = answer.json()
        except ValueError:
            raise RedeemError(f"{method}: the Polygon node answered no JSON") from None
        if not isinstance(reply, Mapping):
            raise RedeemError(f"{method}: malformed JSON-RPC answer")
        error = reply.get("error")
        if error is not None:
            raise RedeemError(f"{method}: {_error_text(error)}")
        if "result" not in reply:
            raise RedeemError(f"{method}: malformed JSON-RPC answer (no result)")
        return reply["result"]

    def chain_id(self) -> int:
        """``eth_chainId``."""
        return _quantity(self.call("eth_chainId", []), "eth_chainId")

    def nonce(self, address: str) -> int:
        """``eth_getTransactionCount`` including pending transactions."""
        result = self.call("eth_getTransactionCount", [address, "pending"])
        return _quantity(result, "eth_getTransactionCount")

    def gas_price(self) -> int:
        """``eth_gasPrice`` in wei."""
        return _quantity(self.call("eth_gasPrice", []), "eth_gasPrice")

    def max_priority_fee(self) -> int | None:
        """``eth_maxPriorityFeePerGas`` in wei; None when the node does not offer it (the
        transaction is then sent as a legacy one)."""
        try:
            result = self.call("eth_maxPriorityFeePerGas", [])
        except RpcUnreachableError:
            raise
        except RedeemError:
            return None
        return _quantity(result, "eth_maxPriorityFeePerGas")

    def estimate_gas(self, tx: Mapping[str, Any]) -> int:
        """``eth_estimateGas`` of a call (``from``, ``to``, ``data``); a revert raises
        :class:`RedeemError` with the node's reason."""
        return _quantity(self.call("eth_estimateGas", [dict(tx)]), "eth_estimateGas")

    def send_raw(self, raw: bytes) -> str:
        """``eth_sendRawTransaction``; returns the transaction hash."""
        result = self.call("eth_sendRawTransaction", ["0x" + raw.hex()])
        if not isinstance(result, str) or not result.startswith("0x"):
            raise RedeemError(f"eth_sendRawTransaction: unexpected answer {result!r}")
        return result

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """``eth_getTransactionReceipt``: the receipt, or None while not mined."""
        result = self.call("eth_getTransactionReceipt", [tx_hash])
        if result is None:
            return None
        if not isinstance(result, Mapping):
            raise RedeemError("eth_getTransactionReceipt: malformed receipt")
        return dict(result)


def _error_text(error: Any) -> str:
    if not isinstance(error, Mapping):
        return str(error)[:300]
    text = str(error.get("message") or "error")
    data = error.get("data")
    if isinstance(data, str) and data and not data.startswith("0x"):
        text = f"{text} ({data})"
    code = error.get("code")
    return f"{text[:300]} (code {code})" if code is not None else text[:300]


# --- signing and sending ------------------------------------------------------------------


def redeem_on_chain(
    rpc: PolygonRpc,
    private_key: str,
    condition_id: str,
    version: str,
    clock: Clock,
    wait_s: float,
    poll_s: float = DEFAULT_POLL_S,
) -> RedeemResult:
    """Redeem the key's tokens of a resolved market: estimate, sign, send, then poll the
    receipt on ``clock`` for up to ``wait_s``. Raises :class:`RedeemError` when nothing was
    sent (wrong chain, a revert at estimation, the node refusing the transaction); once
    sent, the result carries the hash whatever happens (``PENDING`` if not mined in time).
    """
    target = RedeemTarget.for_version(version)
    account = Account.from_key(private_key)
    chain = rpc.chain_id()
    if chain != POLYGON_CHAIN_ID:
        raise RedeemError(
            f"the node is on chain {chain}; the redemption contracts are on Polygon "
            f"({POLYGON_CHAIN_ID})"
        )
    data = redeem_call(condition_id, target.collateral)
    call = {
        "from": account.address,
        "to": target.contract,
        "data": "0x" + data.hex(),
        "value": "0x0",
    }
    gas = with_gas_margin(rpc.estimate_gas(call))
    tx = build_transaction(
        to=target.contract,
        data=data,
        chain_id=chain,
        nonce=rpc.nonce(account.address),
        gas=gas,
        gas_price=rpc.gas_price(),
        priority_fee=rpc.max_priority_fee(),
    )
    signed = Account.sign_transaction(tx, private_key)
    own_hash = "0x" + bytes(signed.hash).hex()
    try:
        tx_hash = rpc.send_raw(bytes(signed.raw_transaction))
    except RpcUnreachableError as exc:
        raise RedeemError(
            f"{exc}; transaction {own_hash} may have been sent — look it up on a Polygon "
            "explorer before trying again"
        ) from exc
    except RedeemError as exc:
        # a node that already holds this exact transaction refuses it a second time
        if "already known" not in str(exc).lower():
            raise
        tx_hash = own_hash
    if tx_hash.lower() != own_hash.lower():
        log_warning(f"⚠️ the node named the transaction {tx_hash}, we computed {own_hash}")
    log(f"🚀 redeem {condition_id[:10]}… ({target.version}) sent: {tx_hash}")
    return _await_receipt(
        rpc, condition_id, tx_hash, target, account.address, clock, wait_s, poll_s
    )


def _await_receipt(
    rpc: PolygonRpc,
    condition_id: str,
    tx_hash: str,
    target: RedeemTarget,
    address: str,
    clock: Clock,
    wait_s: float,
    poll_s: float,
) -> RedeemResult:
    deadline = clock.now() + wait_s
    while True:
        try:
            receipt = rpc.receipt(tx_hash)
        except RedeemError as exc:
            # the transaction is out: a failed poll must not lose its hash
            log_warning(f"⚠️ receipt of {tx_hash}: {exc}")
            receipt = None
        if receipt is not None:
            return _result(condition_id, tx_hash, receipt, target, address)
        if clock.now() >= deadline:
            log_warning(f"⏳ {tx_hash} not mined after {wait_s:g} s")
            return RedeemResult(condition_id, tx_hash, RedeemStatus.PENDING)
        clock.sleep(poll_s)


def _result(
    condition_id: str,
    tx_hash: str,
    receipt: Mapping[str, Any],
    target: RedeemTarget,
    address: str,
) -> RedeemResult:
    def number(key: str) -> int | None:
        try:
            return int(str(receipt[key]), 16)
        except (KeyError, ValueError):
            return None

    ok = number("status") == 1
    paid = collateral_paid(receipt, target.collateral, address) if ok else None
    result = RedeemResult(
        condition_id,
        tx_hash,
        RedeemStatus.MINED if ok else RedeemStatus.REVERTED,
        paid,
        number("blockNumber"),
        number("gasUsed"),
    )
    if ok:
        shown = "payout not shown" if paid is None else f"{from_micro(paid)} paid"
        log(f"✅ redeem {condition_id[:10]}… mined in block {result.block_number}: {shown}")
    else:
        log_warning(f"❌ redeem {condition_id[:10]}… reverted ({tx_hash})")
    return result
