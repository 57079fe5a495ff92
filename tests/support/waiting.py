"""Waiting on another process: these tests drive real child processes (the emulator, the
bot, tmux) whose time is their own, so they cannot be moved through the Clock port; they
wait for a *condition* to hold, re-checked at a short real interval, up to a deadline —
never for a fixed duration."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

POLL_S = 0.05


def wait_until(
    condition: Callable[[], bool],
    what: str,
    timeout_s: float,
    *,
    give_up: Callable[[], bool] = lambda: False,
    poll_s: float = POLL_S,
) -> bool:
    """True once ``condition()`` holds; False as soon as ``give_up()`` does (the process
    being waited on ended); raises ``AssertionError`` naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()  # never set: a bounded wait between two checks
    while not condition():
        if give_up():
            return False
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        pause.wait(poll_s)
    return True
