"""A named daemon thread that runs a loop until stopped and can be woken from its wait —
the lifecycle every worker shares; each worker writes only its loop."""

from __future__ import annotations

import threading


class LoopThread:
    """``start()`` once, ``wake()`` to cut a wait short, ``stop()`` to end; subclasses
    implement ``_run`` and wait on ``self._wake`` (never in ``time.sleep``), checking
    ``self._stop``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """End the current wait now."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish and wait for it (idempotent)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError
