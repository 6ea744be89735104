"""Inbound event dedupe on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.events import first_sighting, forget_before
from storage.models import ProcessedEvent

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_only_the_first_sighting_of_an_event_counts(engine: Engine) -> None:
    assert first_sighting(engine, "slack", "Ev1", now=NOW)
    assert not first_sighting(engine, "slack", "Ev1", now=NOW + timedelta(seconds=5))
    # The same id from another platform is another event.
    assert first_sighting(engine, "wecom", "Ev1", now=NOW)
    assert first_sighting(engine, "slack", "Ev2", now=NOW)


def test_forget_before_drops_only_older_events(engine: Engine) -> None:
    first_sighting(engine, "slack", "old", now=NOW - timedelta(days=8))
    first_sighting(engine, "slack", "recent", now=NOW - timedelta(days=1))
    forget_before(engine, NOW - timedelta(days=7))
    with session_scope(engine) as session:
        assert [row.event_id for row in session.exec(select(ProcessedEvent))] == ["recent"]
    # A forgotten id would be handled again, which is why the retention outlasts retries.
    assert first_sighting(engine, "slack", "old", now=NOW)
