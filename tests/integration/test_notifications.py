"""Notifications to a real local HTTP webhook receiver."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from src.data.db_connection import configure_database
from src.data.migrations import run_migrations
from src.data.notifications_store import DbNotificationStore
from src.notifications.discord import DiscordSender
from src.notifications.notifier import Kind, Notification, Notifier, RateLimit
from src.utils.clock import SimClock
from src.utils.logger import configure_logging
from src.utils.redaction import REDACTOR

KEY = "0x" + "9d" * 32


class Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that records bodies and answers with a scripted status."""

    bodies: ClassVar[list[dict[str, Any]]] = []
    statuses: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        Receiver.bodies.append(json.loads(self.rfile.read(length)))
        status = Receiver.statuses.pop(0) if Receiver.statuses else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.bodies, Receiver.statuses = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}/api/webhooks/1/tok3n-secret"
    server.shutdown()
    server.server_close()


def note(key: str, kind: Kind = Kind.ENTRY, body: str = "BTC UP 10 @ 0.55") -> Notification:
    return Notification(kind, key, f"Entry {key}", body)


def test_delivers_and_redacts(webhook: str) -> None:
    REDACTOR.register(KEY)
    notifier = Notifier(DiscordSender(webhook), SimClock(start=0)).start()
    assert notifier.notify(note("e1", body=f"signed with {KEY}"))
    notifier.stop()
    assert len(Receiver.bodies) == 1
    content = Receiver.bodies[0]["content"]
    assert content.startswith("🎯 **Entry e1**") and KEY not in content
    assert Receiver.bodies[0]["allowed_mentions"] == {"parse": []}


def test_duplicates_are_sent_once_and_recorded_once(webhook: str, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    run_migrations(db)
    configure_database(db)
    notifier = Notifier(
        DiscordSender(webhook), SimClock(start=0), store=DbNotificationStore()
    ).start()
    assert notifier.notify(note("fill-42"))
    assert not notifier.notify(note("fill-42"))
    notifier.stop()
    assert len(Receiver.bodies) == 1
    rows = (
        sqlite3.connect(db)
        .execute("SELECT dedupe_key, status, attempts, sent_ms FROM notifications")
        .fetchall()
    )
    assert rows == [("fill-42", "sent", 1, 0)]


def test_rate_limit_suppresses_and_then_reports(webhook: str) -> None:
    clock = SimClock(start=0)
    notifier = Notifier(DiscordSender(webhook), clock, rate_limit=RateLimit(2, 60)).start()
    for i in range(5):
        notifier.notify(note(f"n{i}"))
    notifier.stop()
    assert len(Receiver.bodies) == 2
    clock.advance(61)
    notifier.start()
    notifier.notify(note("later"))
    notifier.stop()
    assert "(3 more suppressed by the rate limit)" in Receiver.bodies[-1]["content"]


def test_failures_are_retried_then_given_up_without_leaking(
    webhook: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging(tmp_path / "logs", "DEBUG", secrets=[webhook])
    clock = SimClock(start=0)
    Receiver.statuses = [500, 502, 503, 500, 500, 500]
    notifier = Notifier(DiscordSender(webhook), clock, attempts=3, retry_wait_s=2).start()
    notifier.notify(note("a"))  # fails twice, then succeeds
    notifier.notify(note("b", Kind.ERROR))  # fails three times: given up
    notifier.stop()
    assert notifier.delivered == 0 and notifier.failed == 2
    assert len(Receiver.bodies) == 6
    assert clock.now() == pytest.approx(12)  # 2 + 4 s of back-off per message, simulated
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "tok3n-secret" not in logs and "HTTP 500" in logs
    logging.getLogger("polyflup").handlers.clear()


def test_unreachable_webhook_never_raises(tmp_path: Path) -> None:
    notifier = Notifier(
        DiscordSender("http://127.0.0.1:9/api/webhooks/1/x", timeout_s=1),
        SimClock(start=0),
        attempts=1,
    ).start()
    assert notifier.notify(note("x"))
    notifier.stop()
    assert notifier.failed == 1


def test_notify_does_not_wait_for_a_slow_sender() -> None:
    release = threading.Event()
    delivered: list[str] = []

    class Slow:
        def send(self, notification: Notification) -> None:
            assert release.wait(5)
            delivered.append(notification.key)

    notifier = Notifier(Slow(), SimClock(start=0)).start()
    for i in range(3):
        assert notifier.notify(note(f"k{i}"))  # returns while the first is still sending
    assert delivered == []
    release.set()
    notifier.stop()
    assert delivered == ["k0", "k1", "k2"]
