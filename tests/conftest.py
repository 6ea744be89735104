"""Shared fixtures: real databases (a SQLite file and a throwaway PostgreSQL database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from storage.db import make_engine, upgrade

PG_SERVER = os.environ.get(
    "COVERWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


def _pg_admin_dsn() -> str:
    return PG_SERVER.replace("postgresql+psycopg://", "postgresql://")


def postgres_available() -> str | None:
    """None when the server answers, else the reason (shown on skipped tests)."""
    try:
        import psycopg

        with psycopg.connect(_pg_admin_dsn(), connect_timeout=3, autocommit=True):
            return None
    except Exception as exc:  # any failure means: no server to test against
        return f"no PostgreSQL server answers at {PG_SERVER}: {exc}"


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return postgres_available()


@pytest.fixture
def pg_url(pg_reason: str | None) -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped afterwards."""
    if pg_reason:
        pytest.skip(pg_reason)
    import psycopg

    name = f"cw_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_SERVER.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/coverwatch.db"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()
