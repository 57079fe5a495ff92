"""The ledger world (emulator with a manual clock, ClobVenue, migrated sqlite) reused for
the streams; plus helpers to start and always stop stream threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.ledger.conftest import World, world

pytestmark = pytest.mark.integration


class Stoppers:
    """Collects ``stop()``-ables; the fixture stops them all after the test."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def add(self, item: object) -> object:
        self.items.append(item)
        item.start()  # type: ignore[attr-defined]
        return item


@pytest.fixture
def started() -> Iterator[Stoppers]:
    """Start workers through ``started.add(x)``; every one is stopped afterwards."""
    stoppers = Stoppers()
    try:
        yield stoppers
    finally:
        for item in reversed(stoppers.items):
            item.stop()  # type: ignore[attr-defined]


__all__ = ["World", "started", "world"]
