"""Fuzz: the Data API ``/positions`` parsers and the Polygon receipt parser.

* ``ClobVenue._position_tokens`` (the tokens the account holds, every page): returns a set
  of token ids or raises :class:`VenueUnavailableError`;
* ``parse_redeemable`` returns ``(positions, malformed rows)`` and raises ``ValueError``
  only for an answer that is not a list; ``fetch_redeemable`` turns everything into
  :class:`RedeemError`;
* ``collateral_paid`` ignores malformed logs ("Malformed logs are ignored").
"""

from __future__ import annotations

import base64
from typing import Any
from unittest import mock

import pytest
import requests
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from py_clob_client_v2 import ApiCreds, ClobClient

from src.cli.redeem_cmd import fetch_redeemable
from src.trading.redemption import (
    PUSD_ADDRESS,
    TRANSFER_TOPIC,
    RedeemablePosition,
    RedeemError,
    collateral_paid,
    parse_redeemable,
)
from src.trading.venue.clob import ClobVenue
from src.trading.venue.port import VenueUnavailableError
from tests.unit.fuzz.payloads import corrupted, json_values, scalars

FUZZ = settings(max_examples=100, deadline=None)
POSITION_FIELDS = (
    "asset",
    "conditionId",
    "size",
    "currentValue",
    "redeemable",
    "negativeRisk",
    "title",
    "slug",
    "outcome",
)
ME = "0x56687bf447db6ffa42ffe2204a05edaa20f55839"

positions_rows = corrupted(
    "data_api_positions_response.json", keys=POSITION_FIELDS, focus=POSITION_FIELDS
)
# The sample marks only one row redeemable: flip the flag often so the row parser runs.
redeemable_rows = positions_rows.map(
    lambda rows: (
        [{**r, "redeemable": True} if isinstance(r, dict) else r for r in rows]
        if isinstance(rows, list)
        else rows
    )
)


class Answer:
    """A ``requests`` response: a status and a body that may not be JSON."""

    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.body = body

    def __repr__(self) -> str:
        return f"Answer({self.status_code}, {self.body!r})"

    def json(self) -> Any:
        if isinstance(self.body, bytes):
            raise requests.exceptions.JSONDecodeError("Expecting value", "", 0)
        return self.body


class OneAnswerSession:
    """Answers ``answer`` once, then an empty page (a drawn full page cannot loop)."""

    def __init__(self, answer: Answer) -> None:
        self.answers = [answer]

    def get(self, url: str, timeout: float) -> Answer:
        return self.answers.pop(0) if self.answers else Answer(200, [])


answers = st.builds(
    Answer,
    st.sampled_from([200, 200, 200, 404, 429, 500]),
    positions_rows | json_values(POSITION_FIELDS) | st.binary(max_size=20),
)


@pytest.fixture(scope="module")
def venue() -> ClobVenue:
    client = ClobClient("http://127.0.0.1:9", chain_id=137, key="0x" + "22" * 32)
    secret = base64.urlsafe_b64encode(b"s" * 32).decode()
    client.set_api_creds(ApiCreds("key", secret, "pass"))
    return ClobVenue(
        client,
        data_url="http://127.0.0.1:9/data",
        rate_per_s=1e6,  # no pacing between examples
        read_attempts=1,
        retry_wait_s=0,
    )


# Found by fuzzing (fixed): a 200 /positions body that is not JSON raised
# requests.JSONDecodeError
@pytest.mark.usefixtures("reference_samples")
@FUZZ
@example(answer=Answer(200, b"<html>bad gateway</html>"))
@given(answer=answers)
def test_position_tokens_raise_only_venue_unavailable(
    venue: ClobVenue, answer: Answer
) -> None:
    venue._session = OneAnswerSession(answer)  # type: ignore[assignment]
    try:
        tokens = venue._position_tokens()
    except VenueUnavailableError:
        return
    assert all(isinstance(t, str) for t in tokens)


def check_redeemable(rows: Any) -> None:
    try:
        positions, malformed = parse_redeemable(rows)
    except ValueError:
        assert not isinstance(rows, list)
        return
    event(f"{len(positions)} redeemable, {malformed} malformed")
    assert isinstance(rows, list) and 0 <= malformed <= len(rows) - len(positions)
    for position in positions:
        assert isinstance(position, RedeemablePosition)
        assert type(position.size_micro) is int and isinstance(position.condition_id, str)
        assert position.value_micro is None or type(position.value_micro) is int


@pytest.mark.usefixtures("reference_samples")
@FUZZ
@given(rows=redeemable_rows | json_values(POSITION_FIELDS))
def test_parse_redeemable_counts_bad_rows_and_raises_only_value_error(rows: Any) -> None:
    check_redeemable(rows)


# Found by fuzzing (fixed): a size of 1e30 raised decimal.InvalidOperation out of
# parse_redeemable
@FUZZ
@example(size=1e30)
@given(size=st.sampled_from([1e22, "1e30", 10**25, "9" * 30]) | scalars)
def test_a_huge_position_size_is_a_malformed_row(size: Any) -> None:
    row = {"redeemable": True, "conditionId": "0x" + "ab" * 32, "asset": "1", "size": size}
    check_redeemable([row, {**row, "size": 1, "currentValue": size}])


@pytest.mark.usefixtures("reference_samples")
@FUZZ
@given(answer=answers)
def test_fetch_redeemable_raises_only_redeem_error(answer: Answer) -> None:
    with mock.patch.object(requests, "Session", lambda: OneAnswerSession(answer)):
        try:
            positions = fetch_redeemable("http://127.0.0.1:9", ME)
        except RedeemError:
            return
    assert all(isinstance(p, RedeemablePosition) for p in positions)


def transfer_log(value: int = 2_000_000) -> dict[str, Any]:
    return {
        "address": PUSD_ADDRESS,
        "topics": [TRANSFER_TOPIC, "0x" + "00" * 32, "0x" + "00" * 12 + ME[2:]],
        "data": hex(value),
    }


corrupted_logs = st.lists(
    st.just(transfer_log())
    | st.builds(
        lambda log, key, value: {**log, key: value},
        st.just(transfer_log()),
        st.sampled_from(["address", "topics", "data"]),
        json_values(),
    )
    | json_values(),
    max_size=3,
)


@FUZZ
@given(status=st.sampled_from(["0x1", "0x0", 1]) | scalars, logs=corrupted_logs)
def test_collateral_paid_ignores_malformed_log_entries(
    status: Any, logs: list[Any]
) -> None:
    paid = collateral_paid({"status": status, "logs": logs}, PUSD_ADDRESS, ME)
    assert paid is None or type(paid) is int


# Found by fuzzing (fixed): a Transfer log with data -1 became a payout of -1
@FUZZ
@example(data=-1)
@given(data=st.integers(-(2**300), -1) | st.integers(2**256, 2**300) | st.just("-0x10"))
def test_a_transfer_log_with_an_impossible_amount_is_ignored(data: Any) -> None:
    log = {**transfer_log(), "data": data}
    paid = collateral_paid({"status": "0x1", "logs": [log]}, PUSD_ADDRESS, ME)
    assert paid is None or 0 <= paid < 2**256


# Found by fuzzing (fixed): a receipt with logs: 5 raised TypeError after the redeem was
# sent
@FUZZ
@example(logs=5)
@given(logs=json_values())
def test_collateral_paid_survives_a_malformed_logs_field(logs: Any) -> None:
    paid = collateral_paid({"status": "0x1", "logs": logs}, PUSD_ADDRESS, ME)
    assert paid is None or type(paid) is int
