"""`coverwatch audit`: filters, JSON and bad input."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from bot.cli_common import cli_user
from storage.audit import record_audit
from storage.db import make_engine, session_scope
from tests.support.cli import cli, company


def _seed(url: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        # 2026-11-30 23:30 in Shanghai is still 15:30 UTC that day.
        record_audit(
            session,
            at=datetime(2026, 11, 30, 15, 30, tzinfo=UTC),
            actor="H001",
            action="view",
            subject="E001",
            detail="who E001",
            via="slack",
        )
        record_audit(
            session,
            at=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
            actor="H001",
            action="leave",
            subject="E002",
            detail="leave 2026-12-31",
            via="console",
        )
    engine.dispose()


def test_audit_lists_filters_and_prints_json(sqlite_url: str, tmp_path: Path) -> None:
    company(sqlite_url, tmp_path)
    _seed(sqlite_url)
    listed = cli(sqlite_url, "audit")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "2026-11-30 23:30 H001 view E001 (slack): who E001",
        "2026-12-01 09:00 H001 leave E002 (console): leave 2026-12-31",
    ]
    since = cli(sqlite_url, "audit", "--since", "2026-12-01", "--json")
    assert json.loads(since.output) == {
        "entries": [
            {
                "at": "2026-12-01T01:00:00+00:00",
                "actor": "H001",
                "action": "leave",
                "subject": "E002",
                "detail": "leave 2026-12-31",
                "via": "console",
            }
        ]
    }
    about = cli(sqlite_url, "audit", "--employee", "E001")
    assert about.output.splitlines() == ["2026-11-30 23:30 H001 view E001 (slack): who E001"]
    assert cli(sqlite_url, "audit", "--employee", "E003").output == "no audit entries\n"


def test_audit_refuses_a_bad_date(sqlite_url: str, tmp_path: Path) -> None:
    company(sqlite_url, tmp_path)
    result = cli(sqlite_url, "audit", "--since", "12/01")
    assert result.exit_code == 1
    assert "--since: not a date" in result.output


def test_cli_outputs_that_show_people_are_views_by_the_operator(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`ask --as`, `dues --json`, `report dues` and `alerts` show someone's data to whoever runs
    them (`cli:<os user>`); the dues summary shows account totals only, no view."""
    company(sqlite_url, tmp_path)
    assert cli(sqlite_url, "dues", "--period", "2026-11").exit_code == 0
    assert cli(sqlite_url, "ask", "--as", "E001", "coverage").exit_code == 0
    assert cli(sqlite_url, "dues", "--period", "2026-11", "--json").exit_code == 0
    out = tmp_path / "ledger.csv"
    assert (
        cli(sqlite_url, "report", "dues", "--period", "2026-11", "--out", str(out)).exit_code == 0
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # every employee's base: owner only
    assert cli(sqlite_url, "alerts").exit_code == 0
    entries = json.loads(cli(sqlite_url, "audit", "--json").stdout)["entries"]
    views = [(e["subject"], e["detail"]) for e in entries if e["action"] == "view"]
    everyone = ["E001", "E002", "E003", "H001", "M001"]
    assert views == [
        ("E001", "ask --as"),
        *[(who, "dues --json 2026-11") for who in everyone],
        *[(who, "report dues 2026-11") for who in everyone],
    ]
    actors = {e["actor"] for e in entries if e["action"] == "view"}
    assert actors == {f"cli:{cli_user()}"}
    assert all(e["via"] == "cli" for e in entries if e["action"] == "view")
    by_subject = cli(sqlite_url, "audit", "--employee", "E002")
    assert by_subject.stdout.count(" view E002 (cli): ") == 2
