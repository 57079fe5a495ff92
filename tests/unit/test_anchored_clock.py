"""AnchoredClock: the venue's whole-second clock, anchored at the moment it ticks and then
run locally at ``speed`` — checked with a wall clock and a venue the test drives."""

from __future__ import annotations

import pytest

from src.utils.clock import AnchoredClock

LATENCY = 0.1  # wall seconds one venue_time request takes


class FakeWall:
    """A wall clock that moves only when the test (or a fake request) moves it."""

    def __init__(self, t: float = 50.0) -> None:
        self.t = t
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class FakeVenueTime:
    """``GET /time``: whole seconds, moving to ``second + 1`` after ``ticks_after``
    probes (never when None); each request costs ``LATENCY`` wall seconds."""

    def __init__(self, wall: FakeWall, second: int, ticks_after: int | None) -> None:
        self.wall = wall
        self.second = second
        self.ticks_after = ticks_after
        self.probes = 0
        self.ticked_between: tuple[float, float] | None = None

    def __call__(self) -> float:
        self.probes += 1
        sent = self.wall.now()
        self.wall.t += LATENCY
        if self.ticks_after is not None and self.probes > self.ticks_after:
            if self.ticked_between is None:
                self.ticked_between = (sent, self.wall.now())
            return float(self.second + 1)
        return float(self.second)


def test_the_anchor_is_taken_when_the_venue_second_ticks() -> None:
    wall = FakeWall(50.0)
    venue = FakeVenueTime(wall, 1_000, ticks_after=3)
    clock = AnchoredClock(venue, speed=1.0, wall=wall)
    assert venue.probes == 4  # three answers of 1000, then the first 1001: stop there
    assert venue.ticked_between == pytest.approx((50.3, 50.4))
    # The new second began during the request that saw it: anchored at its midpoint.
    assert clock.now() == pytest.approx(1_001 + (50.4 - 50.35))
    wall.t = 50.35
    assert clock.now() == pytest.approx(1_001.0)


@pytest.mark.parametrize("speed", [1.0, 10.0, 0.5])
def test_now_runs_at_speed_times_wall_time(speed: float) -> None:
    wall = FakeWall(50.0)
    clock = AnchoredClock(FakeVenueTime(wall, 1_000, ticks_after=2), speed=speed, wall=wall)
    start = clock.now()
    wall.t += 2.0
    assert clock.now() - start == pytest.approx(2.0 * speed)
    wall.t += 0.25
    assert clock.now() - start == pytest.approx(2.25 * speed)
    assert clock.speed == speed


def test_sleep_waits_seconds_over_speed_on_the_wall_clock() -> None:
    wall = FakeWall(50.0)
    clock = AnchoredClock(FakeVenueTime(wall, 1_000, ticks_after=1), speed=10.0, wall=wall)
    before = clock.now()
    clock.sleep(30.0)
    assert wall.slept == [pytest.approx(3.0)]
    assert clock.now() - before == pytest.approx(30.0)
    clock.sleep(0)
    clock.sleep(-5)
    assert len(wall.slept) == 1  # nothing to wait for


def test_a_venue_clock_that_never_moves_still_anchors() -> None:
    wall = FakeWall(50.0)
    venue = FakeVenueTime(wall, 1_000, ticks_after=None)
    clock = AnchoredClock(venue, speed=2.0, wall=wall, max_probes=5)
    assert venue.probes == 6  # the first read and max_probes more, then it gives up
    assert clock.now() == pytest.approx(1_000.0)  # anchored now, at the venue's answer
    wall.t += 1.5
    assert clock.now() == pytest.approx(1_003.0)


def test_a_tick_on_the_last_probe_is_still_seen() -> None:
    wall = FakeWall(50.0)
    venue = FakeVenueTime(wall, 1_000, ticks_after=5)
    clock = AnchoredClock(venue, speed=1.0, wall=wall, max_probes=5)
    assert venue.probes == 6
    assert clock.now() == pytest.approx(1_001.05)


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_speed_must_be_positive(speed: float) -> None:
    wall = FakeWall()
    venue = FakeVenueTime(wall, 1_000, ticks_after=1)
    with pytest.raises(ValueError, match="speed"):
        AnchoredClock(venue, speed=speed, wall=wall)
    assert venue.probes == 0  # refused before asking the venue anything
