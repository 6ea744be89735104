"""`coverwatch db revision` against throwaway databases: it writes nothing when the models and
the schema agree, and refuses a database that is not at the newest revision."""

from __future__ import annotations

from pathlib import Path

from storage.db import MIGRATIONS
from tests.support.cli import cli


def _versions() -> list[Path]:
    return sorted((MIGRATIONS / "versions").glob("*.py"))


def test_a_current_schema_needs_no_revision(db_url: str) -> None:
    assert cli(db_url, "init").exit_code == 0
    before = _versions()
    result = cli(db_url, "db", "revision", "-m", "nothing changed")
    assert result.exit_code == 0, result.output
    assert result.stdout == "the models and the database schema agree: no revision written\n"
    assert _versions() == before


def test_a_database_behind_head_is_one_error_line(tmp_path: Path) -> None:
    before = _versions()
    result = cli(f"sqlite:///{tmp_path}/empty.db", "db", "revision", "-m", "too early")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the database is not at the newest revision; run `coverwatch init` first\n"
    )
    assert _versions() == before
