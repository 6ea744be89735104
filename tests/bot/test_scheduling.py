"""Scheduled jobs run once per fire time across instances and restarts (SQLite and PostgreSQL).

Two `JobRunner`s share one database, as two `coverwatch run` processes do; the clock is
injected, so nothing waits for a cron tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from sqlalchemy.engine import Engine

from bot.scheduling import JobRunner, previous_fire_time
from storage.jobs import runs_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAILY = "0 9 * * *"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runner(engine: Engine, name: str, clock: Clock, ran: list[tuple[str, datetime]]) -> JobRunner:
    job_runner = JobRunner(engine, instance=name, timezone="Asia/Shanghai", clock=clock)

    async def scan(fire_time: datetime) -> str:
        ran.append((name, fire_time))
        await asyncio.sleep(0)  # let the other instance interleave
        return f"scanned by {name}"

    job_runner.add("scan", DAILY, scan)
    return job_runner


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def test_two_instances_run_each_fire_time_once(engine: Engine) -> None:
    clock = Clock(local(2026, 10, 12, 9, 0, 5))
    ran: list[tuple[str, datetime]] = []
    first, second = runner(engine, "a", clock, ran), runner(engine, "b", clock, ran)
    fire = local(2026, 10, 12, 9, 0)

    async def both() -> list[bool]:
        return list(
            await asyncio.gather(first.run_once("scan", fire), second.run_once("scan", fire))
        )

    assert sorted(asyncio.run(both())) == [False, True]
    assert asyncio.run(second.run_once("scan", fire)) is False  # a restart re-firing it
    assert len(ran) == 1
    [run] = runs_of(engine, "scan")
    assert run.status == "done" and run.detail == f"scanned by {ran[0][0]}"
    stored = run.fire_time if run.fire_time.tzinfo else run.fire_time.replace(tzinfo=UTC)
    assert stored == fire

    async def both_tick() -> None:
        await asyncio.gather(first.catch_up(), second.catch_up())

    clock.now = local(2026, 10, 13, 9, 0, 1)  # the next day's tick is a new fire time
    asyncio.run(both_tick())
    assert len(ran) == 2 and len(runs_of(engine, "scan")) == 2
    assert ran[1][1] == local(2026, 10, 13, 9, 0)


def test_start_up_after_downtime_runs_the_missed_tick_once(engine: Engine) -> None:
    """Down from Monday 08:00 to Thursday 15:00: three 09:00 ticks missed, one catch-up run."""
    clock = Clock(local(2026, 10, 15, 15, 0))
    ran: list[tuple[str, datetime]] = []
    asyncio.run(runner(engine, "a", clock, ran).catch_up())
    asyncio.run(runner(engine, "b", clock, ran).catch_up())  # a second instance starting too
    asyncio.run(runner(engine, "a", clock, ran).catch_up())  # and a quick restart
    assert [(name, t.astimezone(SHANGHAI)) for name, t in ran] == [("a", local(2026, 10, 15, 9))]
    assert len(runs_of(engine, "scan")) == 1


def test_a_failing_job_is_recorded_and_its_fire_time_not_rerun(engine: Engine) -> None:
    clock = Clock(local(2026, 10, 12, 9, 0, 5))
    job_runner = JobRunner(engine, instance="a", timezone="Asia/Shanghai", clock=clock)
    attempts: list[datetime] = []

    async def broken(fire_time: datetime) -> str:
        attempts.append(fire_time)
        raise RuntimeError("database went away")

    job_runner.add("dues", DAILY, broken)
    fire = local(2026, 10, 12, 9, 0)
    assert asyncio.run(job_runner.run_once("dues", fire)) is True
    assert asyncio.run(job_runner.run_once("dues", fire)) is False
    [run] = runs_of(engine, "dues")
    assert (run.status, run.detail) == ("failed", "database went away")
    assert len(attempts) == 1


def test_previous_fire_time_is_the_latest_tick_at_or_before_now() -> None:
    def latest(crontab: str) -> Callable[[datetime], datetime | None]:
        trigger = CronTrigger.from_crontab(crontab, timezone=SHANGHAI)
        return lambda now: previous_fire_time(trigger, now)

    daily, monthly = latest(DAILY), latest("0 6 1 * *")
    assert daily(local(2026, 10, 12, 9, 0)) == local(2026, 10, 12, 9, 0)
    assert daily(local(2026, 10, 12, 8, 59)) == local(2026, 10, 11, 9, 0)
    assert monthly(local(2026, 10, 20)) == local(2026, 10, 1, 6, 0)
    every_minute = latest("* * * * *")
    now = local(2026, 10, 12, 9, 30, 42)
    assert every_minute(now) == now.replace(second=0)


def test_each_run_is_one_log_line_naming_job_and_result(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(local(2026, 10, 12, 9, 0, 5))
    first = runner(engine, "a", clock, [])
    second = runner(engine, "b", clock, [])
    caplog.set_level(logging.INFO, logger="bot.scheduling")
    fire = local(2026, 10, 12, 9, 0)

    asyncio.run(first.run_once("scan", fire))
    asyncio.run(second.run_once("scan", fire))  # already claimed: nothing at INFO

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == [
        "scan: scanned by a (fire time 2026-10-12T09:00+08:00)"
    ]
