"""The Clock port: manual and accelerated simulated time."""

import threading

import pytest

from src.utils.clock import SimClock, utc_datetime


class FakeWall:
    """A wall clock the test moves, so accelerated mode is checked without waiting."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_manual_clock_moves_only_when_told() -> None:
    clock = SimClock(start=1_700_000_000)
    assert clock.now() == 1_700_000_000
    clock.advance(15)
    assert clock.now() == 1_700_000_015
    clock.sleep(45)
    assert clock.now() == 1_700_000_060
    assert utc_datetime(clock).isoformat() == "2023-11-14T22:14:20+00:00"


def test_manual_clock_never_goes_backwards() -> None:
    clock = SimClock(start=100)
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.set(50)
    assert clock.now() == 100


def test_accelerated_clock_scales_wall_time() -> None:
    wall = FakeWall()
    clock = SimClock(start=0, speed=60, wall=wall)
    wall.t += 2  # two real seconds are two simulated minutes
    assert clock.now() == pytest.approx(120)
    clock.sleep(30)  # half a simulated minute is half a real second
    assert wall.slept == [0.5]
    assert clock.now() == pytest.approx(150)


def test_rejects_non_positive_speed() -> None:
    with pytest.raises(ValueError):
        SimClock(speed=0)


def test_clock_is_thread_safe() -> None:
    clock = SimClock(start=0)
    threads = [
        threading.Thread(target=lambda: [clock.advance(1) for _ in range(1000)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.now() == 4000
