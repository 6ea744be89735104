"""A new SQLite database and its WAL are created 0600 (issue 15 item 9: they were 0644)."""

from __future__ import annotations

import stat
from pathlib import Path

from pytest import MonkeyPatch
from sqlalchemy import text

from storage.backup import backup_sqlite
from storage.db import make_engine, upgrade


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_its_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "coverwatch.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:  # keeps the WAL open while its mode is read
        connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        connection.execute(text("INSERT INTO probe VALUES (1)"))
        connection.commit()
        wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
        assert wal.exists() and shm.exists()
        assert {_mode(path), _mode(wal), _mode(shm)} == {0o600}
    engine.dispose()


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    assert _mode(path) == 0o640


def test_in_memory_databases_create_no_file(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    assert list(tmp_path.iterdir()) == []


def test_a_backup_is_as_private_as_its_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    upgrade(engine)
    out = tmp_path / "copy.db"
    assert backup_sqlite(engine, out) > 0
    engine.dispose()
    assert _mode(out) == 0o600
