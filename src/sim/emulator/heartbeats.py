"""The ``/v1/heartbeats`` dead-man switch: no valid heartbeat for 10 s cancels every open
order of the account (on the emulator's clock).

A session starts with a heartbeat carrying an empty id; the answer's ``heartbeat_id`` is
the one to send next. A wrong id is refused with ``400 {"error": "Invalid Heartbeat ID",
"heartbeat_id": <expected>}``; after the switch fired, the next heartbeat starts over.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass

INVALID_HEARTBEAT_ID = "Invalid Heartbeat ID"


@dataclass(frozen=True, slots=True)
class HeartbeatAnswer:
    """What ``POST /v1/heartbeats`` replies: accepted or not, and the id to send next."""

    accepted: bool
    heartbeat_id: str

    def body(self) -> dict[str, str]:
        """The JSON body (200 when accepted, else 400 with the expected id)."""
        if self.accepted:
            return {"heartbeat_id": self.heartbeat_id}
        return {"error": INVALID_HEARTBEAT_ID, "heartbeat_id": self.heartbeat_id}


@dataclass(slots=True)
class _Session:
    heartbeat_id: str
    last_beat: float


class Heartbeats:
    """Heartbeat sessions per account; thread-safe, ids drawn from a seeded RNG."""

    def __init__(self, timeout: float, seed: int = 0) -> None:
        self._timeout = timeout
        self._rng = random.Random(f"heartbeats/{seed}")
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    @property
    def timeout(self) -> float:
        """Seconds without a valid heartbeat before the orders go."""
        return self._timeout

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def beat(self, account: str, heartbeat_id: str | None, now: float) -> HeartbeatAnswer:
        """Register a heartbeat of ``account`` at ``now``.

        An empty id starts (or continues) the session; a non-empty one must be the
        session's id, else the answer is a refusal naming the id to use.
        """
        with self._lock:
            session = self._sessions.get(account)
            if session is None:
                session = _Session(self._new_id(), now)
                self._sessions[account] = session
                if heartbeat_id:
                    return HeartbeatAnswer(False, session.heartbeat_id)
                return HeartbeatAnswer(True, session.heartbeat_id)
            if heartbeat_id and heartbeat_id != session.heartbeat_id:
                return HeartbeatAnswer(False, session.heartbeat_id)
            session.last_beat = now
            return HeartbeatAnswer(True, session.heartbeat_id)

    def expired(self, now: float) -> list[str]:
        """Accounts whose last heartbeat is older than the timeout; their sessions end."""
        with self._lock:
            due = [
                account
                for account, session in self._sessions.items()
                if now - session.last_beat > self._timeout
            ]
            for account in due:
                del self._sessions[account]
            return due

    def active(self) -> dict[str, float]:
        """``{account: last heartbeat time}`` of the running sessions."""
        with self._lock:
            return {a: s.last_beat for a, s in self._sessions.items()}
