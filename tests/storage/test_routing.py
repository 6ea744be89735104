"""storage.routing: a company-wide alert reaches its owners, else on-call, else HR and finance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine

from core.oncall import Rotation
from core.policy_loader import load_policies
from storage.accounts import sync_accounts
from storage.db import session_scope
from storage.models import Alert, Employee
from storage.routing import Routing, deliveries_for, recipients_at

NOW = datetime(2026, 12, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Tuesday
TODAY = date(2026, 12, 15)
POLICIES = load_policies()
PEOPLE = [
    ("H1", "hr", None),
    ("H2", "hr", None),
    ("F1", "finance", "B1"),
    ("B1", "manager", None),  # F1's boss
    ("L1", "hr", None),  # the HR lead
]


def _seed(engine: Engine) -> int:
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["shanghai"])
        for emp_id, role, manager in PEOPLE:
            session.add(
                Employee(
                    employee_id=emp_id,
                    name=f"Name {emp_id}",
                    department="Ops",
                    manager_id=manager,
                    account_id="shanghai",
                    hire_date=date(2025, 1, 1),
                    salary=Decimal("10000"),
                    role=role,
                    slack_user_id=f"U{emp_id}",
                )
            )
        alert = Alert(
            dedupe_key="overdue|account=shanghai|period=2026-11",
            kind="overdue",
            account_id="shanghai",
            period="2026-11",
            opened_at=NOW,
            updated_at=NOW,
        )
        session.add(alert)
        session.flush()
        assert alert.id is not None
        return alert.id


def _ids(engine: Engine, alert_id: int, routing: Routing, level: int = 0) -> list[str]:
    with session_scope(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        people = recipients_at(session, alert, level, routing, today=TODAY)
        return [p.employee_id for p in people]


def test_owners_then_on_call_then_hr_and_finance(engine: Engine) -> None:
    alert_id = _seed(engine)
    rotation = Rotation(members=("H2", "H1"), shift_days=7, starts_on=date(2026, 12, 7))
    owned = Routing(owners={"shanghai": ("F1",)}, rotation=rotation, hr_leads=("L1",))
    assert _ids(engine, alert_id, owned) == ["F1"]
    # Escalation: the owners' managers, then hr_leads.
    assert _ids(engine, alert_id, owned, level=1) == ["B1"]
    assert _ids(engine, alert_id, owned, level=2) == ["L1"]
    # No owner (or one not on the roster): the member on call today (H1 since 2026-12-14).
    unowned = Routing(owners={"shanghai": ("GONE",)}, rotation=rotation)
    assert _ids(engine, alert_id, unowned) == ["H1"]
    # Neither: every HR and finance user, as before owners existed.
    assert _ids(engine, alert_id, Routing()) == ["F1", "H1", "H2", "L1"]


def test_an_owned_alert_is_one_delivery_not_one_per_hr_user(engine: Engine) -> None:
    alert_id = _seed(engine)
    owned = Routing(platforms=("slack",), owners={"shanghai": ("H2",)})
    with session_scope(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        sent = deliveries_for(session, alert, stage="s", level=0, routing=owned, now=NOW)
        everyone = deliveries_for(
            session, alert, stage="s", level=0, routing=Routing(platforms=("slack",)), now=NOW
        )
    assert [(d.platform, d.address) for d in sent] == [("slack", "UH2")]
    assert len(everyone) == 4


def test_an_unreachable_owner_is_a_row_and_the_alert_falls_back(engine: Engine) -> None:
    """F1 has no DingTalk id: an `unreachable` row (never sent), and HR leads and groups."""
    alert_id = _seed(engine)
    routing = Routing(
        platforms=("dingtalk",),
        owners={"shanghai": ("F1",)},
        hr_leads=("L1",),
        hr_groups={"dingtalk": ("cidHR",)},
    )
    with session_scope(engine) as session:
        lead = session.get(Employee, "L1")
        assert lead is not None
        lead.dingtalk_user_id = "DL1"
        session.add(lead)
        alert = session.get(Alert, alert_id)
        assert alert is not None
        level0 = deliveries_for(session, alert, stage="s", level=0, routing=routing, now=NOW)
        level1 = deliveries_for(session, alert, stage="e", level=1, routing=routing, now=NOW)
    assert [(d.platform, d.address, d.state) for d in level0] == [
        ("unreachable", "F1", "unreachable"),
        ("dingtalk", "DL1", "pending"),
        ("dingtalk", "cidHR", "pending"),
    ]
    # Level 1 is F1's manager B1, also without a DingTalk id.
    assert [(d.platform, d.address, d.state) for d in level1] == [
        ("unreachable", "B1", "unreachable"),
        ("dingtalk", "DL1", "pending"),
        ("dingtalk", "cidHR", "pending"),
    ]
