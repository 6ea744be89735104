"""`coverwatch backup --out FILE`: an online copy of the SQLite database (storage.backup)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli_common import CliError, options, progress_bar, reported
from storage.backup import BackupError, backup_sqlite
from storage.db import make_engine


@reported
def backup(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The new file to write the copy to.")],
) -> None:
    """Copy the SQLite database while the bot runs (PostgreSQL: use pg_dump)."""
    engine = make_engine(options(ctx).settings().database.url)
    try:
        with progress_bar(f"backup {out.name}") as progress:
            size = backup_sqlite(engine, out, progress=progress)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    typer.echo(f"backup: wrote {out} ({size} bytes)")
