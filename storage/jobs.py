"""Scheduled jobs run once per fire time across instances and restarts.

The claim is a `job_run` row with a unique (job, fire_time): the first instance to insert it
runs the job; a second instance, or a restart re-firing a missed run, finds the row and skips.
On PostgreSQL the claim is also taken under a transaction-scoped advisory lock on the job name,
so two instances never race to the same insert.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.models import JobRun


def claim_job(
    engine: Engine, job: str, fire_time: datetime, *, instance: str, now: datetime
) -> int | None:
    """The job_run id when this instance should run the job now; None when another did."""
    with Session(engine) as session:
        dialect = engine.dialect.name
        if dialect == "postgresql":
            lock = zlib.crc32(job.encode())
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(JobRun)
            .values(
                job=job, fire_time=fire_time, instance=instance, started_at=now, status="running"
            )
            .on_conflict_do_nothing(index_elements=["job", "fire_time"])
            .returning(col(JobRun.id))
        )
        row = session.execute(statement).first()
        session.commit()
        return None if row is None else int(row[0])


def finish_job(
    engine: Engine, run_id: int, *, status: str, now: datetime, detail: str = ""
) -> None:
    with Session(engine) as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id)
            .values(status=status, finished_at=now, detail=detail[:2000])
        )
        session.commit()


def runs_of(engine: Engine, job: str) -> list[JobRun]:
    with Session(engine) as session:
        query = select(JobRun).where(JobRun.job == job).order_by(col(JobRun.fire_time))
        return list(session.exec(query).all())
