"""Shared fixtures: real databases (a SQLite file and a throwaway PostgreSQL database) and the
loopback platform fakes, which adapter, handler and bot tests all use."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import Engine

from storage.db import make_engine, upgrade
from tests.support.databases import PG_SERVER, Migrated, pg_admin_dsn, postgres_available

if TYPE_CHECKING:  # the fakes import the platform SDKs; only tests that use them pay for that
    from adapters.wecom import WeComAdapter
    from tests.fakes.dingtalk import FakeDingTalk
    from tests.fakes.slack import FakeSlack
    from tests.fakes.wecom import FakeWeCom
    from tests.support.wecom import FakeClock

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for `pg_url` needs the server whether or not it says so: it gets the
    `postgres` marker before `-m` selects, so the fast lane never creates a database."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


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
    with psycopg.connect(pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_SERVER.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    """A SQLite file that does not exist yet (tests of `init` start from nothing)."""
    return f"sqlite:///{tmp_path}/coverwatch.db"


@pytest.fixture(scope="session")
def sqlite_at_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head per session, for `migrated` to copy."""
    path = tmp_path_factory.mktemp("schema") / "head.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def migrated(sqlite_at_head: Path) -> Migrated:
    """`migrated(url)`: an engine on a database at head. A SQLite file starts as a copy of the
    session's migrated file (milliseconds, where running every migration took most of a test's
    set-up); `upgrade` then finds nothing to do, and does all of it on PostgreSQL."""

    def make(url: str) -> Engine:
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            shutil.copyfile(sqlite_at_head, url.removeprefix("sqlite:///"))
        engine = make_engine(url)
        upgrade(engine)
        return engine

    return make


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on a real SQLite file and on a real PostgreSQL database.

    The PostgreSQL rows carry the `postgres` marker, so `-m "not postgres"` deselects them.
    """
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str, migrated: Migrated) -> Iterator[Engine]:
    engine = migrated(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx, requests and websockets honour proxy variables; loopback must never use a proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    from tests.fakes.slack import FakeSlack
    from tests.support.slack import APP_TOKEN, BOT_TOKEN

    with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


@pytest.fixture
def fake_dingtalk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDingTalk]:
    from tests.fakes.dingtalk import FakeDingTalk

    _no_proxy(monkeypatch)
    fake = FakeDingTalk()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def wecom_clock() -> FakeClock:
    from tests.support.wecom import FakeClock

    return FakeClock()


@pytest.fixture
def wecom_fake(wecom_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeCom]:
    from tests.fakes.wecom import FakeWeCom
    from tests.support.wecom import AGENT_ID, CORP_ID, HR_CHAT, SECRET, USERS

    _no_proxy(monkeypatch)
    fake = FakeWeCom(
        corp_id=CORP_ID,
        secret=SECRET,
        agent_id=AGENT_ID,
        users=USERS,
        chats=frozenset({HR_CHAT}),
        clock=wecom_clock,
    )
    with fake.running():
        yield fake


@pytest.fixture
def wecom_adapter(wecom_fake: FakeWeCom, wecom_clock: FakeClock) -> WeComAdapter:
    from tests.support.wecom import make_adapter

    return make_adapter(wecom_fake, wecom_clock)
