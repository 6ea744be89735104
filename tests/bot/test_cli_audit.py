"""`coverwatch audit`: filters, JSON and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

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
