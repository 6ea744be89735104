"""Fixtures of the conversation tests: the small company of `tests/support/company.py`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from handlers.context import AppContext
from tests.support.company import Ask, asker, make_app, seed
from tests.support.databases import Migrated


@pytest.fixture
def app(sqlite_url: str, migrated: Migrated) -> Iterator[AppContext]:
    engine = migrated(sqlite_url)
    seed(engine)
    yield make_app(engine)
    engine.dispose()


@pytest.fixture
def ask(app: AppContext) -> Ask:
    return asker(app)


@pytest.fixture
def any_app(engine: Engine) -> AppContext:
    """The seeded company on SQLite and on PostgreSQL (the `engine` fixture's databases)."""
    seed(engine)
    return make_app(engine)
