"""`coverwatch silence add|list|remove` through the real CLI (issue 14 item 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, company

UNTIL = "2026-11-23T02:00:00+00:00"
"""Three days after the frozen clock (2026-11-20 10:00 in Shanghai)."""


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/cli.db"
    company(db, tmp_path)
    assert cli(db, "dues", "--period", "2026-11").exit_code == 0
    assert cli(db, "scan").exit_code == 0  # Shanghai's and Beijing's November: overdue
    return db


def _overdue(url: str, account: str) -> dict[str, Any]:
    alerts = json.loads(cli(url, "alerts", "--json").stdout)["alerts"]
    return next(a for a in alerts if a["kind"] == "overdue" and a["account"] == account)


def test_silence_lifecycle_and_the_urgent_rule(url: str) -> None:
    added = cli(url, "silence", "add", "--account", "shanghai", "--for", "3d", "--reason", "down")
    assert added.exit_code == 0, added.output
    assert added.stdout == f"silence #1: account=shanghai until {UNTIL}: down\n"
    # Overdue is urgent: an account silence leaves it notifying.
    assert _overdue(url, "shanghai")["silenced_until"] is None

    args = ("--account", "shanghai", "--kind", "overdue", "--for", "3d", "--reason", "holiday")
    assert cli(url, "silence", "add", *args).exit_code == 0
    shanghai = _overdue(url, "shanghai")
    assert (shanghai["state"], shanghai["silenced_until"]) == ("open", UNTIL)
    assert _overdue(url, "beijing")["silenced_until"] is None

    listed = json.loads(cli(url, "silence", "list", "--json").stdout)["silences"]
    assert [(s["id"], s["account"], s["kind"], s["ends_at"]) for s in listed] == [
        (1, "shanghai", None, UNTIL),
        (2, "shanghai", "overdue", UNTIL),
    ]
    assert listed[1]["reason"] == "holiday" and listed[1]["created_by"].startswith("cli:")
    assert "#2 account=shanghai kind=overdue until" in cli(url, "silence", "list").stdout

    assert cli(url, "silence", "remove", "2").stdout == "silence #2 removed\n"
    assert _overdue(url, "shanghai")["silenced_until"] is None
    audit = json.loads(cli(url, "audit", "--json").stdout)["entries"]
    assert [e["action"] for e in audit if e["action"].startswith("silence")] == [
        "silence.add",
        "silence.add",
        "silence.remove",
    ]
    assert all(e["via"] == "cli" for e in audit if e["action"].startswith("silence"))


def test_an_urgent_alert_is_silenced_by_id_only_with_its_kind(url: str) -> None:
    alert_id = str(_overdue(url, "shanghai")["id"])
    refused = cli(url, "silence", "add", "--alert", alert_id, "--for", "1d", "--reason", "x")
    assert refused.exit_code == 1
    assert refused.stderr == "error: overdue is urgent: it is silenced only by naming its kind\n"
    args = ("--alert", alert_id, "--kind", "overdue", "--for", "1d", "--reason", "paid by hand")
    assert cli(url, "silence", "add", *args).exit_code == 0
    assert _overdue(url, "shanghai")["silenced_until"] == "2026-11-21T02:00:00+00:00"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--kind", "late", "--for", "1d"), "error: --kind: unknown alert kind 'late' (one of"),
        (("--account", "mars", "--for", "1d"), "error: --account: unknown account 'mars'"),
        (("--account", "shanghai", "--for", "32d"), "error: --for: a pause lasts at most 31 days"),
        (("--account", "shanghai", "--for", "soon"), "error: --for: expected a duration"),
        (("--for", "1d"), "error: a silence names an account, a kind or an alert"),
        (("--alert", "999", "--for", "1d"), "error: --alert: no alert #999"),
    ],
)
def test_bad_silences_are_one_line(url: str, args: tuple[str, ...], error: str) -> None:
    result = cli(url, "silence", "add", *args, "--reason", "test")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(error)


def test_removing_what_is_not_in_force_is_one_line(url: str) -> None:
    result = cli(url, "silence", "remove", "7")
    assert (result.exit_code, result.stderr) == (1, "error: no silence #7 is in force\n")
    assert cli(url, "silence", "list").stdout == "no silences in force\n"
