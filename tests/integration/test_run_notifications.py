"""A whole ``polyflup run --sim`` with its Discord webhook pointed at a local receiver:
every notification the run records as sent arrives, and the webhook's URL (a secret)
never shows in the output or the logs."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from src.cli import cli

TOKEN = "run-n0tif-t0ken-s3cret"


class Webhook(BaseHTTPRequestHandler):
    """Records every POSTed body and answers 204 like Discord."""

    bodies: ClassVar[list[dict[str, Any]]] = []
    paths: ClassVar[list[str]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        with Webhook.lock:
            Webhook.bodies.append(body)
            Webhook.paths.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Webhook.bodies, Webhook.paths = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}/api/webhooks/4242/{TOKEN}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def run_one_window(webhook_url: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["run", "--sim", "--speed", "300", "--windows", "1", "--profile", "aggressive"],
        env={"DISCORD_WEBHOOK_URL": webhook_url},
        catch_exceptions=False,
    )


def query(sql: str) -> list[tuple]:
    with sqlite3.connect("sim.db") as conn:
        return conn.execute(sql).fetchall()


def test_a_sim_run_notifies_the_webhook_without_leaking_it(webhook: str) -> None:
    result = run_one_window(webhook)
    assert result.exit_code == 0, result.output
    assert "Run stopped (windows)" in result.output

    rows = query("SELECT kind, title, status FROM notifications ORDER BY id")
    assert rows, "the run recorded no notification"
    # none failed or left pending (the rate limit may summarise a burst: "suppressed")
    assert {status for _, _, status in rows} <= {"sent", "suppressed"}, rows
    sent = [(kind, title) for kind, title, status in rows if status == "sent"]
    contents = [b["content"] for b in Webhook.bodies]
    # one POST per notification sent, each carrying its title, all to the webhook's path
    delivered = [re.match(r"\S+ \*\*(.+?)\*\*\n", c) for c in contents]
    assert all(delivered), contents
    assert Counter(m[1] for m in delivered if m) == Counter(title for _, title in sent)
    assert set(Webhook.paths) == {f"/api/webhooks/4242/{TOKEN}"}
    assert all(b["username"] == "PolyFlup" for b in Webhook.bodies)

    kinds = [kind for kind, _, _ in rows]
    assert sent[-1] == ("info", "PolyFlup stopped")  # the last word of the run
    stop = [c for c in contents if "**PolyFlup stopped**" in c]
    assert stop == [contents[-1]] and "sim run stopped (windows)" in stop[0]
    keys = {k for (k,) in query("SELECT dedupe_key FROM notifications")}
    # entries are announced as the venue accepts them: each names one of the run's entries
    entry_orders = {
        f"order:{cid}"
        for (cid,) in query("SELECT client_order_id FROM orders WHERE intent = 'entry'")
    }
    announced = {k for k in keys if k.startswith("order:")}
    assert kinds.count("entry") == len(announced) and announced <= entry_orders
    filled = query(
        "SELECT COUNT(*) FROM orders WHERE intent = 'entry' AND filled_micro > 0"
    )
    assert len(announced) >= filled[0][0]
    # every settled position is announced once
    settled = query(
        "SELECT w.slug, p.outcome FROM settlements s JOIN positions p ON p.id = "
        "s.position_id JOIN windows w ON w.id = p.window_id"
    )
    assert {k for k in keys if k.startswith("settle:")} == {
        f"settle:{slug}:{outcome}" for slug, outcome in settled
    }
    assert kinds.count("settlement") == len(settled)

    logs = list(Path("logs").glob("*.log"))
    assert logs, "the run wrote no log file"
    texts = [result.stdout, result.stderr, result.output]
    texts += [p.read_text(encoding="utf-8") for p in logs]
    for text in texts:
        assert TOKEN not in text and webhook not in text
