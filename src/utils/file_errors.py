"""Errors about data files that point at the problem: the file, the line and why."""

from __future__ import annotations

from pathlib import Path


class FileLineError(ValueError):
    """A file that cannot be used as is: names the file, the line (if known) and the
    reason, as ``path:line: reason``."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")
