"""`coverwatch security generate-key|rotate-key`: the data key that seals id numbers at rest.

Keys come from the environment only (docs/SECURITY.md, "Encryption at rest"): never options,
which a shell history and every `ps` on the machine would show. A rotation:
1. `COVERWATCH_SECURITY__DATA_KEY=$(coverwatch security generate-key)` as the new key and the
   old one in `COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS='["…"]'`, for every process (the
   running bot reads and writes with both meanwhile);
2. `coverwatch security rotate-key`: every id number sealed under the new key, a chunk per
   transaction, each audited; stopped half-way, it continues where it stopped when run again;
3. drop PREVIOUS_DATA_KEYS once it reports nothing left.
The first `rotate-key` after setting a key for the first time seals the plain values.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import CliError, cli_actor, options, progress_bar, reported
from storage.db import session_scope
from storage.rekey import left_to_reseal, rotate
from storage.sealing import DATA_KEY_VARIABLE, new_key

app = typer.Typer(help="The data key that seals id numbers at rest (docs/SECURITY.md).")


@app.command("generate-key")
def generate_key() -> None:
    """Print a new random data key (for COVERWATCH_SECURITY__DATA_KEY)."""
    typer.echo(new_key())


@app.command("rotate-key")
@reported
def rotate_key(
    ctx: typer.Context,
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, help="Rows per transaction (default 500).")
    ] = 500,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be sealed; change nothing.")
    ] = False,
) -> None:
    """Seal every id number under [security] data_key: plain ones and those under older keys."""
    opts = options(ctx)
    settings = opts.settings()
    keys = settings.security.data_keys()
    if keys is None:
        raise CliError(f"no [security] data_key: set {DATA_KEY_VARIABLE} to the new key")
    context = opts.app(settings)
    if dry_run:
        with session_scope(context.engine) as session:
            left = left_to_reseal(session, keys)
        typer.echo(
            f"{left.total} id numbers to seal under data key {keys.current_id} "
            f"({left.plain} plain, {left.older} under older keys); nothing changed"
        )
        return
    with progress_bar("sealing id numbers") as update:
        done = rotate(
            context.engine,
            keys,
            actor=cli_actor(),
            via="cli",
            now=context.now,
            chunk=chunk,
            progress=update,
        )
    typer.echo(
        f"sealed {done.resealed} id numbers under data key {keys.current_id} "
        f"({done.were_plain} were plain)"
    )
    if done.left:
        raise CliError(
            f"{done.left} id numbers were written under an older key during the run: "
            "check every process has the new data_key, then run rotate-key again"
        )
    typer.echo("every id number is sealed under the current key: previous_data_keys may go")
