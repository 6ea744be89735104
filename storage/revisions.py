"""Writing a new migration: autogenerate it from the difference between the models and a
database at the newest revision (`coverwatch db revision -m MSG`, docs/DESIGN.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Engine

from storage.db import MIGRATIONS, alembic_config

# Written files are tidied as `make lint` wants them (Alembic post-write hooks, "module" type).
RUFF_HOOKS = {
    "ruff_fix": "check --fix --quiet REVISION_SCRIPT_FILENAME",
    "ruff_format": "format --quiet REVISION_SCRIPT_FILENAME",
}


class RevisionError(Exception):
    """The revision cannot be written; the message says why and what to do."""


def next_revision_id(script_location: Path = MIGRATIONS) -> str:
    """The number after the highest revision id, four digits like "0002".

    The highest, not the head's: revisions written in parallel may be chained out of order.
    """
    scripts = ScriptDirectory.from_config(alembic_config(script_location)).walk_revisions()
    numbers = [int(script.revision) for script in scripts if script.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(
    engine: Engine,
    message: str,
    *,
    rev_id: str | None = None,
    script_location: Path = MIGRATIONS,
) -> Path | None:
    """Write the revision that brings `engine`'s schema to the models; return its file.

    None when the models and the schema already agree: nothing is written (Alembic's recipe
    "Don't Generate Empty Migrations with Autogenerate"). The database must be at the newest
    revision, or the difference would repeat what the pending migrations already do.
    """
    if not message.strip():
        raise RevisionError("a revision needs a message (-m)")
    rev_id = rev_id or next_revision_id(script_location)
    config = alembic_config(script_location)
    if importlib.util.find_spec("ruff") is not None:  # a developer install has it
        _tidy_with_ruff(config)
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if rev_id in known:
        raise RevisionError(f"revision {rev_id} exists already; choose another --rev-id")

    def drop_if_empty(
        context: MigrationContext, revision: Any, directives: list[MigrationScript]
    ) -> None:
        if all(ops.is_empty() for ops in directives[0].upgrade_ops_list):
            directives.clear()

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            written = command.revision(
                config,
                message=message,
                autogenerate=True,
                rev_id=rev_id,
                process_revision_directives=drop_if_empty,
            )
        except CommandError as exc:
            if "not up to date" in str(exc):
                raise RevisionError(
                    "the database is not at the newest revision; run `coverwatch init` first"
                ) from None
            raise RevisionError(str(exc)) from None
    if isinstance(written, list):  # one entry per head; ours has one, or none when dropped
        written = next((script for script in written if script is not None), None)
    return Path(written.path) if written is not None else None


def _tidy_with_ruff(config: Config) -> None:
    for name, arguments in RUFF_HOOKS.items():
        config.set_section_option("post_write_hooks", f"{name}.type", "module")
        config.set_section_option("post_write_hooks", f"{name}.module", "ruff")
        config.set_section_option("post_write_hooks", f"{name}.options", arguments)
    config.set_section_option("post_write_hooks", "hooks", " ".join(RUFF_HOOKS))
