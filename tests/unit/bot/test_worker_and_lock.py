"""Clocked workers (steps paced by the Clock port, failures contained) and the one-bot-per-
database lock (in-process and across processes)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from src.bot.instance_lock import InstanceLock, InstanceLockedError
from src.bot.worker import ClockedWorker
from src.utils.clock import SimClock

T0 = 1_767_225_600.0
WAIT_S = 10.0  # bound on a thread handing back; never reached when green
REPO = Path(__file__).resolve().parents[3]


class Steps:
    """A step that records the clock time of every call and fails when told to."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.times: list[float] = []
        self.fail_next = False

    def __call__(self) -> None:
        self.times.append(self.clock.now())
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("bad payload")


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=T0)  # manual: moves only when the test says so


@pytest.fixture
def steps(clock: SimClock) -> Steps:
    return Steps(clock)


@pytest.fixture
def worker(clock: SimClock, steps: Steps) -> ClockedWorker:
    w = ClockedWorker("monitor", steps, clock, interval_s=1.0)
    yield w
    w.stop(WAIT_S)


# -- run_once ---------------------------------------------------------------------------


def test_run_once_counts_steps_and_records_the_clock_time(
    worker: ClockedWorker, clock: SimClock, steps: Steps
) -> None:
    worker.run_once()
    clock.advance(5)
    worker.run_once()
    assert steps.times == [T0, T0 + 5]
    assert (worker.stats.steps, worker.stats.errors) == (2, 0)
    assert worker.stats.last_step_at == T0 + 5
    assert worker.stats.max_duration_s >= worker.stats.last_duration_s >= 0


def test_a_failing_step_is_counted_and_logged_not_raised(
    worker: ClockedWorker, steps: Steps, caplog: pytest.LogCaptureFixture
) -> None:
    steps.fail_next = True
    with caplog.at_level(logging.ERROR, logger="polyflup"):
        worker.run_once()
    worker.run_once()
    assert (worker.stats.steps, worker.stats.errors) == (2, 1)
    assert worker.stats.last_error == "RuntimeError: bad payload"
    assert any("monitor step failed" in r.getMessage() for r in caplog.records)


def test_wait_steps(worker: ClockedWorker) -> None:
    worker.run_once()
    assert worker.wait_steps(1, timeout=0)
    assert not worker.wait_steps(2, timeout=0)


def test_the_interval_must_be_positive(clock: SimClock) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        ClockedWorker("w", lambda: None, clock, interval_s=0)


# -- the thread -------------------------------------------------------------------------


def test_a_started_worker_steps_when_its_clock_reaches_the_interval(
    worker: ClockedWorker, clock: SimClock, steps: Steps
) -> None:
    worker.start()
    assert worker.running
    assert worker.wait_steps(1, WAIT_S)  # the first step runs at once
    clock.advance(0.5)  # half an interval: not due yet
    clock.advance(0.5)
    assert worker.wait_steps(2, WAIT_S)
    assert steps.times[:2] == [T0, T0 + 1.0]  # the second one only once due
    clock.advance(1.0)
    assert worker.wait_steps(3, WAIT_S)
    assert steps.times[2] == T0 + 2.0


def test_a_clock_jump_runs_one_step_not_two_at_the_same_instant(
    worker: ClockedWorker, clock: SimClock, steps: Steps
) -> None:
    worker.start()
    assert worker.wait_steps(1, WAIT_S)
    clock.advance(5.0)  # five intervals at once (a paused process, a manual jump)
    assert worker.wait_steps(2, WAIT_S)
    # A third step must wait for the clock; the bug runs it at once (no wait at all).
    assert not worker.wait_steps(3, timeout=0.5), steps.times


def test_wake_runs_the_next_step_now(
    worker: ClockedWorker, clock: SimClock, steps: Steps
) -> None:
    worker.start()
    assert worker.wait_steps(1, WAIT_S)
    worker.wake()
    assert worker.wait_steps(2, WAIT_S)
    assert steps.times[:2] == [T0, T0]  # no clock time had passed


