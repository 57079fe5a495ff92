"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.config.settings import options
from src.data.db_connection import close_thread_connection
from src.utils.redaction import REDACTOR

SHARED = Path(__file__).resolve().parents[2] / "shared"


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
