"""`coverwatch security generate-key|rotate-key` through the CLI, keys from the environment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from bot.cli import app
from storage.sealing import key_id, new_key
from tests.support.cli import TODAY, cli, company

ID_NUMBERS = ("110105199001011234", "110105199202023456")
"""H001's and E001's, as tests.support.cli imports them."""


def _with_keys(url: str, *args: str, key: str | None, previous: str | None = None) -> Result:
    environ = {"COVERWATCH_SECURITY__DATA_KEY": key or ""}
    if previous is not None:
        environ["COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS"] = json.dumps([previous])
    return CliRunner().invoke(app, ["--db", url, "--today", TODAY, *args], env=environ)


def _stored(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        query = text("SELECT id_number FROM employee WHERE id_number IS NOT NULL ORDER BY 1")
        stored = [row[0] for row in connection.execute(query)]
    engine.dispose()
    return stored


def test_generate_then_rotate_seals_every_id_number(sqlite_url: str, tmp_path: Path) -> None:
    company(sqlite_url, tmp_path)
    assert sorted(_stored(sqlite_url)) == sorted(ID_NUMBERS)
    generated = CliRunner().invoke(app, ["security", "generate-key"])
    first = generated.stdout.strip()
    assert generated.exit_code == 0 and len(first) == 44

    counted = _with_keys(sqlite_url, "security", "rotate-key", "--dry-run", key=first)
    assert counted.stdout.startswith(
        f"2 id numbers to seal under data key {key_id(first)} (2 plain"
    )
    sealed = _with_keys(sqlite_url, "security", "rotate-key", key=first)
    assert sealed.exit_code == 0, sealed.output
    assert f"sealed 2 id numbers under data key {key_id(first)} (2 were plain)" in sealed.stdout
    assert all(value.startswith(f"fernet:{key_id(first)}:") for value in _stored(sqlite_url))

    # Read back masked as ever through a command that shows it.
    shown = _with_keys(sqlite_url, "ask", "--as", "H001", "--json", "coverage", key=first)
    assert "110105********1234" in shown.stdout

    second = new_key()
    rotated = _with_keys(sqlite_url, "security", "rotate-key", key=second, previous=first)
    assert f"sealed 2 id numbers under data key {key_id(second)} (0 were plain)" in rotated.stdout
    assert all(value.startswith(f"fernet:{key_id(second)}:") for value in _stored(sqlite_url))

    audit = json.loads(_with_keys(sqlite_url, "audit", "--json", key=second).stdout)
    rotations = [e for e in audit["entries"] if e["action"] == "rotate-key"]
    assert [e["via"] for e in rotations] == ["cli", "cli"]
    outputs = generated.output + sealed.output + rotated.output + shown.output
    for secret in (second, *ID_NUMBERS):
        assert secret not in outputs + json.dumps(audit)


def test_without_the_right_key_every_command_refuses_in_one_line(
    sqlite_url: str, tmp_path: Path
) -> None:
    company(sqlite_url, tmp_path)
    key = new_key()
    assert _with_keys(sqlite_url, "security", "rotate-key", key=key).exit_code == 0
    wrong = new_key()
    for result in (
        cli(sqlite_url, "alerts"),
        _with_keys(sqlite_url, "alerts", key=wrong),
        _with_keys(sqlite_url, "security", "rotate-key", key=wrong),
    ):
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error: id numbers are sealed")
        assert key_id(key) in result.stderr and key not in result.stderr
    missing = _with_keys(sqlite_url, "security", "rotate-key", key=None)
    assert missing.stderr == (
        "error: no [security] data_key: set COVERWATCH_SECURITY__DATA_KEY to the new key\n"
    )


def test_no_log_record_at_any_level_holds_the_key_or_an_id_number(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    company(sqlite_url, tmp_path)
    key, wrong = new_key(), new_key()
    assert _with_keys(sqlite_url, "security", "rotate-key", "--chunk", "1", key=key).exit_code == 0
    _with_keys(sqlite_url, "ask", "--as", "H001", "who E001", key=key)
    _with_keys(sqlite_url, "import", "employees", str(tmp_path / "employees.csv"), key=key)
    _with_keys(sqlite_url, "alerts", key=wrong)
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert caplog.records  # DEBUG from the libraries, at least
    for secret in (key, wrong, *ID_NUMBERS):
        assert secret not in logged
