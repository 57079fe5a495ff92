"""``json.loads`` for untrusted JSON (request bodies, venue payloads), safe against deep nesting.

``py_ecc`` (imported by ``eth_account``, hence by every process that verifies signatures)
raises the interpreter's recursion limit to 100,000 at import. The C JSON decoder guards its
recursion with that limit, so a body like ``[[[[…]]]]`` 100,000 levels deep overflows the C
stack and kills the whole process (SIGSEGV) instead of raising ``RecursionError``. Every
JSON text from outside — the emulator's request bodies and websocket frames, the bot's
venue payloads — goes through :func:`loads_bounded`, which counts the nesting first: a
cheap scan over brackets, quotes and backslashes only.
"""

from __future__ import annotations

import json
import re

MAX_JSON_DEPTH = 32
"""Far above any real payload (a batch of orders nests 3 deep, a Gamma event about 5)."""

_TOKENS = re.compile(r'["\\\[\]{}]')


class JsonBodyError(ValueError):
    """The body is not JSON we are willing to decode."""


def nesting_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1
    for match in _TOKENS.finditer(text):
        token, position = match.group(), match.start()
        if in_string:
            if position == escaped_at:
                continue  # the character after a backslash is never structural
            if token == "\\":
                escaped_at = position + 1
            elif token == '"':
                in_string = False
        elif token == '"':
            in_string = True
        elif token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def loads_bounded(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Decode ``body``; :class:`JsonBodyError` for invalid, over-deep or over-long JSON."""
    if isinstance(body, bytes):
        # json.loads would also sniff UTF-16/32, but the client sends UTF-8 and a single
        # encoding keeps the nesting scan exact.
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonBodyError("body is not UTF-8") from None
    if not isinstance(body, str):
        raise JsonBodyError(f"body is {type(body).__name__}")
    if nesting_depth(body) > max_depth:
        raise JsonBodyError(f"nested deeper than {max_depth}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers longer than Python's int-string
        # limit; RecursionError cannot happen below max_depth but costs nothing to catch.
        raise JsonBodyError(f"not JSON: {type(exc).__name__}") from None
