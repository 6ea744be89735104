"""Inbound events already handled: a platform retry, even after a restart, runs nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from storage.models import ProcessedEvent


def first_sighting(engine: Engine, platform: str, event_id: str, *, now: datetime) -> bool:
    """Record the event; True only the first time this (platform, event id) is seen."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedEvent)
        .values(platform=platform, event_id=event_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
    )
    with Session(engine) as session:
        result = session.execute(statement)
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def forget_before(engine: Engine, cutoff: datetime) -> None:
    """Platforms retry for minutes, not days: old ids can go."""
    with Session(engine) as session:
        session.execute(delete(ProcessedEvent).where(col(ProcessedEvent.received_at) < cutoff))
        session.commit()


RETENTION = timedelta(days=7)
