"""The database goes away under a running runtime: /healthz says so, deliveries resume after.

The outages are real: the PostgreSQL database refuses connections and its sessions are
terminated; the SQLite file is held by another connection in exclusive locking mode. The
clock is injected: the deliveries fall due mid-outage because the test moves time.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from adapters.webhook import WebhookAdapter
from handlers.context import AppContext
from storage.db import make_engine
from tests.fakes.webhook_server import WebhookServer
from tests.support.company import NOW
from tests.support.databases import PG_SERVER
from tests.support.faults import DUE_IN, MESSAGES, SECRET, ManualClock, company, received, states
from tests.support.live import LiveRuntime


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _health(live: LiveRuntime) -> int:
    try:
        return live.get("/healthz", timeout=3).status_code
    except httpx.TimeoutException:
        return 0


@pytest.mark.postgres
def test_postgres_going_away_is_reported_and_deliveries_resume(pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    admin = PG_SERVER.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(pg_url)
    clock = ManualClock(NOW)
    app = company(engine, clock)
    with (
        WebhookServer(SECRET) as server,
        LiveRuntime(app, {"webhook": WebhookAdapter(server.url, SECRET)}) as live,
    ):
        assert _health(live) == 200
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'.encode())
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        clock.advance(DUE_IN + timedelta(seconds=1))  # the deliveries fall due mid-outage
        assert _wait(lambda: _health(live) == 503, 10), "healthz kept answering 200"
        time.sleep(0.5)  # several dispatcher passes fail meanwhile; none may send or crash
        assert not server.requests
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'.encode())
        assert _wait(lambda: len(received(server)) == MESSAGES, 20), received(server)
        assert _wait(lambda: _health(live) == 200, 10)
    assert set(received(server).values()) == {1}, "each message exactly once"
    assert states(engine) == Counter({"sent": MESSAGES})
    engine.dispose()


def _locked(path: Path) -> sqlite3.Connection:
    """Another process's connection holding the file: exclusive locking mode, in a write."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE account SET due_day = due_day")
    return holder


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[tuple[AppContext, ManualClock, Path]]:
    path = tmp_path / "coverwatch.db"
    engine = make_engine(f"sqlite:///{path}")
    clock = ManualClock(NOW)
    app = company(engine, clock)
    engine.dispose()  # nothing of ours holds the file when the lock is taken
    yield app, clock, path
    engine.dispose()


def test_sqlite_locked_deliveries_wait_and_resume(
    sqlite_app: tuple[AppContext, ManualClock, Path],
) -> None:
    """In WAL mode an exclusive lock can be taken only while no other connection has the file
    open, so the holder takes it first and the runtime starts, and keeps running, under it."""
    app, clock, path = sqlite_app
    holder = _locked(path)
    with (
        WebhookServer(SECRET) as server,
        LiveRuntime(app, {"webhook": WebhookAdapter(server.url, SECRET)}) as live,
    ):
        clock.advance(DUE_IN + timedelta(seconds=1))
        time.sleep(1.0)  # the dispatcher is blocked on the lock meanwhile; it must not send
        assert not server.requests
        holder.execute("ROLLBACK")
        holder.close()
        assert _wait(lambda: len(received(server)) == MESSAGES, 20), received(server)
        assert _health(live) == 200
    assert set(received(server).values()) == {1}
    assert states(app.engine) == Counter({"sent": MESSAGES})


def test_sqlite_locked_healthz_answers_503_promptly(
    sqlite_app: tuple[AppContext, ManualClock, Path],
) -> None:
    app, _, path = sqlite_app
    holder = _locked(path)
    try:
        with LiveRuntime(app, {}) as live:
            try:
                status = _health(live)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
    finally:
        holder.close()
    assert status == 503
