"""Uncaught exceptions are logged, redacted, never printed raw."""

from __future__ import annotations

import threading
from pathlib import Path

from src.utils.logger import UNHANDLED, configure_logging

SECRET = "0x" + "ab" * 32


def test_an_exception_escaping_a_thread_is_logged_redacted(tmp_path: Path) -> None:
    configure_logging(tmp_path, console=False, secrets=[SECRET])

    def boom() -> None:
        raise RuntimeError(f"bad payload near {SECRET}")

    worker = threading.Thread(target=boom, name="worker-x")
    worker.start()
    worker.join()
    text = (tmp_path / "polyflup.log").read_text()
    assert f"{UNHANDLED} in thread worker-x" in text
    assert "Traceback" in text and SECRET not in text
