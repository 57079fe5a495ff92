"""Logging for PolyFlup: ``log``, ``log_error`` and ``audit``, console plus rotating files.

Every record passes through the secret redactor before any handler writes it, tracebacks
included. Emojis follow the user's standards:
👀 monitoring, 🚀 execution, ✅ success/filled, ❌ error, 🎯 placement, 🧹 cancellation,
⚠️ race condition.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.logging import RichHandler

from src.utils.redaction import REDACTOR

LOGGER_NAME = "polyflup"
LOG_FILE = "polyflup.log"
ERROR_LOG_FILE = "errors.log"
AUDIT_LOG_FILE = "audit.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5

EMOJI = {
    "monitor": "👀",
    "execute": "🚀",
    "success": "✅",
    "filled": "✅",
    "error": "❌",
    "place": "🎯",
    "cancel": "🧹",
    "race": "⚠️",
    "info": "ℹ️",
    "money": "💰",
    "settle": "🏁",
    "heartbeat": "💓",
}

_logger = logging.getLogger(LOGGER_NAME)
_audit_logger = logging.getLogger(f"{LOGGER_NAME}.audit")


class RedactingFilter(logging.Filter):
    """Renders each record's message and traceback once, redacted, before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if getattr(record, "_redacted", False):
            return True
        record.msg = REDACTOR.redact(record.getMessage())
        record.args = ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = REDACTOR.redact(text)
            # Keep the rendered text only: a rich traceback would re-render the raw locals.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = REDACTOR.redact(record.stack_info)
        record._redacted = True
        return True


def _owner_only_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (logs may hold order details)."""
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating file handler whose files (and rotated copies) are owner-only."""

    def _open(self):
        _owner_only_file(Path(self.baseFilename))
        return super()._open()


def configure_logging(
    log_dir: Path | None = None,
    level: str = "INFO",
    console: bool = True,
    secrets: tuple[str, ...] | list[str] = (),
) -> None:
    """(Re)configure the ``polyflup`` loggers; safe to call more than once.

    ``log_dir`` None keeps logs on the console only (read-only CLI commands).
    """
    REDACTOR.register(*secrets)
    install_exception_hooks()
    for lg in (_logger, _audit_logger):
        for handler in list(lg.handlers):
            lg.removeHandler(handler)
            handler.close()
    _logger.setLevel(logging.DEBUG)
    _logger.propagate = False
    redacting = RedactingFilter()
    if console:
        if sys.stderr.isatty():
            handler: logging.Handler = RichHandler(
                show_path=False, rich_tracebacks=False, markup=False, log_time_format="[%X]"
            )
            handler.setFormatter(logging.Formatter("%(message)s"))
        else:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(
                logging.Formatter(
                    "%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"
                )
            )
        handler.setLevel(level.upper())
        handler.addFilter(redacting)
        _logger.addHandler(handler)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)-7s [%(threadName)s] %(message)s"
        )
        for name, lvl in ((LOG_FILE, logging.DEBUG), (ERROR_LOG_FILE, logging.ERROR)):
            file_handler = _PrivateRotatingFileHandler(
                log_dir / name, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
            file_handler.setLevel(lvl)
            file_handler.setFormatter(formatter)
            file_handler.addFilter(redacting)
            _logger.addHandler(file_handler)
        audit_handler = _PrivateRotatingFileHandler(
            log_dir / AUDIT_LOG_FILE,
            maxBytes=MAX_BYTES,
            backupCount=BACKUPS,
            encoding="utf-8",
        )
        audit_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        audit_handler.addFilter(redacting)
        _audit_logger.addHandler(audit_handler)
    # Audit lines also reach the main log (propagate to "polyflup").
    _audit_logger.propagate = True
    _audit_logger.setLevel(logging.INFO)


UNHANDLED = "💥 unhandled exception"


def install_exception_hooks() -> None:
    """Exceptions nobody caught — in any thread or the main one — are logged (redacted,
    with their traceback) instead of printed raw to stderr, where a secret in a message
    would escape the redactor. Chaos runs count these lines: there must be none."""

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        _logger.error(
            f"{UNHANDLED} in thread {name}: {args.exc_value!r}",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
        )

    def main_hook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        _logger.error(f"{UNHANDLED}: {exc!r}", exc_info=(exc_type, exc, tb))

    threading.excepthook = thread_hook
    sys.excepthook = main_hook


def log(text: str, level: int = logging.INFO) -> None:
    """Log one line, e.g. ``log(f"👀 [{symbol}] Monitoring {n} positions")``."""
    _logger.log(level, text)


def log_warning(text: str) -> None:
    """Log a warning line (⚠️ is added when the text has no emoji of its own)."""
    _logger.warning(text if _has_emoji(text) else f"⚠️ {text}")


def log_error(text: str, include_traceback: bool = True) -> None:
    """Log an error with context; inside ``except`` the traceback is attached (redacted)."""
    message = text if _has_emoji(text) else f"{EMOJI['error']} {text}"
    has_exc = sys.exc_info()[0] is not None
    _logger.error(message, exc_info=include_traceback and has_exc)


@dataclass(frozen=True)
class AuditEvent:
    """One step of an order's or position's life, for the audit trail.

    ``kind`` picks the emoji (``place`` 🎯, ``filled`` ✅, ``cancel`` 🧹, ``race`` ⚠️,
    ``execute`` 🚀, ``monitor`` 👀, ``error`` ❌ …). Amounts are integer micro-units.
    """

    kind: str
    message: str
    symbol: str | None = None
    client_order_id: str | None = None
    venue_order_id: str | None = None
    size_micro: int | None = None
    price_micro: int | None = None
    window_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def line(self, at_ms: int) -> str:
        """The log line: emoji, kind, message, then order id, size, price and time."""
        from src.utils.money import micro_str

        parts = {
            "symbol": self.symbol,
            "order": self.client_order_id,
            "venue_order": self.venue_order_id,
            "size": None if self.size_micro is None else micro_str(self.size_micro),
            "price": None if self.price_micro is None else micro_str(self.price_micro),
            "at_ms": at_ms,
        }
        details = " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)
        emoji = EMOJI.get(self.kind, "📝")
        return f"{emoji} [{self.kind}] {self.message} | {details}"


def audit(
    event: AuditEvent, cursor: sqlite3.Cursor | None = None, at_ms: int | None = None
) -> None:
    """Log an audit event and, given the active cursor, store it in ``audit_events``.

    ``at_ms`` comes from the caller's Clock; the wall clock is only the fallback.
    """
    when = int(time.time() * 1000) if at_ms is None else at_ms
    _audit_logger.info(event.line(when))
    if cursor is not None:
        from src.data.audit import insert_audit_event

        insert_audit_event(cursor, event, when)


def _has_emoji(text: str) -> bool:
    return bool(text) and ord(text[0]) > 0x2000
