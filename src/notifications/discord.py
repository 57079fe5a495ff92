"""Delivery of notifications to a Discord webhook."""

from __future__ import annotations

import requests

from src.notifications.notifier import Kind, Notification

COLOURS = {
    Kind.ENTRY: 0x3498DB,
    Kind.EXIT: 0x2ECC71,
    Kind.STOP_LOSS: 0xE67E22,
    Kind.SETTLEMENT: 0x9B59B6,
    Kind.ERROR: 0xE74C3C,
    Kind.DAILY_SUMMARY: 0x95A5A6,
    Kind.INFO: 0x95A5A6,
}
MAX_CONTENT = 2000  # Discord's limit for a message's content


class DiscordError(RuntimeError):
    """Discord did not accept the message (the text never contains the webhook URL)."""


class DiscordSender:
    """Posts each notification as one webhook message."""

    def __init__(
        self,
        webhook_url: str,
        timeout_s: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self._url = webhook_url
        self._timeout_s = timeout_s
        self._session = session or requests.Session()

    def send(self, notification: Notification) -> None:
        """POST the message; raise :class:`DiscordError` unless Discord accepted it."""
        payload = {
            "username": "PolyFlup",
            "content": notification.text()[:MAX_CONTENT],
            "embeds": [],
            "allowed_mentions": {"parse": []},
        }
        try:
            response = self._session.post(self._url, json=payload, timeout=self._timeout_s)
        except requests.RequestException as exc:
            # The exception text includes the URL, which holds the webhook's secret token.
            raise DiscordError(f"webhook unreachable ({exc.__class__.__name__})") from None
        if response.status_code == 429:
            raise DiscordError("webhook rate limited (429)")
        if response.status_code >= 300:
            raise DiscordError(f"webhook answered HTTP {response.status_code}")
