"""Fault injection: the spec language, and the per-request decisions drawn from a seed.

Spec (``--faults``, ``PUT /admin/faults``) — comma-separated rules, spaces ignored::

    SPEC     := RULE ("," RULE)*                     (empty: no faults)
    RULE     := TARGET ":" KIND "=" VALUE
    TARGET   := a route name (book, order, orders, cancel, data-orders, …)
              | a group: clob, gamma, data, binance
              | all                                    (every HTTP route but admin)
              | ws (every websocket), ws-market, ws-user, binance-ws, rtds
              | engine                                 (the matching engine)
    DURATION := NUMBER ("ms" | "s" | "m")
    P        := a probability in [0, 1]

    latency=DURATION[..DURATION]  wait before answering (uniform in the range)
    5xx=P[/STATUS]                answer STATUS (default 500) without acting
    429=P[/DURATION]              answer 429 "Too Many Requests", Retry-After DURATION (1s)
    timeout=P[/DURATION]          act, then hold the answer DURATION (30s) — past the
                                  client's timeout: the order exists, the client never knows
    drop=P                        act, then close the connection without an answer
    stale=DURATION|on             book reads (book, books, midpoint(s), price(s),
                                  spread(s), last-trade-price(s)) answer from a snapshot
                                  up to DURATION old (emulator clock); "on": frozen
    drop=DURATION                 (websocket targets) close every connection DURATION of
                                  emulator time after it opened
    postonly=on|off|DURATION      (engine) post-only mode, for DURATION emulator seconds
    fail=P                        (engine) each new trade ends FAILED with probability P

Example: ``order:5xx=0.1,book:latency=50ms,all:429=0.02,ws:drop=30s``.

Draws are deterministic: each rule has its own RNG seeded by (seed, rule index, rule
text) and draws once per matching request, in arrival order.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

GROUPS = ("all", "clob", "gamma", "data", "binance")
WS_TARGETS = ("ws", "ws-market", "ws-user", "binance-ws", "rtds")
ENGINE = "engine"

DEFAULT_RETRY_AFTER_S = 1.0
DEFAULT_HOLD_S = 30.0
SERVER_ERROR = "Internal server error"
TOO_MANY_REQUESTS = "Too Many Requests"

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
_TARGET = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class FaultKind(StrEnum):
    """The kinds of fault a rule can inject."""

    LATENCY = "latency"
    SERVER_ERROR = "5xx"
    RATE_LIMIT = "429"
    TIMEOUT = "timeout"
    DROP = "drop"
    STALE = "stale"
    POST_ONLY = "postonly"
    FAIL = "fail"


class FaultSpecError(ValueError):
    """A fault spec that does not parse; the message names the rule and the problem."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One parsed rule. ``probability`` for the random kinds; ``low``/``high`` seconds
    for latency; ``duration`` for holds, Retry-After, staleness, websocket drops and
    post-only; ``status`` for 5xx; ``enabled`` for the on/off kinds."""

    target: str
    kind: FaultKind
    text: str
    probability: float = 1.0
    low: float = 0.0
    high: float = 0.0
    duration: float | None = None
    status: int = 500
    enabled: bool = True

    def matches(self, route: str, group: str) -> bool:
        """True when this rule applies to a request of ``route`` in ``group``."""
        return self.target in (route, group) or (self.target == "all" and group in GROUPS)


def parse_duration(text: str) -> float:
    """``50ms`` → 0.05, ``2s`` → 2.0, ``1.5m`` → 90.0."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise FaultSpecError(f"{text!r} is not a duration (e.g. 50ms, 2s, 1m)")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def _probability(text: str, rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"{rule}: {text!r} is not a probability") from None
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"{rule}: probability {value} is not in [0, 1]")
    return value


def _split(value: str) -> tuple[str, str | None]:
    head, _, tail = value.partition("/")
    return head, (tail if tail else None)


