"""Writing a migration: autogenerate against a database at head, on SQLite and PostgreSQL.

The revisions are written into a copy of storage/migrations, so a test never adds a file to
the repository, and the copy is then used to upgrade, which proves the written file works.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import main as alembic_main
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage.db import MIGRATIONS, alembic_config, make_engine
from storage.revisions import RevisionError, new_revision, next_revision_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """A throwaway copy of the migrations folder."""
    return Path(shutil.copytree(MIGRATIONS, tmp_path / "migrations"))


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def test_no_revision_when_the_models_and_the_schema_agree(engine: Engine, scripts: Path) -> None:
    before = sorted((scripts / "versions").iterdir())
    assert new_revision(engine, "nothing to do", script_location=scripts) is None
    assert sorted((scripts / "versions").iterdir()) == before


def test_a_difference_becomes_a_revision_that_upgrades(engine: Engine, scripts: Path) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE job_run"))
    previous_head = ScriptDirectory.from_config(alembic_config(scripts)).get_current_head()
    rev_id = next_revision_id(scripts)

    path = new_revision(engine, "Bring back job runs", script_location=scripts)

    assert path is not None
    assert path.name == f"{rev_id}_bring_back_job_runs.py"
    source = path.read_text()
    assert 'op.create_table(\n        "job_run",' in source
    assert f'down_revision: str | None = "{previous_head}"' in source
    config = alembic_config(scripts)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert "job_run" in inspect(engine).get_table_names()
    assert _differences(engine) == []


def test_a_database_behind_head_is_refused_and_nothing_written(
    sqlite_url: str, scripts: Path
) -> None:
    engine = make_engine(sqlite_url)
    before = sorted((scripts / "versions").iterdir())
    with pytest.raises(RevisionError, match="not at the newest revision"):
        new_revision(engine, "too early", script_location=scripts)
    engine.dispose()
    assert sorted((scripts / "versions").iterdir()) == before


def test_an_existing_revision_id_or_no_message_is_refused(engine: Engine, scripts: Path) -> None:
    with pytest.raises(RevisionError, match="exists already"):
        new_revision(engine, "again", rev_id="0001", script_location=scripts)
    with pytest.raises(RevisionError, match="needs a message"):
        new_revision(engine, "  ", script_location=scripts)


def test_the_alembic_command_line_upgrades_a_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`alembic -x url=URL upgrade head` from the repository root ([tool.alembic])."""
    monkeypatch.chdir(ROOT)
    alembic_main(["-x", f"url={db_url}", "upgrade", "head"])
    engine = make_engine(db_url)
    try:
        assert _differences(engine) == []
    finally:
        engine.dispose()
