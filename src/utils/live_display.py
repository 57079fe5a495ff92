"""A status redrawn in place on the terminal: the bot's dashboard, the recorder's table.

``status_fn`` is called from rich's refresh thread, so it must be safe to call from another
thread; ``render`` turns its snapshot into something rich can draw. A failing status shows
its error in a red panel, logged once per distinct error: a display must never take down
what it displays.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

from rich.console import Console, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from src.utils.logger import log_error

StatusT = TypeVar("StatusT")


class LiveDisplay(Generic[StatusT]):
    """``render(status_fn())`` redrawn in place while entered."""

    def __init__(
        self,
        status_fn: Callable[[], StatusT],
        render: Callable[[StatusT], RenderableType],
        console: Console,
        *,
        refresh_per_second: float = 4,
        label: str = "Live view",
        transient: bool = False,
    ) -> None:
        """Wrap ``status_fn``; nothing is displayed until the display is entered.
        ``label`` names the display in the log; ``transient`` clears the last frame on
        exit instead of leaving it on screen."""
        self._status_fn = status_fn
        self._render = render
        self._console = console
        self._refresh_per_second = refresh_per_second
        self._label = label
        self._transient = transient
        self._live: Live | None = None
        self._last_error: str | None = None

    def renderable(self) -> RenderableType:
        """The rendering of ``status_fn()`` now, or a red panel with its error."""
        try:
            rendered = self._render(self._status_fn())
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            # Logged once per distinct error: the refresh thread would repeat it 4×/s.
            if text != self._last_error:
                self._last_error = text
                log_error(f"❌ {self._label}: status unavailable: {text}")
            return Panel(
                Text(text, style="red"),
                title="status unavailable",
                title_align="left",
                border_style="red",
            )
        self._last_error = None
        return rendered

    def refresh(self) -> None:
        """Redraw now (when entered) instead of waiting for the next tick."""
        if self._live is not None:
            self._live.refresh()

    def __enter__(self) -> LiveDisplay[StatusT]:
        """Start drawing."""
        self._live = Live(
            console=self._console,
            get_renderable=self.renderable,
            refresh_per_second=self._refresh_per_second,
            # Off a terminal there is nothing to redraw in place: rich prints the final
            # frame on exit, so a refresh thread would only call status_fn for nothing.
            auto_refresh=self._console.is_terminal,
            screen=False,
            transient=self._transient,
        )
        self._live.start(refresh=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop drawing."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()
