"""The rows behind the chat's KPI summary, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine

from storage.db import session_scope
from storage.models import Alert
from storage.queries_kpi import (
    alert_acks,
    alerts_opened_between,
    department_account_ids,
    hires_between,
)
from tests.support.company import seed

START = datetime(2025, 5, 1, tzinfo=UTC)


def test_hires_between_by_department(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as session:
        june = hires_between(session, date(2025, 6, 1), date(2025, 6, 30))
        assert [(h.employee_id, h.department, h.enrolled_on) for h in june] == [
            ("E007", "Engineering", None)
        ]
        january = hires_between(session, date(2024, 1, 1), date(2024, 1, 31), "Engineering")
        assert [h.employee_id for h in january] == ["E001", "E002"]
        assert hires_between(session, date(2024, 1, 1), date(2024, 1, 1)) == []


def test_alerts_opened_in_a_half_open_window(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as session:
        for key, opened in [
            ("a", START - timedelta(seconds=1)),
            ("b", START),
            ("c", START.replace(month=6)),
        ]:
            session.add(Alert(dedupe_key=key, kind="due_soon", opened_at=opened, updated_at=opened))
    with session_scope(engine) as session:
        found = alerts_opened_between(session, START, START.replace(month=6))
        assert [a.dedupe_key for a in found] == ["b"]
        acks = alert_acks(found)
        assert acks[0].opened_at == START and acks[0].acknowledged_at is None


def test_department_account_ids(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as session:
        assert department_account_ids(session, "Engineering") == {"beijing"}
        assert department_account_ids(session, "Sales") == {"hk"}
        assert department_account_ids(session, "Nowhere") == set()
