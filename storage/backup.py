"""An online copy of a SQLite database (`coverwatch backup --out FILE`).

SQLite's online backup API copies a consistent snapshot page by page while the bot keeps
running and writing (https://www.sqlite.org/backup.html); copying the file with `cp` during a
write, or without its `-wal` file, can give a corrupt or stale copy. PostgreSQL has `pg_dump`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import Engine

from storage.db import create_private

PAGES_PER_STEP = 1024
"""Pages copied per step: between steps the bot's writers get the database back."""


class BackupError(ValueError):
    """A backup that cannot be made; the message says what to do instead."""


def backup_sqlite(
    engine: Engine, out: Path, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Copy the engine's SQLite database into the new file `out`; return its size in bytes.
    `progress(pages_done, pages_total)` is called after each step."""
    if engine.dialect.name != "sqlite":
        raise BackupError(
            f"backup copies SQLite databases; for {engine.dialect.name} use "
            "`pg_dump --format=custom --file FILE DATABASE_URL` (docs/deploy.md, Backups)"
        )
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("backup needs a SQLite file, not an in-memory database")
    if not Path(database).is_file():
        raise BackupError(f"{database}: no such database file")
    if out.exists():
        raise BackupError(f"{out}: already exists; choose a new file name")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent}: no such directory")
    create_private(out)  # a copy of everything: as private as the database (docs/SECURITY.md)
    with (
        closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as source,
        closing(sqlite3.connect(out)) as target,
    ):
        source.backup(
            target,
            pages=PAGES_PER_STEP,
            progress=None
            if progress is None
            else lambda _status, remaining, total: progress(total - remaining, total),
        )
    return out.stat().st_size
