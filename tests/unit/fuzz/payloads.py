"""Hostile payloads for the fuzz tests: JSON of every shape, and real payloads corrupted.

Real samples are read from ``../shared/reference/fixtures`` when a test first draws from
:func:`corrupted` (never copied into the project); tests using it request the
``reference_samples`` fixture, which skips them when the folder is absent. :func:`mutated`
corrupts a sample the way a broken or hostile peer would: fields dropped, replaced by the
wrong type, NaN, Infinity, huge or negative numbers, unknown enum values, lists truncated
or emptied.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from typing import Any

# Imported up front: py_ecc (under the CLOB client) raises the recursion limit at import,
# which Hypothesis warns about when the first import happens inside a test.
import py_clob_client_v2  # noqa: F401
from hypothesis import strategies as st

from tests.conftest import SHARED

FIXTURES = SHARED / "reference" / "fixtures"

# Numbers no sane peer sends, but JSON can carry (10**400 is a valid JSON integer, well
# below Python's 4300-digit int-string limit; json.loads also accepts NaN and Infinity).
huge_numbers = st.one_of(
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 1e308, -1e308, 5e-324]),
    st.builds(
        lambda exponent, sign: sign * 10**exponent,
        st.sampled_from([22, 30, 309, 400]),
        st.sampled_from([1, -1]),
    ),
)
SPECIAL_STRINGS = [
    "",
    " ",
    "NaN",
    "nan",
    "-nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999999999",
    "-1e999999999",
    "1e-999999999",
    "1e30",
    "9" * 40,
    "-0",
    "-1",
    "0",
    "0.0",
    "1",
    "1.5",
    "0.5",
    "0x",
    "0x" + "ab" * 32,
    "1_000",
    "１２",  # full-width digits: Python's int() and Decimal() accept them
    "null",
    "true",
    "[]",
    "{}",
    "2026-01-01T00:00:00Z",
    "1703875200000",
    "BUY",
    "SELL",
    "buy",
    "HOLD",
    "MATCHED",
    "MATCHED_NOT_BROADCASTED",
    "TRADE_STATUS_CONFIRMED",
    "TRADE_STATUS_",
    "ORDER_STATUS_LIVE",
    "ORDER_STATUS_PAUSED",
    "LIVE",
    "UNKNOWN",
    "PLACEMENT",
    "TAKER",
    "MAKER",
    "book",
    "price_change",
    "trade",
    "order",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    huge_numbers,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(SPECIAL_STRINGS),
)


def json_values(keys: Sequence[str] = (), max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value; objects favour ``keys`` so that parsers get past their first check."""
    return _json_values(tuple(keys), max_leaves)


@functools.cache
def _json_values(keys: tuple[str, ...], max_leaves: int) -> st.SearchStrategy[Any]:
    # Built once per key set: constructing a recursive strategy is the costly part.
    names = st.text(max_size=8)
    if keys:
        names = names | st.sampled_from(list(keys))
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=6)
        ),
        max_leaves=max_leaves,
    )


def _mutate(
    draw: st.DrawFn,
    value: Any,
    keys: Sequence[str],
    depth: int,
    focus: Collection[str] | None,
) -> Any:
    """``value`` with a few parts corrupted (dropped, replaced by any value, or corrupted in
    turn); with ``focus``, only the fields of those names are touched. Few parts at a time,
    so that most corrupted payloads still get deep into the parser."""
    if isinstance(value, dict):
        out = dict(value)
        names = [k for k in value if focus is None or k in focus]
        targets = (
            draw(st.lists(st.sampled_from(names), max_size=3, unique=True)) if names else []
        )
        for key in targets:
            action = draw(st.integers(0, 3))
            if action == 0:
                del out[key]
            elif action == 1:
                out[key] = draw(scalars if depth > 2 else json_values(keys, 8))
            else:
                out[key] = _mutate(draw, value[key], keys, depth + 1, focus)
        for key in draw(st.lists(st.sampled_from([*keys, "x"]), max_size=1)):
            out[key] = draw(scalars)  # an unknown or duplicated field
        return out
    if isinstance(value, list):
        items = list(value)
        if items and draw(st.integers(0, 3)) == 0:
            items = items[: draw(st.integers(0, len(items) - 1))]  # truncated or emptied
        if items:
            for index in draw(st.lists(st.integers(0, len(items) - 1), max_size=2)):
                items[index] = _mutate(draw, items[index], keys, depth + 1, focus)
        return items
    if draw(st.booleans()):
        return draw(scalars)
    return value


@st.composite
def mutated(
    draw: st.DrawFn,
    seed: Any,
    keys: Sequence[str] = (),
    focus: Collection[str] | None = None,
) -> Any:
    """A corrupted copy of ``seed`` (rarely: the seed itself, or anything at all)."""
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return seed
    if kind == 1:
        return draw(json_values(keys))
    return _mutate(draw, seed, keys, 0, focus)


@st.composite
def wire_texts(draw: st.DrawFn, payload: Any) -> str:
    """``payload`` as a text frame, sometimes truncated, doubled or replaced by noise."""
    text = json.dumps(payload, allow_nan=True)
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return text[: draw(st.integers(0, len(text)))]
    if kind == 1:
        return draw(st.text(max_size=30))
    if kind == 2:
        return draw(st.sampled_from(["PONG", "PING", " PONG ", "[]", "[[]]", "null", "1"]))
    if kind == 3:
        return f"[{text}, {text}]"
    return text


@functools.cache
def sample(name: str) -> Any:
    """One reference payload, parsed (callers request ``reference_samples`` first)."""
    return json.loads((FIXTURES / name).read_text())


def corrupted(
    *names: str,
    keys: Sequence[str] = (),
    focus: Collection[str] | None = None,
    extra: Sequence[Any] = (),
) -> st.SearchStrategy[Any]:
    """Corrupted copies of the named samples (and of ``extra`` ones), read on first draw."""
    return st.deferred(
        lambda: st.sampled_from([*(sample(n) for n in names), *extra]).flatmap(
            lambda seed: mutated(seed, keys, focus)
        )
    )


def unix_time_trade(event: bool = False) -> dict[str, Any]:
    """The sample user-channel trade in the venue's documented shape: unix-second times and
    a ``side`` on each maker order (the sample has ISO times and no maker side, which
    ``fills_from_trade`` refuses, so no corrupted copy of it could ever parse); ``event``
    adds ``event_type: trade``."""
    trade = dict(sample("ws_user_trade.json"))
    trade.update(last_update="1703875260", match_time="1703875200", trader_side="TAKER")
    trade["maker_orders"] = [{**m, "side": "SELL"} for m in trade["maker_orders"]]
    return {**trade, "event_type": "trade"} if event else trade
