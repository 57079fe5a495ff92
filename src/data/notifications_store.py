"""The ``notifications`` table as a notification store (dedupe by key, delivery status)."""

from __future__ import annotations

from src.data.db_connection import db_connection
from src.notifications.notifier import Notification
from src.utils.redaction import redact


class DbNotificationStore:
    """Records every notification once; the unique ``dedupe_key`` is the dedupe."""

    def claim(self, notification: Notification, now_ms: int) -> bool:
        """Insert the notification; False when its key is already there."""
        with db_connection() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO notifications (created_ms, kind, dedupe_key, title, "
                "body) VALUES (?, ?, ?, ?, ?)",
                (
                    now_ms,
                    str(notification.kind),
                    notification.key,
                    redact(notification.title),
                    redact(notification.body),
                ),
            )
            return cur.rowcount == 1

    def mark(
        self, key: str, status: str, attempts: int, error: str | None, now_ms: int
    ) -> None:
        """Record the outcome of a delivery."""
        with db_connection() as cur:
            cur.execute(
                "UPDATE notifications SET status = ?, attempts = ?, last_error = ?, "
                "sent_ms = CASE WHEN ? = 'sent' THEN ? ELSE sent_ms END "
                "WHERE dedupe_key = ?",
                (status, attempts, error, status, now_ms, key),
            )
