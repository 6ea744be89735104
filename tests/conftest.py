"""Shared fixtures: real databases (a SQLite file and a throwaway PostgreSQL database) and the
loopback platform fakes, which adapter, handler and bot tests all use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import Engine

from storage.db import make_engine, upgrade

if TYPE_CHECKING:  # the fakes import the platform SDKs; only tests that use them pay for that
    from adapters.wecom import WeComAdapter
    from tests.fakes.dingtalk import FakeDingTalk
    from tests.fakes.slack import FakeSlack
    from tests.fakes.wecom import FakeWeCom
    from tests.support.wecom import FakeClock

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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on a real SQLite file and on a real PostgreSQL database.

    The PostgreSQL rows carry the `postgres` marker, so `-m "not postgres"` deselects them.
    """
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
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
