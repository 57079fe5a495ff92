"""The recorder's files: one plain CSV per coin and UTC day, appended row by row, and
rewritten whole (atomically) when a window's outcome becomes known.

``DIR/<coin>-updown-15m-quotes-YYYY-MM-DD.csv`` (the UTC day of each row's ``t_s``), header
first, columns :data:`src.data.quotes.COLUMNS`, mode 0600. Safe to stop at any moment:

* a row is one ``write`` of a whole line, flushed at once; a line cut short by a kill is
  dropped when the files are opened again (the only repair this module makes);
* an outcome is filled in by writing the new file next to the old one, ``fsync`` and
  ``os.replace``: a reader sees the old file or the new one, never half of each;
* :meth:`DailyQuoteFiles.open` indexes the files of the last few days — per window, its
  last ``t_s`` and whether its outcome is known — so a restarted recorder appends without
  ever writing a ``(slug, t_s)`` again (nor an older one) and finds the windows whose
  outcome is still to be filled in.

One recorder per folder: :meth:`~DailyQuoteFiles.open` takes an exclusive ``flock`` on
``DIR/.record.lock`` (dropped by the kernel however the process ends).
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from src.data.market_data.windows import SlugError, parse_slug
from src.data.quotes import (
    COLUMNS,
    QuoteRow,
    QuotesFileError,
    format_row,
    records,
)
from src.recording.rows import daily_file_name, parse_daily_file_name, utc_day
from src.utils.logger import log, log_warning

FILE_MODE = 0o600
LOCK_NAME = ".record.lock"
TMP_SUFFIX = ".tmp"
RESUME_DAYS = 3
"""Files of the last this-many UTC days before "now" (and any later) are indexed when the
recorder starts: older files are complete, and their windows resolved long ago."""

OUTCOME_TEXT = {"UP": "Up", "DOWN": "Down"}


class RecordingLockedError(RuntimeError):
    """Another recorder is writing to the same folder."""


@dataclass
class WindowIndex:
    """What the files hold of one window."""

    slug: str
    last_t: float
    rows: int = 0
    outcome: str | None = None  # "UP" / "DOWN"
    files: set[Path] = field(default_factory=set)

    @property
    def end(self) -> int:
        """When the window closed (unix seconds)."""
        return parse_slug(self.slug).end


@dataclass(frozen=True, slots=True)
class ResumeReport:
    """What :meth:`DailyQuoteFiles.open` found."""

    files: int
    windows: int
    rows: int
    unresolved: int
    repaired_lines: int
    removed_temps: int


def csv_line(fields: list[str]) -> str:
    """One CSV line (``\\n``-terminated) — the same bytes for the same fields, always."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


HEADER_LINE = csv_line(list(COLUMNS))


def _private(path: Path) -> None:
    os.chmod(path, FILE_MODE)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory: the rename is still atomic
    finally:
        os.close(fd)


