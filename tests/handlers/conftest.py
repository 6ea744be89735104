"""Fixtures of the conversation tests: the small company of `tests/support/company.py`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from handlers.context import AppContext
from storage.db import make_engine, upgrade
from tests.support.company import Ask, asker, make_app, seed


@pytest.fixture
def app(sqlite_url: str) -> Iterator[AppContext]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
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
