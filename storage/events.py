"""Inbound events already handled: a platform retry, even after a restart, runs nothing twice.

`first_sighting` runs for every inbound message before its handler, so it is one Core
statement on a pooled connection: an ORM Session's unit of work would cost more than the
insert itself (docs/PERFORMANCE.md, chat_http).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from storage.models import ProcessedEvent

RETENTION = timedelta(days=7)

_TABLE: Table = ProcessedEvent.__table__  # type: ignore[attr-defined]


def first_sighting(engine: Engine, platform: str, event_id: str, *, now: datetime) -> bool:
    """Record the event; True only the first time this (platform, event id) is seen."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(_TABLE)
        .values(platform=platform, event_id=event_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        # A row comes back only when inserted. Not `rowcount`: SQLAlchemy 2.1 reports -1 for a
        # Core INSERT on psycopg unless asked to keep it.
        .returning(_TABLE.c.event_id)
    )
    with engine.begin() as connection:
        return connection.execute(statement).first() is not None


def forget_before(engine: Engine, cutoff: datetime) -> None:
    """Platforms retry for minutes, not days: old ids can go."""
    with engine.begin() as connection:
        connection.execute(delete(_TABLE).where(_TABLE.c.received_at < cutoff))
