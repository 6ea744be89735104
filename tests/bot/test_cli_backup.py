"""`coverwatch backup --out FILE`: a consistent copy of a SQLite database, refused elsewhere."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tests.support.cli import cli, company, snapshot


def test_backup_copies_every_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/live.db"
    company(url, tmp_path)
    out = tmp_path / "copy.db"
    result = cli(url, "backup", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"backup: wrote {out} (")
    assert snapshot(f"sqlite:///{out}") == snapshot(url)
    with closing(sqlite3.connect(out)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_backup_never_overwrites(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/live.db"
    company(url, tmp_path)
    out = tmp_path / "copy.db"
    out.write_bytes(b"keep me")
    result = cli(url, "backup", "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr == f"error: {out}: already exists; choose a new file name\n"
    assert out.read_bytes() == b"keep me"


def test_backup_of_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    result = cli(
        "postgresql://postgres@127.0.0.1:5432/test", "backup", "--out", str(tmp_path / "x")
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: backup copies SQLite databases; for postgresql use")
    assert not (tmp_path / "x").exists()
