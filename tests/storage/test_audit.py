"""The audit log on SQLite and PostgreSQL: entries in the caller's transaction, filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from storage.audit import VIEW, audit_entries, record_audit, record_audits, record_views
from storage.db import session_scope

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def test_entries_filter_by_employee_as_actor_or_subject_and_by_time(engine: Engine) -> None:
    with session_scope(engine) as session:
        record_audit(session, at=T0, actor="H001", action=VIEW, subject="E001", via="slack")
        record_audit(session, at=T1, actor="H001", action="enroll", subject="E002", detail="x")
        record_audit(session, at=T1, actor="token:payroll", action="payments.write", via="api")
    with session_scope(engine) as session:
        everything = audit_entries(session)
        assert [(e.actor, e.action, e.subject) for e in everything] == [
            ("H001", "view", "E001"),
            ("H001", "enroll", "E002"),
            ("token:payroll", "payments.write", None),
        ]
        assert [e.action for e in audit_entries(session, employee="E002")] == ["enroll"]
        assert len(audit_entries(session, employee="H001")) == 2
        assert [e.actor for e in audit_entries(session, since=T1)] == ["H001", "token:payroll"]
        assert audit_entries(session, employee="E001", since=T1) == []


def test_an_entry_rolls_back_with_the_change_it_records(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        record_audit(session, at=T0, actor="H001", action="leave", subject="E001")
        raise RuntimeError("the change failed")
    with session_scope(engine) as session:
        assert audit_entries(session) == []


def test_an_entry_needs_an_actor_and_an_action(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(ValueError, match="actor"):
        record_audit(session, at=T0, actor="", action=VIEW)


def test_one_change_to_many_people_is_one_entry_each(engine: Engine) -> None:
    with session_scope(engine) as session:
        record_audits(
            session, at=T0, actor="erp", action="employees.write", subjects=["E1", "E2"], via="api"
        )
        record_audits(session, at=T0, actor="erp", action="employees.write", subjects=[])
    with session_scope(engine) as session:
        assert [(e.actor, e.subject, e.via) for e in audit_entries(session)] == [
            ("erp", "E1", "api"),
            ("erp", "E2", "api"),
        ]
    with session_scope(engine) as session, pytest.raises(ValueError, match="actor"):
        record_audits(session, at=T0, actor="", action="employees.write", subjects=["E1"])


def test_views_name_each_other_person_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        shown = ["E2", None, "H001", "E1", "E2"]
        count = record_views(session, at=T0, actor="H001", subjects=shown, detail="alerts", via="x")
    assert count == 2
    with session_scope(engine) as session:
        assert [(e.action, e.subject, e.detail) for e in audit_entries(session)] == [
            (VIEW, "E2", "alerts"),
            (VIEW, "E1", "alerts"),
        ]
