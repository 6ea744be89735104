"""The on-call hand-over: the incoming member hears once per shift, at its start."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.oncall import Rotation
from core.policy_loader import load_policies
from core.quiet_hours import QuietHours
from handlers.alert_render import render_delivery
from handlers.i18n import translate
from storage.accounts import sync_accounts
from storage.db import session_scope
from storage.handover import queue_handover
from storage.models import Delivery, Employee
from storage.routing import UNREACHABLE, Routing

START = date(2026, 12, 7)
ROTATION = Rotation(members=("A", "B"), shift_days=7, starts_on=START)
ROUTING = Routing(
    platforms=("slack",), hr_groups={"slack": ("C_HR",)}, quiet_hours=QuietHours.parse("")
)


def _seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        sync_accounts(session, {}, load_policies(), ids=["beijing"])
        for employee_id, slack, locale in [("A", "U_A", "en"), ("B", None, None)]:
            session.add(
                Employee(
                    employee_id=employee_id,
                    name=employee_id,
                    account_id="beijing",
                    hire_date=date(2025, 1, 1),
                    salary=Decimal("10000"),
                    role="hr",
                    slack_user_id=slack,
                    locale=locale,
                )
            )


def _run(engine: Engine, day: date) -> int:
    now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=1)
    with session_scope(engine) as session:
        return queue_handover(session, ROTATION, today=day, now=now, routing=ROUTING)


def test_the_incoming_member_hears_once_per_shift(engine: Engine) -> None:
    _seed(engine)
    assert _run(engine, START - timedelta(days=1)) == 0  # before the rotation starts
    assert _run(engine, START) == 1
    for day in (START, START + timedelta(days=1), START + timedelta(days=6)):  # reruns, restarts
        assert _run(engine, day) == 0
    assert _run(engine, START + timedelta(days=8)) == 1  # B's shift, a day late: still told once
    assert _run(engine, START + timedelta(days=13)) == 0
    assert _run(engine, START + timedelta(days=14)) == 1  # A again
    with session_scope(engine) as session:
        rows = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        assert [(d.employee_id, d.platform, d.is_group, d.state) for d in rows] == [
            ("A", "slack", False, "pending"),
            ("B", UNREACHABLE, False, UNREACHABLE),  # no Slack id: recorded, not skipped
            ("A", "slack", False, "pending"),
        ]
        reply = render_delivery(session, rows[0])
    assert reply is not None
    assert reply.text == translate(
        "en", "oncall_notice.handover", start="2026-12-07", until="2026-12-13"
    )
