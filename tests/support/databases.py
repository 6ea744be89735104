"""The test databases: where the PostgreSQL server is, whether it answers, and the type of the
`migrated` fixture (tests/conftest.py holds the fixtures themselves)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

PG_SERVER = os.environ.get(
    "COVERWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pg_admin_dsn() -> str:
    return PG_SERVER.replace("postgresql+psycopg://", "postgresql://")


def postgres_available() -> str | None:
    """None when the server answers, else the reason (shown on skipped tests)."""
    try:
        import psycopg

        with psycopg.connect(pg_admin_dsn(), connect_timeout=3, autocommit=True):
            return None
    except Exception as exc:  # any failure means: no server to test against
        return f"no PostgreSQL server answers at {PG_SERVER}: {exc}"


def counted_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pings `engine` sends from now on (its dialect's `do_ping`), one 1 each."""
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def end_backend(pid: int) -> None:
    """End a PostgreSQL session as a server restart does (it sends its FATAL message and
    closes the socket), and wait until it is gone."""
    import psycopg

    with psycopg.connect(pg_admin_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 5
        while (
            time.monotonic() < deadline
            and admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        ):
            time.sleep(0.02)


Migrated = Callable[[str], Engine]
"""`migrated(url)` -> an engine on a database at the newest migration."""
