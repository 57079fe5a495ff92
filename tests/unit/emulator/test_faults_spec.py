"""The fault spec language and the per-request decisions it yields."""

from __future__ import annotations

import math

import pytest

from src.sim.emulator.faults import (
    AfterAction,
    FaultKind,
    FaultPlan,
    FaultSpecError,
    parse_duration,
    parse_fault_spec,
)


def test_the_documented_example_parses() -> None:
    rules = parse_fault_spec("order:5xx=0.1,book:latency=50ms,all:429=0.02,ws:drop=30s")
    assert [(r.target, r.kind) for r in rules] == [
        ("order", FaultKind.SERVER_ERROR),
        ("book", FaultKind.LATENCY),
        ("all", FaultKind.RATE_LIMIT),
        ("ws", FaultKind.DROP),
    ]
    assert rules[0].probability == 0.1 and rules[0].status == 500
    assert (rules[1].low, rules[1].high) == (0.05, 0.05)
    assert rules[2].duration == 1.0  # default Retry-After
    assert rules[3].duration == 30.0


@pytest.mark.parametrize(
    ("text", "seconds"), [("50ms", 0.05), ("2s", 2.0), ("1.5m", 90.0), (" 3s ", 3.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_values_with_options() -> None:
    rules = parse_fault_spec(
        " order:timeout=0.5/8s , clob:5xx=1/503, data:latency=10ms..30ms, "
        "book:stale=on, engine:postonly=120s, engine:fail=0.2, gamma:drop=0.3"
    )
    timeout, error, latency, stale, post_only, fail, drop = rules
    assert (timeout.probability, timeout.duration) == (0.5, 8.0)
    assert error.status == 503
    assert (latency.low, latency.high) == (0.01, 0.03)
    assert stale.enabled and stale.duration is None
    assert post_only.duration == 120.0
    assert fail.probability == 0.2
    assert drop.kind is FaultKind.DROP and drop.probability == 0.3
    assert parse_fault_spec("") == () and parse_fault_spec(" , ") == ()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("order", "TARGET:KIND=VALUE"),
        ("order:5xx", "TARGET:KIND=VALUE"),
        ("order:boom=1", "unknown kind"),
        ("order:5xx=1.5", "not in [0, 1]"),
        ("order:5xx=x", "not a probability"),
        ("order:5xx=1/404", "500..599"),
        ("book:latency=fast", "not a duration"),
        ("book:latency=50ms..10ms", "backwards"),
        ("order:postonly=on", "engine"),
        ("engine:5xx=1", "engine"),
        ("ws:5xx=1", "drop=DURATION"),
        ("ws:drop=0.5", "not a duration"),
        ("Order:5xx=1", "bad target"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, fragment: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_fault_spec(spec)
    assert fragment in str(caught.value)


def test_decisions_match_routes_groups_and_all() -> None:
    plan = FaultPlan.from_spec("book:latency=20ms,gamma:5xx=1,all:429=0/2s,order:drop=1")
    book = plan.decide("book", "clob")
    assert book.latency == pytest.approx(0.02) and book.rejection is None
    gamma = plan.decide("gamma-market", "gamma")
    assert gamma.rejection is not None and gamma.rejection.status == 500
    assert gamma.rejection.body == {"error": "Internal server error"}
    order = plan.decide("order", "clob")
    assert order.after is AfterAction.DROP and not order.clean
    assert plan.decide("midpoint", "clob").clean
    assert plan.decide("admin-ledger", "admin").clean  # "all" never reaches admin


def test_rate_limit_carries_retry_after_and_cancels_after_actions() -> None:
    plan = FaultPlan.from_spec("all:429=1/2.6s,order:timeout=1")
    decision = plan.decide("order", "clob")
    assert decision.rejection is not None
    assert decision.rejection.status == 429
    assert decision.rejection.headers == {"Retry-After": "3"}
    assert decision.after is None  # nothing acted on, nothing to hold


def test_draws_are_deterministic_per_seed_and_rule() -> None:
    def draws(seed: int) -> list[bool]:
        plan = FaultPlan.from_spec("book:5xx=0.5", seed)
        return [plan.decide("book", "clob").rejection is not None for _ in range(64)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)
    assert 10 < sum(draws(1)) < 54


def test_staleness_websocket_drops_and_engine_settings() -> None:
    plan = FaultPlan.from_spec(
        "book:stale=5s,clob:stale=on,ws-user:drop=10s,ws:drop=30s,engine:postonly=on,"
        "engine:fail=0.25"
    )
    assert plan.staleness("book", "clob") == math.inf
    assert plan.staleness("gamma-market", "gamma") is None
    assert plan.ws_drop_after("ws-user") == 10.0
    assert plan.ws_drop_after("ws-market") == 30.0
    assert plan.ws_drop_after("binance-ws") == 30.0
    assert plan.engine_post_only() == (True, None)
    assert plan.engine_failure() == 0.25
    off = FaultPlan.from_spec("book:stale=off,engine:postonly=off")
    assert off.staleness("book", "clob") is None
    assert off.engine_post_only() == (False, None)
    assert off.engine_failure() is None
    assert [r["kind"] for r in plan.describe()][:2] == ["stale", "stale"]
