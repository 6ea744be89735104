"""`api`: the API over a migrated SQLite file and a throwaway PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.support.api import Api, running_api


@pytest.fixture
def api(engine: Engine, db_url: str) -> Iterator[Api]:
    with running_api(db_url) as running:
        yield running
