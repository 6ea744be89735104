"""The test databases: where the PostgreSQL server is, whether it answers, and the type of the
`migrated` fixture (tests/conftest.py holds the fixtures themselves)."""

from __future__ import annotations

import os
from collections.abc import Callable

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


Migrated = Callable[[str], Engine]
"""`migrated(url)` -> an engine on a database at the newest migration."""
