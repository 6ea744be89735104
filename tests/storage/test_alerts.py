"""storage.alerts: who may act on an alert, and acknowledgement as a compare-and-set."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.policy_loader import load_policies
from storage.accounts import sync_accounts
from storage.alerts import acknowledge, may_act
from storage.db import session_scope
from storage.models import Alert, AlertEvent, Employee

NOW = datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
POLICIES = load_policies()
OWNERS = {"beijing": ("M2",)}


def _seed(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing"])
        people = [
            ("M1", "Sales", None, "manager"),
            ("M2", "Ops", None, "manager"),
            ("E1", "Sales", "M1", "employee"),
            ("H1", "People", None, "hr"),
            ("F1", "Finance", None, "finance"),
        ]
        for emp_id, dept, manager, role in people:
            session.add(
                Employee(
                    employee_id=emp_id,
                    name=f"Name {emp_id}",
                    department=dept,
                    manager_id=manager,
                    account_id="beijing",
                    hire_date=date(2025, 1, 1),
                    salary=Decimal("10000"),
                    role=role,
                )
            )
        company = Alert(
            dedupe_key="overdue|account=beijing|period=2026-10",
            kind="overdue",
            account_id="beijing",
            period="2026-10",
            opened_at=NOW,
            updated_at=NOW,
        )
        enrol = Alert(
            dedupe_key="enrollment_deadline|employee=E1",
            kind="enrollment_deadline",
            employee_id="E1",
            opened_at=NOW,
            updated_at=NOW,
        )
        session.add_all([company, enrol])
        session.flush()
        assert company.id is not None and enrol.id is not None
        return {"company": company.id, "enrol": enrol.id}


def test_a_manager_acts_only_on_their_reports_unless_an_owner(engine: Engine) -> None:
    ids = _seed(engine)
    with session_scope(engine) as session:
        company, enrol = session.get(Alert, ids["company"]), session.get(Alert, ids["enrol"])
        m1, m2, hr = (session.get(Employee, e) for e in ("M1", "M2", "H1"))
        assert company is not None and enrol is not None
        assert m1 is not None and m2 is not None and hr is not None
        assert not may_act(session, m1, company, OWNERS)  # sees it, may not stop it
        assert may_act(session, m1, company, {"beijing": ("M1",)})
        assert may_act(session, m2, company, OWNERS)
        assert may_act(session, m1, enrol, OWNERS)
        assert not may_act(session, m2, enrol, OWNERS)  # not their report
        assert may_act(session, hr, company, {}) and may_act(session, hr, enrol, {})


@pytest.mark.parametrize("round_", range(3))
def test_two_simultaneous_acks_one_wins(engine: Engine, round_: int) -> None:
    """HR on Slack and finance on WeCom at the same moment: one `acknowledged` event, and
    the alert names the one who won it; the loser learns who that was."""
    alert_id = _seed(engine)["company"]
    both_loaded = threading.Barrier(2, timeout=10)
    outcome: dict[str, tuple[bool, str | None]] = {}
    errors: list[BaseException] = []

    def ack(who: str, via: str) -> None:
        try:
            with session_scope(engine) as session:
                alert = session.get(Alert, alert_id)
                assert alert is not None and alert.state == "open"
                both_loaded.wait()  # both have seen it open before either writes
                won = acknowledge(session, alert, by=who, via=via, at=NOW)
                outcome[who] = (won, alert.acknowledged_by)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=ack, args=("H1", "slack")),
        threading.Thread(target=ack, args=("F1", "wecom")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    winners = [who for who, (won, _) in outcome.items() if won]
    assert len(winners) == 1
    loser = ({"H1", "F1"} - set(winners)).pop()
    assert outcome[loser] == (False, winners[0])
    with session_scope(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert (alert.state, alert.acknowledged_by) == ("acknowledged", winners[0])
        events = session.exec(select(AlertEvent).where(AlertEvent.alert_id == alert_id)).all()
        assert [(e.event, e.actor) for e in events] == [("acknowledged", winners[0])]
