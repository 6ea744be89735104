"""`storage.db.ReadSessions`: read-only sessions on one kept connection, which sees what was
committed since, holds no transaction between sessions, and is pinged or replaced when in
doubt, as the pool's connections are (`tests/storage/test_db_pool.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

import storage.db
from storage.db import ReadSessions, is_postgres, make_engine
from tests.support.databases import counted_pings, end_backend


def _checkouts(engine: Engine) -> list[int]:
    counted: list[int] = []
    event.listen(engine, "checkout", lambda *_: counted.append(1))
    return counted


def _count(reads: ReadSessions) -> int:
    with reads.session() as session:
        return int(session.execute(text("SELECT count(*) FROM note")).scalar_one())


def test_sessions_share_one_connection_and_see_what_was_committed_since(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT)"))
    checkouts = _checkouts(engine)
    reads = ReadSessions(engine)
    try:
        assert _count(reads) == 0
        with engine.begin() as connection:  # another connection writes between two sessions
            connection.execute(text("INSERT INTO note VALUES ('a')"))
        assert _count(reads) == 1
        assert _count(reads) == 1
    finally:
        reads.close()
    assert len(checkouts) == 2  # the kept connection once, the writer's once
    assert engine.pool.checkedout() == 0  # `close` gave it back


def test_a_session_that_failed_leaves_the_next_one_working(engine: Engine) -> None:
    """Each session ends its transaction on the kept connection, failed or not: nothing one
    session began is still open in the next."""
    reads = ReadSessions(engine)
    ended: list[int] = []
    event.listen(engine, "rollback", lambda _connection: ended.append(1))
    try:
        with pytest.raises(Exception, match="no_such_table"), reads.session() as session:
            session.execute(text("SELECT * FROM no_such_table"))
        assert len(ended) == 1
        with reads.session() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        assert len(ended) == 2
    finally:
        reads.close()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_reads(pg_engine: Engine) -> Iterator[ReadSessions]:
    reads = ReadSessions(pg_engine)
    yield reads
    reads.close()


def _backend(reads: ReadSessions) -> tuple[int, bool]:
    """The backend serving the kept connection, and whether a transaction is open after a
    statement there (none in autocommit)."""
    with reads.session() as session:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        driver = session.connection().connection.driver_connection
        assert driver is not None
        idle = driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        return pid, not idle


@pytest.mark.postgres
def test_on_postgres_it_reads_in_autocommit_on_one_backend_unpinged_while_busy(
    pg_engine: Engine, pg_reads: ReadSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert is_postgres(pg_engine)
    pings = counted_pings(pg_engine, monkeypatch)
    first = _backend(pg_reads)
    assert first[1] is False  # no transaction left open by a read
    assert [_backend(pg_reads) for _ in range(3)] == [first] * 3
    assert pings == []


@pytest.mark.postgres
def test_on_postgres_a_connection_idle_for_a_while_is_pinged_and_kept(
    pg_engine: Engine, pg_reads: ReadSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = counted_pings(pg_engine, monkeypatch)
    first, _ = _backend(pg_reads)
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 0.0)
    assert _backend(pg_reads) == (first, False)
    assert pings == [1]


@pytest.mark.postgres
def test_on_postgres_a_session_the_server_ended_is_replaced_without_an_error(
    pg_engine: Engine, pg_reads: ReadSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a restart: without the ping, the next command's read would fail."""
    pings = counted_pings(pg_engine, monkeypatch)
    first, _ = _backend(pg_reads)
    end_backend(first)
    second, in_transaction = _backend(pg_reads)
    assert second != first
    assert not in_transaction  # the new connection is in autocommit too
    assert pings == [1]


@pytest.mark.postgres
def test_on_postgres_a_connection_an_error_invalidated_is_replaced(
    pg_reads: ReadSessions,
) -> None:
    first, _ = _backend(pg_reads)
    with pg_reads.session() as session:
        session.connection().invalidate()
    second, in_transaction = _backend(pg_reads)
    assert second != first
    assert not in_transaction
