"""Fixtures of the fuzz tests."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path


@pytest.fixture(scope="session")
def reference_samples() -> None:
    """Skips the test when the reference payloads (``../shared/reference``) are absent."""
    shared_path("reference", "fixtures", "README.md")