def test_a_failing_step_does_not_kill_the_thread(
    worker: ClockedWorker, clock: SimClock, steps: Steps
) -> None:
    steps.fail_next = True
    worker.start()
    assert worker.wait_steps(1, WAIT_S)
    clock.advance(1.0)
    assert worker.wait_steps(2, WAIT_S)
    assert worker.running
    assert worker.stats.errors == 1


def test_stop_returns_promptly_and_is_idempotent(worker: ClockedWorker) -> None:
    worker.start()
    assert worker.wait_steps(1, WAIT_S)
    started = time.perf_counter()
    worker.stop(WAIT_S)
    assert time.perf_counter() - started < 1.0  # not a sleeping interval, nor the timeout
    assert not worker.running
    worker.stop(WAIT_S)


def test_a_worker_starts_once(worker: ClockedWorker) -> None:
    worker.start()
    with pytest.raises(RuntimeError, match="already started"):
        worker.start()


def test_a_step_may_stop_its_own_worker(clock: SimClock) -> None:
    holder: list[ClockedWorker] = []
    done = threading.Event()

    def step() -> None:
        holder[0].stop()  # from the worker's own thread: must not join itself
        done.set()

    w = ClockedWorker("self-stopping", step, clock, interval_s=1.0)
    holder.append(w)
    w.start()
    assert done.wait(WAIT_S)
    assert w.wait_steps(1, WAIT_S)
    w.stop(WAIT_S)
    assert not w.running


# -- instance lock ------------------------------------------------------------------------


def test_a_second_lock_on_the_same_database_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    with InstanceLock(db) as first:
        assert first.path == tmp_path / "bot.db.lock"
        with pytest.raises(InstanceLockedError, match=f"pid {os.getpid()}"):
            InstanceLock(db).acquire()
        assert first.path.read_text() == f"{os.getpid()}\n"  # the refusal changed nothing
    with InstanceLock(db):  # released: it can be taken again
        pass


def test_release_is_idempotent_and_lets_the_next_one_in(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "bot.db"  # the folder is created on demand
    first = InstanceLock(db)
    first.acquire()
    first.release()
    first.release()
    second = InstanceLock(db)
    second.acquire()
    second.release()


def test_locks_on_different_databases_do_not_conflict(tmp_path: Path) -> None:
    with InstanceLock(tmp_path / "a.db"), InstanceLock(tmp_path / "b.db"):
        pass


def test_the_lock_file_is_owner_only(tmp_path: Path) -> None:
    with InstanceLock(tmp_path / "bot.db") as lock:
        assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600


HOLDER = """
import sys
from pathlib import Path
from src.bot.instance_lock import InstanceLock

lock = InstanceLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
"""


def start_holder(db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"  # blocks until the child holds it
    return proc


def test_another_process_holding_the_lock_keeps_us_out(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    proc = start_holder(db)
    try:
        with pytest.raises(InstanceLockedError, match=f"pid {proc.pid}\\b"):
            InstanceLock(db).acquire()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
        with InstanceLock(db):
            pass
    finally:
        proc.kill()
        proc.wait(WAIT_S)


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    proc = start_holder(db)
    proc.kill()  # no release: the kernel drops the lock with the process
    proc.wait(WAIT_S)
    with InstanceLock(db) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"


def test_a_failing_step_is_reported_and_a_failing_report_does_not_stop_the_worker() -> None:
    seen: list[tuple[str, str]] = []

    def report(name: str, exc: Exception) -> None:
        seen.append((name, str(exc)))
        raise RuntimeError("webhook down")

    def step() -> None:
        raise ValueError("bad payload")

    worker = ClockedWorker("monitor", step, SimClock(start=T0), 1.0, on_error=report)
    worker.run_once()
    worker.run_once()
    assert seen == [("monitor", "bad payload")] * 2
    assert worker.stats.steps == 2 and worker.stats.errors == 2
