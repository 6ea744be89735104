"""The worker pool restarts a worker that exits, waiting longer each time one dies young."""

from __future__ import annotations

import logging
import multiprocessing
import time

import pytest

from bot.config import Settings
from bot.workers import Backoff, WorkerPool
from tests.support.crashing_worker import exit_at_once


def _wait_for_workers_to_exit() -> None:
    deadline = time.monotonic() + 60
    while any(p.name.startswith("coverwatch-worker-") for p in multiprocessing.active_children()):
        assert time.monotonic() < deadline, "a worker that exits at once did not exit"
        time.sleep(0.02)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_healthy_worker() -> None:
    backoff = Backoff()
    assert [backoff.delay(0.5) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(61) == 1  # that one lived past `healthy`
    assert backoff.delay(0.5) == 2


def test_a_worker_dying_at_start_up_is_restarted_after_growing_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.workers")
    clock = FakeClock()
    pool = WorkerPool(
        Settings.model_validate({}),
        1,
        target=exit_at_once,
        clock=clock,
        backoff=lambda: Backoff(first=1, cap=2),
    )
    try:
        for second in range(7):  # one supervision pass per fake second, as the pool's thread
            clock.now = float(second)
            pool.check()
            _wait_for_workers_to_exit()
    finally:
        pool.stop()
    restarts = [r for r in caplog.records if r.getMessage().startswith("handler worker 0 exited")]
    # Started at 0 s and each time found dead a second later: it waits 1 s (started again at
    # 2), 2 s (at 5), then the cap of 2 s: three starts in 7 s, not seven.
    assert [r.args[-1] for r in restarts if isinstance(r.args, tuple)] == [1, 2, 2]
    assert {r.args[1] for r in restarts if isinstance(r.args, tuple)} == {3}
