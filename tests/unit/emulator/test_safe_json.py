"""Bounded JSON decoding: deep nesting must be refused, never crash the process."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

# Imported for its side effect: py_ecc (via eth_account) raises the recursion limit.
import src.sim.emulator.eip712  # noqa: F401
from src.utils.safe_json import JsonBodyError, loads_bounded, nesting_depth


def test_signature_stack_raises_the_recursion_limit() -> None:
    # The reason the module exists; if this ever fails, the guard is merely belt and braces.
    assert sys.getrecursionlimit() >= 100_000


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "]]]"]', 1),
        ('["\\\\", "[[["]', 1),
        ('["\\"[[[", 1]', 1),
        ('{"k\\\\\\"[": [[]]}', 3),
    ],
)
def test_nesting_depth_ignores_strings(text: str, depth: int) -> None:
    json.loads(text)
    assert nesting_depth(text) == depth


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_is_refused_not_fatal(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = opener * 200_000 + "1" + closer * 200_000
    with pytest.raises(JsonBodyError):
        loads_bounded(body)
    with pytest.raises(JsonBodyError):
        loads_bounded(body.encode())


def test_nesting_up_to_the_limit_is_fine() -> None:
    assert loads_bounded("[" * 32 + "]" * 32, max_depth=32) is not None
    with pytest.raises(JsonBodyError):
        loads_bounded("[" * 33 + "]" * 33, max_depth=32)


@pytest.mark.parametrize(
    "body",
    [b"\xff", "\ufeff{}", "", "{", "1" * 5000, '"\\ud800"x', "[1,]", b"\x00\x00\x00["],
)
def test_bad_bodies_raise_the_typed_error(body: bytes | str) -> None:
    with pytest.raises(JsonBodyError):
        loads_bounded(body)


def test_utf16_is_not_sniffed() -> None:
    with pytest.raises(JsonBodyError):
        loads_bounded('{"a": 1}'.encode("utf-16"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=30,
)


@given(JSON)
def test_round_trips_ordinary_json(value: object) -> None:
    text = json.dumps(value)
    assert loads_bounded(text, max_depth=1000) == value
    assert loads_bounded(text.encode(), max_depth=1000) == value


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


KEYS = st.text(alphabet='[]{}"\\ab', max_size=6)
TRICKY = st.recursive(
    st.text(alphabet='[]{}"\\ab', max_size=8) | st.integers(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3)
    ),
    max_leaves=20,
)


@given(TRICKY)
def test_scan_depth_is_the_true_depth(value: object) -> None:
    """Brackets, quotes and backslashes inside strings never fool the scan."""
    assert nesting_depth(json.dumps(value)) == depth_of(value)


def test_websocket_frames_are_parsed_with_bounded_depth() -> None:
    """A deeply nested frame on a websocket must be refused, not crash the process."""
    from src.sim.emulator.ws_hub import _parse

    assert _parse("[" * 30_000 + "]" * 30_000) is None
    assert _parse('{"type": "market", "assets_ids": ["1"]}') == {
        "type": "market",
        "assets_ids": ["1"],
    }
    assert _parse("not json") is None and _parse("[1]") is None
