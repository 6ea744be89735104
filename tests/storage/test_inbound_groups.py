"""PostgreSQL admits in groups (`storage.inbound_groups`), on a real PostgreSQL database: the
events that come while a statement is in flight are written together by the next, each told
whether it was new; a failed statement writes none of its events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from storage.inbound import NewEvent, admit
from storage.inbound_groups import GroupAdmits
from storage.models import InboundEvent
from tests.conftest import Migrated

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

STATEMENT_LOG = """
CREATE TABLE admit_statement (id serial PRIMARY KEY, written integer NOT NULL);
CREATE FUNCTION log_admit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO admit_statement (written) SELECT count(*) FROM written; RETURN NULL; END $$;
CREATE TRIGGER log_admit AFTER INSERT ON inbound REFERENCING NEW TABLE AS written
FOR EACH STATEMENT EXECUTE FUNCTION log_admit();
"""
"""Each INSERT into inbound leaves a row: how many events it wrote."""

REFUSE_BOOM = """
CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.event_id LIKE 'boom%%' THEN RAISE EXCEPTION 'no'; END IF; RETURN NEW; END $$;
CREATE TRIGGER refuse_boom BEFORE INSERT ON inbound FOR EACH ROW EXECUTE FUNCTION refuse_boom();
"""
"""The database refuses a statement holding an event whose id starts with `boom`."""


def event(event_id: str, user: str = "U1") -> NewEvent:
    return NewEvent(
        platform="slack", event_id=event_id, user_key=f"slack:{user}", payload=f"<{event_id}>"
    )


@pytest.fixture
def engine(pg_url: str, migrated: Migrated) -> Iterator[Engine]:
    engine = migrated(pg_url)
    yield engine
    engine.dispose()


def run_sql(engine: Engine, sql: str) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(sql)


def locked(engine: Engine) -> Connection:
    """A transaction holding a lock that makes every insert into inbound wait for its end."""
    connection = engine.connect()
    connection.exec_driver_sql("LOCK TABLE inbound IN EXCLUSIVE MODE")
    return connection


def written(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        query = select(InboundEvent.event_id).order_by(InboundEvent.id)  # type: ignore[arg-type]
        return list(connection.execute(query).scalars())


async def admitted_behind_a_lock(
    engine: Engine, groups: GroupAdmits, ids: list[str]
) -> list[bool | BaseException]:
    """Admit `ids` at once while a lock holds the first statement, so the rest come while it
    is in flight; what each admit returned or raised."""
    lock = locked(engine)
    tasks = [asyncio.create_task(groups.admit(event(i), NOW)) for i in ids]
    await asyncio.sleep(0)  # each ran to its first wait: the first's statement is in flight
    lock.commit()
    lock.close()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def statements(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT written FROM admit_statement ORDER BY id")
        return list(rows.scalars())


def test_events_that_come_while_a_statement_is_in_flight_are_written_by_the_next_together(
    engine: Engine,
) -> None:
    assert admit(engine, event("Ev0"), now=NOW)  # written before: a retry of it is a duplicate
    run_sql(engine, STATEMENT_LOG)
    groups = GroupAdmits(engine)
    ids = ["Ev1", "Ev2", "Ev0", "Ev2", "Ev3"]

    async def scenario() -> list[bool | BaseException]:
        try:
            return await admitted_behind_a_lock(engine, groups, ids)
        finally:
            await groups.close()

    assert asyncio.run(scenario()) == [True, True, False, False, True]
    assert statements(engine) == [1, 2], "Ev1 alone, then the four that came meanwhile"
    assert written(engine) == ["Ev0", "Ev1", "Ev2", "Ev3"], "in the order they came"


def test_a_group_is_at_most_max_group_events(engine: Engine) -> None:
    run_sql(engine, STATEMENT_LOG)
    groups = GroupAdmits(engine, max_group=2)

    async def scenario() -> list[bool | BaseException]:
        try:
            return await admitted_behind_a_lock(engine, groups, [f"Ev{n}" for n in range(6)])
        finally:
            await groups.close()

    assert asyncio.run(scenario()) == [True] * 6
    assert statements(engine) == [1, 2, 2, 1]
    assert written(engine) == [f"Ev{n}" for n in range(6)]


def test_a_refused_statement_fails_every_event_of_its_group_and_writes_none(
    engine: Engine,
) -> None:
    run_sql(engine, REFUSE_BOOM)
    groups = GroupAdmits(engine)
    ids = ["Ev1", "Ev2", "boom", "Ev3"]

    async def scenario() -> list[bool | BaseException]:
        outcomes = await admitted_behind_a_lock(engine, groups, ids)
        outcomes.append(await groups.admit(event("Ev4"), NOW))  # the connection still serves
        await groups.close()
        return outcomes

    first, *group, after = asyncio.run(scenario())
    assert first is True and after is True
    assert all(isinstance(outcome, SQLAlchemyError) for outcome in group)
    assert all("<Ev" not in str(outcome) for outcome in group), "the events' text not shown"
    assert written(engine) == ["Ev1", "Ev4"]


def test_a_held_connection_the_server_ended_is_replaced_without_failing_the_event(
    engine: Engine,
) -> None:
    """The server restarted (or ended the session) while the connection sat idle: the next
    statement is sent again on a new connection, as the pool pings such a connection first."""
    groups = GroupAdmits(engine)

    async def scenario() -> list[bool]:
        news = [await groups.admit(event("Ev1"), NOW)]
        run_sql(
            engine,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        news.append(await groups.admit(event("Ev2"), NOW))
        news.append(await groups.admit(event("Ev1"), NOW))
        await groups.close()
        return news

    assert asyncio.run(scenario()) == [True, True, False]
    assert written(engine) == ["Ev1", "Ev2"]


def test_the_time_received_is_the_instant_given_whatever_the_sessions_time_zone(
    engine: Engine,
) -> None:
    """Sent as text to libpq: the instant, with its offset, not a wall-clock time the
    server would read in its session's zone."""
    database = engine.url.database
    run_sql(engine, f"ALTER DATABASE \"{database}\" SET timezone = 'America/Los_Angeles'")
    groups = GroupAdmits(engine)
    beijing = datetime(2026, 11, 25, 17, 0, tzinfo=timezone(timedelta(hours=8)))

    async def scenario() -> bool:
        try:
            return await groups.admit(event("Ev1"), beijing)
        finally:
            await groups.close()

    assert asyncio.run(scenario())
    with engine.connect() as connection:
        stored = connection.execute(select(InboundEvent.received_at)).scalar_one()
    assert stored == NOW