def _parse_rule(text: str) -> FaultRule:
    target, colon, rest = text.partition(":")
    kind_text, equals, value = rest.partition("=")
    target, kind_text, value = target.strip(), kind_text.strip(), value.strip()
    if not colon or not equals or not value:
        raise FaultSpecError(f"{text!r}: expected TARGET:KIND=VALUE")
    if _TARGET.match(target) is None:
        raise FaultSpecError(f"{text!r}: bad target {target!r}")
    try:
        kind = FaultKind(kind_text)
    except ValueError:
        kinds = ", ".join(k.value for k in FaultKind)
        raise FaultSpecError(f"{text!r}: unknown kind {kind_text!r} ({kinds})") from None
    is_ws = target in WS_TARGETS
    if (target == ENGINE) != (kind in (FaultKind.POST_ONLY, FaultKind.FAIL)):
        raise FaultSpecError(f"{text!r}: postonly and fail go with target 'engine' only")
    if is_ws and kind is not FaultKind.DROP:
        raise FaultSpecError(f"{text!r}: websocket targets take drop=DURATION only")
    if kind is FaultKind.LATENCY:
        low_text, _, high_text = value.partition("..")
        low = parse_duration(low_text)
        high = parse_duration(high_text) if high_text else low
        if high < low:
            raise FaultSpecError(f"{text!r}: latency range is backwards")
        return FaultRule(target, kind, text, low=low, high=high)
    if kind is FaultKind.SERVER_ERROR:
        head, tail = _split(value)
        status = 500
        if tail is not None:
            if not tail.isdigit() or not 500 <= int(tail) <= 599:
                raise FaultSpecError(f"{text!r}: status must be 500..599")
            status = int(tail)
        return FaultRule(target, kind, text, _probability(head, text), status=status)
    if kind in (FaultKind.RATE_LIMIT, FaultKind.TIMEOUT):
        head, tail = _split(value)
        default = DEFAULT_RETRY_AFTER_S if kind is FaultKind.RATE_LIMIT else DEFAULT_HOLD_S
        duration = parse_duration(tail) if tail is not None else default
        return FaultRule(target, kind, text, _probability(head, text), duration=duration)
    if kind is FaultKind.DROP:
        if is_ws:
            return FaultRule(target, kind, text, duration=parse_duration(value))
        return FaultRule(target, kind, text, _probability(value, text))
    if kind is FaultKind.FAIL:
        return FaultRule(target, kind, text, _probability(value, text))
    # stale and postonly: on, off, or a duration
    if value in ("on", "off"):
        return FaultRule(target, kind, text, enabled=value == "on")
    return FaultRule(target, kind, text, duration=parse_duration(value))


