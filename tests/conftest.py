"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from src.config.settings import options
from src.data.db_connection import close_thread_connection
from src.utils.redaction import REDACTOR

SHARED = Path(__file__).resolve().parents[2] / "shared"

# CI runs the same examples every time (a red run must be reproducible, never luck);
# developers get fresh random examples locally. HYPOTHESIS_PROFILE overrides either.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts in an empty folder with no PolyFlup setting in the environment."""
    for option in options():
        monkeypatch.delenv(option.env, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    close_thread_connection()
    REDACTOR.clear()
    for handler in list(logging.getLogger("polyflup").handlers):
        logging.getLogger("polyflup").removeHandler(handler)
        handler.close()
    for handler in list(logging.getLogger("polyflup.audit").handlers):
        logging.getLogger("polyflup.audit").removeHandler(handler)
        handler.close()


def shared_path(*parts: str) -> Path:
    """A file under ``../shared``; the calling test skips when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path
