"""`coverwatch db revision -m MSG`: write a new migration against the configured database.

The database comes from `--db`, the config file or COVERWATCH_DATABASE__URL, as for every other
command; it must be at the newest revision (`coverwatch init`). docs/DESIGN.md has the workflow.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import CliError, options, reported
from storage.db import make_engine
from storage.revisions import RevisionError, new_revision

app = typer.Typer(help="Database schema tools for developers.")


@app.command()
@reported
def revision(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision changes.")],
    rev_id: Annotated[
        str | None,
        typer.Option("--rev-id", help="Revision id (default: the number after the newest)."),
    ] = None,
) -> None:
    """Autogenerate a migration from the difference between the models and the database."""
    engine = make_engine(options(ctx).settings().database.url)
    try:
        path = new_revision(engine, message, rev_id=rev_id)
    except RevisionError as exc:
        raise CliError(str(exc)) from None
    finally:
        engine.dispose()
    if path is None:
        typer.echo("the models and the database schema agree: no revision written")
    else:
        typer.echo(f"wrote {path}")