def parse_fault_spec(spec: str) -> tuple[FaultRule, ...]:
    """Parse a whole spec; raises :class:`FaultSpecError` at the first bad rule."""
    parts = [part.strip() for part in spec.split(",")]
    return tuple(_parse_rule(part) for part in parts if part)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An answer that replaces the real one: status, JSON body, extra headers."""

    status: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class AfterAction(StrEnum):
    """What happens once the request has been acted on."""

    HOLD = "hold"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Decision:
    """The faults one request gets: a delay, maybe a replacement answer, maybe an action
    on the real answer (held past the client's timeout, or dropped)."""

    latency: float = 0.0
    rejection: Rejection | None = None
    after: AfterAction | None = None
    hold: float = 0.0

    @property
    def clean(self) -> bool:
        """True when nothing is injected."""
        return not self.latency and self.rejection is None and self.after is None


CLEAN = Decision()


def _retry_after(seconds: float) -> str:
    return str(max(1, round(seconds)))


class FaultCounts:
    """How many faults of each kind were injected over the emulator's life (across every
    plan installed), for ``GET /admin/faults`` and chaos reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, kind: str, n: int = 1) -> None:
        """Count ``n`` injections of ``kind``."""
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + n

    def record(self, decision: Decision) -> None:
        """Count what one HTTP decision injects."""
        if decision.latency:
            self.add("latency")
        if decision.rejection is not None:
            self.add("429" if decision.rejection.status == 429 else "5xx")
        if decision.after is AfterAction.HOLD:
            self.add("timeout")
        elif decision.after is AfterAction.DROP:
            self.add("drop")

    def snapshot(self) -> dict[str, int]:
        """The counts so far, by kind."""
        with self._lock:
            return dict(sorted(self._counts.items()))


class FaultPlan:
    """The active rules and their RNGs; thread-safe. Replace it to change the faults."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self.rules = tuple(rules)
        self._lock = threading.Lock()
        self._rngs = [
            random.Random(f"faults/{seed}/{i}/{rule.text}")
            for i, rule in enumerate(self.rules)
        ]
        self._http = [
            (rule, rng)
            for rule, rng in zip(self.rules, self._rngs, strict=True)
            if rule.target != ENGINE
            and rule.target not in WS_TARGETS
            and rule.kind is not FaultKind.STALE
        ]

    @classmethod
    def from_spec(cls, spec: str, seed: int = 0) -> FaultPlan:
        """Parse ``spec`` into a plan."""
        return cls(parse_fault_spec(spec), seed)

    @property
    def spec(self) -> str:
        """The rules, as text."""
        return ",".join(rule.text for rule in self.rules)

    def decide(self, route: str, group: str) -> Decision:
        """Draw the faults of one request to ``route`` (in ``group``)."""
        if not self._http:
            return CLEAN
        latency = 0.0
        rejection: Rejection | None = None
        after: AfterAction | None = None
        hold = 0.0
        with self._lock:
            for rule, rng in self._http:
                if not rule.matches(route, group):
                    continue
                kind = rule.kind
                if kind is FaultKind.LATENCY:
                    latency += rng.uniform(rule.low, rule.high)
                    continue
                hit = rng.random() < rule.probability
                if not hit:
                    continue
                if kind is FaultKind.SERVER_ERROR and rejection is None:
                    rejection = Rejection(rule.status, {"error": SERVER_ERROR})
                elif kind is FaultKind.RATE_LIMIT and rejection is None:
                    seconds = rule.duration or DEFAULT_RETRY_AFTER_S
                    rejection = Rejection(
                        429,
                        {"error": TOO_MANY_REQUESTS},
                        {"Retry-After": _retry_after(seconds)},
                    )
                elif kind is FaultKind.TIMEOUT and after is None:
                    after, hold = AfterAction.HOLD, rule.duration or DEFAULT_HOLD_S
                elif kind is FaultKind.DROP and after is None:
                    after = AfterAction.DROP
        if rejection is not None:
            after = None  # nothing was acted on, so nothing to hold or drop
        return Decision(latency, rejection, after, hold)

    def staleness(self, route: str, group: str) -> float | None:
        """How old a book answer to ``route`` may be (``inf``: frozen); None: fresh."""
        found: float | None = None
        for rule in self.rules:
            if rule.kind is FaultKind.STALE and rule.matches(route, group):
                if rule.duration is None and not rule.enabled:
                    continue
                age = float("inf") if rule.duration is None else rule.duration
                found = age if found is None else max(found, age)
        return found

    def ws_drop_after(self, channel: str) -> float | None:
        """Emulator seconds after which a ``channel`` websocket is closed (None: never)."""
        found: float | None = None
        for rule in self.rules:
            if rule.kind is FaultKind.DROP and rule.target in ("ws", channel):
                duration = rule.duration or 0.0
                found = duration if found is None else min(found, duration)
        return found

    def engine_post_only(self) -> tuple[bool, float | None]:
        """``(on, for how long)`` of the engine's post-only mode (last rule wins)."""
        state: tuple[bool, float | None] = (False, None)
        for rule in self.rules:
            if rule.target == ENGINE and rule.kind is FaultKind.POST_ONLY:
                state = (rule.enabled, rule.duration)
        return state

    def engine_failure(self) -> float | None:
        """The trade failure probability the spec sets (None: the configured one)."""
        found: float | None = None
        for rule in self.rules:
            if rule.target == ENGINE and rule.kind is FaultKind.FAIL:
                found = rule.probability
        return found

    def describe(self) -> list[dict[str, object]]:
        """The rules as JSON-ready dicts (for ``GET /admin/faults``)."""
        return [
            {
                "target": r.target,
                "kind": str(r.kind),
                "rule": r.text,
                "probability": r.probability,
                "latency": [r.low, r.high] if r.kind is FaultKind.LATENCY else None,
                "duration": r.duration,
                "status": r.status if r.kind is FaultKind.SERVER_ERROR else None,
                "enabled": r.enabled,
            }
            for r in self.rules
        ]