def drop_unfinished_line(path: Path) -> int:
    """Cut a last line left without its newline (a write cut short); returns the bytes
    dropped (0: the file ends cleanly)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        # find the last newline, reading back in blocks
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - 65536)
            handle.seek(start)
            block = handle.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return size - keep


def _header_of(path: Path) -> list[str] | None:
    with path.open(encoding="utf-8", newline="") as handle:
        for fields in csv.reader(handle):
            if fields and any(f.strip() for f in fields):
                return [f.strip() for f in fields]
    return None


def scan_file(path: Path) -> dict[str, WindowIndex]:
    """The windows of one recording file — last ``t_s``, rows, outcome — read lightly
    (three columns; :func:`src.data.quotes.read_quotes` is the full check). Raises
    :class:`QuotesFileError` on a file that is not a recording."""
    windows: dict[str, WindowIndex] = {}
    columns: tuple[int, int, int] | None = None
    with path.open(encoding="utf-8", newline="") as handle:
        for header, fields, line in records(handle, path, empty_ok=True):
            if columns is None:
                columns = (
                    header.index("slug"),
                    header.index("t_s"),
                    header.index("outcome"),
                )
            slug_at, t_at, outcome_at = columns
            slug = fields[slug_at].strip()
            try:
                parse_slug(slug)
                t_s = float(fields[t_at])
            except (SlugError, ValueError) as exc:
                raise QuotesFileError(path, line, str(exc)) from None
            outcome = fields[outcome_at].strip().upper() or None
            entry = windows.get(slug)
            if entry is None:
                entry = windows[slug] = WindowIndex(slug, t_s)
            entry.last_t = max(entry.last_t, t_s)
            entry.rows += 1
            entry.outcome = entry.outcome or outcome
            entry.files.add(path)
    return windows


def rewrite_outcome(path: Path, slug: str, outcome: str) -> int:
    """Set the outcome of ``slug``'s rows in ``path`` (``"UP"``/``"DOWN"``), atomically:
    a temporary file in the same folder, ``fsync``, ``os.replace``. Other lines keep their
    bytes. Returns the rows changed (0: nothing written)."""
    text = OUTCOME_TEXT[outcome]
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header_at = next(
        (i for i, fields in enumerate(rows) if fields and any(f.strip() for f in fields)),
        None,
    )
    if header_at is None:
        return 0
    header = [f.strip() for f in rows[header_at]]
    if "slug" not in header or "outcome" not in header:
        raise QuotesFileError(path, header_at + 1, "header lacks slug or outcome")
    slug_at, outcome_at = header.index("slug"), header.index("outcome")
    changed = 0
    for fields in rows[header_at + 1 :]:
        ours = len(fields) == len(header) and fields[slug_at].strip() == slug
        if ours and fields[outcome_at] != text:
            fields[outcome_at] = text
            changed += 1
    if not changed:
        return 0
    tmp = path.with_name(f".{path.name}{TMP_SUFFIX}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerows(rows)
            out.flush()
            os.fsync(out.fileno())
        _private(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return changed


class DailyQuoteFiles:
    """The recording folder: rotation by UTC day, resume index, outcome fill-in.

    Not thread-safe: one thread (the recorder's loop) appends and fills in.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._index: dict[str, WindowIndex] = {}
        self._handles: dict[Path, TextIO] = {}
        self._lock_fd: int | None = None
        self.touched: set[Path] = set()  # files written by this run

    # --- lifecycle ---------------------------------------------------------------------

    def open(self, now: float) -> ResumeReport:
        """Lock the folder, drop leftovers of an interrupted run, index recent files."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock()
        removed = 0
        for tmp in self.folder.glob(f".*{TMP_SUFFIX}"):
            if parse_daily_file_name(tmp.name[1 : -len(TMP_SUFFIX)]) is not None:
                # an outcome rewrite cut short: the old file stands, whole
                tmp.unlink(missing_ok=True)
                removed += 1
        cutoff = utc_day(now) - timedelta(days=RESUME_DAYS)
        files = repaired = 0
        for path in sorted(self.folder.iterdir()):
            named = parse_daily_file_name(path.name)
            if named is None or named[1] < cutoff or not path.is_file():
                continue
            dropped = drop_unfinished_line(path)
            if dropped:
                repaired += 1
                log_warning(f"⚠️ {path.name}: dropped an unfinished last line ({dropped} B)")
            files += 1
            for found in scan_file(path).values():
                self._merge(found)
        windows = list(self._index.values())
        return ResumeReport(
            files=files,
            windows=len(windows),
            rows=sum(w.rows for w in windows),
            unresolved=sum(1 for w in windows if w.outcome is None),
            repaired_lines=repaired,
            removed_temps=removed,
        )

    def close(self) -> None:
        """Close every file and release the folder (idempotent)."""
        for path in list(self._handles):
            self._close(path)
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _lock(self) -> None:
        if self._lock_fd is not None:
            return
        path = self.folder / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RecordingLockedError(
                f"another `polyflup record` (pid {holder}) is writing to {self.folder}; "
                "stop it first, or give --out another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _merge(self, found: WindowIndex) -> None:
        entry = self._index.get(found.slug)
        if entry is None:
            self._index[found.slug] = found
            return
        entry.last_t = max(entry.last_t, found.last_t)
        entry.rows += found.rows
        entry.outcome = entry.outcome or found.outcome
        entry.files |= found.files

    # --- what is there -----------------------------------------------------------------

    def window(self, slug: str) -> WindowIndex | None:
        """The index entry of ``slug`` (None: no row of it in the indexed files)."""
        return self._index.get(slug)

    def unresolved(self, now: float) -> list[WindowIndex]:
        """Windows over by ``now`` whose outcome the files do not hold yet, oldest first."""
        found = [w for w in self._index.values() if w.outcome is None and w.end <= now]
        return sorted(found, key=lambda w: (w.end, w.slug))

    def path_for(self, row: QuoteRow) -> Path:
        """The daily file ``row`` belongs in."""
        return self.folder / daily_file_name(row.coin, utc_day(row.t_s))

    # --- writing -----------------------------------------------------------------------

    def append(self, row: QuoteRow) -> bool:
        """Append ``row`` (flushed); False — nothing written — when the files already
        hold this window at ``row.t_s`` or later."""
        entry = self._index.get(row.slug)
        if entry is not None and row.t_s <= entry.last_t:
            return False
        path = self.path_for(row)
        handle = self._handle(path)
        handle.write(csv_line(format_row(row)))
        handle.flush()
        if entry is None:
            entry = self._index[row.slug] = WindowIndex(row.slug, row.t_s)
        entry.last_t = row.t_s
        entry.rows += 1
        entry.outcome = entry.outcome or row.outcome
        entry.files.add(path)
        return True

    def fill_outcome(self, slug: str, outcome: str) -> int:
        """Write ``outcome`` (``"UP"``/``"DOWN"``) on every row of ``slug``, each file
        replaced atomically; returns the rows changed."""
        if outcome not in OUTCOME_TEXT:
            raise ValueError(f"outcome must be UP or DOWN, got {outcome!r}")
        entry = self._index.get(slug)
        if entry is None:
            return 0
        changed = 0
        for path in sorted(entry.files):
            self._close(path)  # the rename replaces the file under an open handle
            count = rewrite_outcome(path, slug, outcome)
            if count:
                self.touched.add(path)
            changed += count
        entry.outcome = outcome
        return changed

    def _handle(self, path: Path) -> TextIO:
        handle = self._handles.get(path)
        if handle is not None:
            return handle
        coin_prefix = path.name.split("-", 1)[0] + "-"
        for other in [p for p in self._handles if p.name.startswith(coin_prefix)]:
            self._close(other)  # a new day for this coin: the old file is done
        if path.exists():
            dropped = drop_unfinished_line(path)
            if dropped:
                log_warning(f"⚠️ {path.name}: dropped an unfinished last line ({dropped} B)")
            header = _header_of(path)
            if header is not None and header != list(COLUMNS):
                raise QuotesFileError(
                    path,
                    1,
                    "its columns differ from the recorder's; move the file away to "
                    "record into this folder",
                )
        else:
            header = None
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        _private(path)
        handle = os.fdopen(fd, "a", encoding="utf-8", newline="")
        if header is None:
            handle.write(HEADER_LINE)
            handle.flush()
            log(f"📁 {path.name}: new daily file")
        self._handles[path] = handle
        self.touched.add(path)
        return handle

    def _close(self, path: Path) -> None:
        handle = self._handles.pop(path, None)
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
