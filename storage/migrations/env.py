"""Alembic environment: the connection `storage.db` hands over, or the Alembic command line.

`coverwatch init` and `coverwatch db revision` pass their connection in
`config.attributes["connection"]`. The `alembic` command (configured by `[tool.alembic]` in
pyproject.toml) gets the database from `-x url=...` or `COVERWATCH_DATABASE__URL`, e.g.
`alembic -x url=sqlite:///coverwatch.db upgrade head`; `--sql` prints the SQL instead.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on the metadata)
from storage.db import make_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "COVERWATCH_DATABASE__URL"
    )
    if not url:
        raise SystemExit("alembic: give the database as -x url=URL or COVERWATCH_DATABASE__URL")
    return url


handed_over = context.config.attributes.get("connection")
if handed_over is not None:
    _run(handed_over)
elif context.is_offline_mode():
    url = _url()
    context.configure(
        url=url,
        target_metadata=SQLModel.metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()
