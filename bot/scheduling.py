"""Scheduled jobs (APScheduler 3): each fire time runs once across instances and restarts.

APScheduler fires the cron ticks in every instance; `storage.jobs.claim_job` lets only the
first claimant of a (job, fire time) run it. On start-up the latest tick missed while the bot
was down runs once (the misfire policy), never once per missed tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from sqlalchemy.engine import Engine

from storage.jobs import claim_job, finish_job

log = logging.getLogger(__name__)

JobBody = Callable[[datetime], Awaitable[str]]
"""A job receives its fire time and returns a one-line summary for the job_run row."""


def previous_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest tick at or before `now` (searched back over ~1.5 intervals)."""
    first = trigger.get_next_fire_time(None, now)
    if first is None:
        return None
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    interval = (second - first) if second is not None else timedelta(days=31)
    cursor = trigger.get_next_fire_time(None, now - interval * 1.5 - timedelta(minutes=1))
    latest = None
    while cursor is not None and cursor <= now:
        latest = cursor
        cursor = trigger.get_next_fire_time(cursor, cursor + timedelta(seconds=1))
    return latest


class JobRunner:
    def __init__(
        self,
        engine: Engine,
        *,
        instance: str,
        timezone: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.instance = instance
        self.zone = ZoneInfo(timezone)
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=self.zone)
        self.jobs: dict[str, tuple[CronTrigger, JobBody]] = {}
        self.outcomes: Counter[tuple[str, str]] = Counter()
        """(job, "done" | "failed") -> runs in this process, for /metrics."""

    def add(self, name: str, crontab: str, body: JobBody) -> None:
        trigger = CronTrigger.from_crontab(crontab, timezone=self.zone)
        self.jobs[name] = (trigger, body)
        self.scheduler.add_job(
            self._tick,
            trigger,
            args=[name],
            id=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
        )

    async def _tick(self, name: str) -> None:
        trigger, _ = self.jobs[name]
        fire_time = previous_fire_time(trigger, self.clock().astimezone(self.zone))
        if fire_time is not None:
            await self.run_once(name, fire_time)

    async def run_once(self, name: str, fire_time: datetime) -> bool:
        """Run the job for `fire_time` unless another instance or an earlier run claimed it."""
        _, body = self.jobs[name]
        run_id = await asyncio.to_thread(
            claim_job, self.engine, name, fire_time, instance=self.instance, now=self.clock()
        )
        fired = fire_time.astimezone(self.zone).isoformat(timespec="minutes")
        if run_id is None:
            log.debug("%s: fire time %s already claimed, skipped", name, fired)
            return False
        try:
            summary = await body(fire_time)
        except Exception as exc:
            log.exception("%s: failed (fire time %s): %s", name, fired, type(exc).__name__)
            self.outcomes[name, "failed"] += 1
            await asyncio.to_thread(
                finish_job, self.engine, run_id, status="failed", now=self.clock(), detail=str(exc)
            )
            return True
        await asyncio.to_thread(
            finish_job, self.engine, run_id, status="done", now=self.clock(), detail=summary
        )
        log.info("%s: %s (fire time %s)", name, summary, fired)  # the one line per job run
        self.outcomes[name, "done"] += 1
        return True

    async def catch_up(self) -> None:
        """Run each job's latest missed tick once (a no-op when it already ran)."""
        now = self.clock().astimezone(self.zone)
        for name, (trigger, _) in self.jobs.items():
            fire_time = previous_fire_time(trigger, now)
            if fire_time is not None:
                await self.run_once(name, fire_time)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
