"""Keep secrets out of every line PolyFlup writes: logs, tracebacks, tables, reports.

Two nets: the exact secret values registered at start-up (key, API secret, passphrase,
webhook URL), and patterns for secret-shaped text whose value we may not know (a webhook URL,
``private_key=…``, L2 auth headers). Order hashes look like private keys (0x + 64 hex), so a
bare hex string is only redacted when it is a registered secret.
"""

from __future__ import annotations

import re
import threading

MASK = "***"

_PATTERNS = (
    re.compile(r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[^\s'\"<>]+"),
    re.compile(
        r"(?i)((?:private[_ ]?key|proxy_pk|api[_-]?secret|passphrase|poly_signature"
        r"|poly_api_key|poly_passphrase|secret)[\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)"
    ),
)


class Redactor:
    """Replaces registered secret values and secret-shaped text with ``***``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def register(self, *values: str) -> None:
        """Add secret values to hide (short values are ignored: they would mask words)."""
        with self._lock:
            known = set(self._secrets)
            for value in values:
                if value and len(value) >= 6:
                    known.add(value)
                    if value.startswith("0x"):
                        known.add(value[2:])
            # Longest first, so a secret containing another is masked whole.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def clear(self) -> None:
        """Forget every registered value (tests)."""
        with self._lock:
            self._secrets = ()

    def redact(self, text: str) -> str:
        """``text`` with every known secret and secret-shaped fragment masked."""
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _PATTERNS[0].sub(MASK, text)
        return _PATTERNS[1].sub(lambda m: m.group(1) + MASK, text)


REDACTOR = Redactor()


def redact(text: str) -> str:
    """Redact with the process-wide redactor."""
    return REDACTOR.redact(text)
