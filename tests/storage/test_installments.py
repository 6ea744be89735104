"""Installment plans on fixed dates: each part reminded, payments filling parts in order,
and each part's alert resolved once paid — through the scan and the outbox like any alert."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.alert_rules import RuleSettings
from core.calendars import cn_official_years
from core.locales import ZH_CN
from core.money import display_amount
from core.periods import Period
from core.policy_loader import load_policies
from handlers.alert_render import render_alert
from handlers.context import AppContext
from handlers.i18n import translate
from handlers.pipeline import handle
from handlers.types import Message
from storage.accounts import account_policies, sync_accounts
from storage.alerts import create_plan, installments
from storage.db import session_scope
from storage.ledger import period_dues, run_dues
from storage.models import Alert, Delivery, Employee, Installment, Payment
from storage.outbox import AlertPayload, decode_payload
from storage.routing import Routing
from storage.scan import run_scan

POLICIES = load_policies()
OCT = Period(2026, 10)
# Beijing 2026-10 falls due on Thu 15 Oct; cover is suspended 15 days later, on 30 Oct.
PARTS = (date(2026, 10, 21), date(2026, 10, 25), date(2026, 10, 29))


def _at(day: date) -> datetime:
    return datetime.combine(day, time(2), tzinfo=UTC)  # 10:00 in Shanghai


def _scan(engine: Engine, day: date) -> None:
    run_scan(
        engine,
        as_of=day,
        now=_at(day),
        policies=POLICIES,
        rules=RuleSettings(),
        routing=Routing(),
    )


def _planned(engine: Engine, account: str = "beijing", month: Period = OCT) -> tuple[int, Decimal]:
    """An HR person, the account's dues for `month` unpaid, and a 3-part plan made on the 18th
    (Beijing October 2026 unless told)."""
    planned_on = month.day(18)
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=[account])
        session.add(
            Employee(
                employee_id="HR1",
                name="HR1",
                account_id=account,
                hire_date=date(2025, 1, 1),
                enrolled_on=date(2025, 1, 1),
                salary=Decimal("10000"),
                role="hr",
            )
        )
        session.flush()
        run_dues(session, month, account_policies(session, POLICIES), now=_at(month.day(1)))
        total = period_dues(session, month)[0].total
    _scan(engine, planned_on)
    with session_scope(engine) as session:
        overdue = session.exec(select(Alert).where(Alert.kind == "overdue")).one()
        create_plan(
            session,
            overdue,
            3,
            by="HR1",
            at=_at(planned_on),
            today=planned_on,
            accounts=account_policies(session, POLICIES),
        )
        assert overdue.id is not None
        return overdue.id, total


def _parts(engine: Engine) -> dict[int, Alert]:
    """The installment alerts by part number."""
    with session_scope(engine) as session:
        found = session.exec(select(Alert).where(Alert.kind == "installment_due")).all()
        return {int(json.loads(a.details)["seq"]): a for a in found}


def _pay(engine: Engine, amount: Decimal, on: date) -> None:
    with session_scope(engine) as session:
        session.add(Payment(account_id="beijing", period=str(OCT), amount=amount, paid_on=on))


def test_each_part_is_reminded_before_its_date_through_the_outbox(engine: Engine) -> None:
    plan_id, total = _planned(engine)
    with session_scope(engine) as session:
        amounts = [part.amount for part in installments(session, plan_id)]
    assert [p.due_on for p in _plan(engine, plan_id)] == list(PARTS)
    assert sum(amounts) == total

    _scan(engine, date(2026, 10, 19))  # 2 days before part 1, 6 and 10 before parts 2 and 3
    parts = _parts(engine)
    assert sorted(parts) == [1, 2], "part 3 is beyond the first lead day (7)"
    assert parts[1].notified_stage == "2026-10-21:lead-3"
    assert parts[2].notified_stage == "2026-10-25:lead-7"
    assert (parts[1].due_date, parts[1].principal) == (PARTS[0], amounts[0])
    assert parts[1].suspension_on == date(2026, 10, 30)
    with session_scope(engine) as session:
        keys = {
            d.idempotency_key
            for d in session.exec(select(Delivery).where(Delivery.alert_id == parts[1].id))
        }
        assert keys == {f"alert:{parts[1].id}:2026-10-21:lead-3:L0:console:HR1"}
        text = render_alert(session, parts[1], locale="en").text
    assert f"installment of {display_amount(amounts[0], 'CNY')} due on 2026-10-21" in text

    _scan(engine, date(2026, 10, 19))  # the same day again: nothing new
    _scan(engine, date(2026, 10, 21))  # part 1's day: its own reminder
    assert _parts(engine)[1].notified_stage == "2026-10-21:lead-0"
    with session_scope(engine) as session:
        sent = session.exec(select(Delivery).where(Delivery.alert_id == parts[1].id)).all()
    assert len(sent) == 2


def test_payments_fill_parts_in_order_and_paid_parts_resolve(engine: Engine) -> None:
    plan_id, _ = _planned(engine)
    first, second, third = (p.amount for p in _plan(engine, plan_id))
    _pay(engine, first + Decimal("100.00"), date(2026, 10, 20))
    _scan(engine, date(2026, 10, 20))
    assert [p.paid for p in _plan(engine, plan_id)] == [first, Decimal("100.00"), Decimal("0")]
    _scan(engine, date(2026, 10, 22))  # 3 and 7 days before parts 2 and 3
    parts = _parts(engine)
    assert sorted(parts) == [2, 3], "a part paid before any reminder never opens"
    assert parts[2].principal == second - Decimal("100.00")
    assert parts[2].state == "open" and parts[3].state == "open"

    _pay(engine, second - Decimal("100.00") + third, date(2026, 10, 26))
    _scan(engine, date(2026, 10, 26))
    assert [p.paid for p in _plan(engine, plan_id)] == [first, second, third]
    assert {a.state for a in _parts(engine).values()} == {"resolved"}
    with session_scope(engine) as session:
        assert session.get(Alert, plan_id).state == "resolved"  # type: ignore[union-attr]


def test_a_missed_part_stays_open_and_is_notified_once_more(engine: Engine) -> None:
    _planned(engine)
    _scan(engine, date(2026, 10, 21))
    _scan(engine, date(2026, 10, 22))
    _scan(engine, date(2026, 10, 23))
    part = _parts(engine)[1]
    assert part.state == "open" and part.notified_stage == "2026-10-21:missed"
    with session_scope(engine) as session:
        payloads = [
            decode_payload(d.payload)
            for d in session.exec(select(Delivery).where(Delivery.alert_id == part.id))
        ]
    stages = {payload.stage for payload in payloads if isinstance(payload, AlertPayload)}
    assert stages == {"2026-10-21:lead-0", "2026-10-21:missed"}


def test_reminders_share_their_debts_group_and_outlive_its_inhibition(engine: Engine) -> None:
    """Issue 14 item 2: the plan's parts are in the overdue month's group; when suspension
    nears, the overdue alert is inhibited but the parts still remind, as paying them is what
    averts the suspension."""
    _planned(engine)
    _scan(engine, date(2026, 10, 24))  # the suspension (10-30) is 6 days away
    with session_scope(engine) as session:
        alerts = {a.kind: a for a in session.exec(select(Alert)) if a.kind != "installment_due"}
    parts = _parts(engine)
    groups = {a.group_key for a in [*alerts.values(), *parts.values()]}
    assert groups == {"beijing:2026-10"}
    assert alerts["overdue"].inhibited_by == alerts["suspension_imminent"].id
    assert parts[2].inhibited_by is None and parts[2].notified_stage == "2026-10-25:lead-1"


def test_an_installment_cannot_itself_be_planned(engine: Engine) -> None:
    _planned(engine)
    _scan(engine, date(2026, 10, 19))
    part = _parts(engine)[1]
    app = AppContext(engine=engine, policies=POLICIES, clock=lambda: _at(date(2026, 10, 19)))
    reply = handle(
        app,
        Message(
            platform="console",
            user_id="HR1",
            conversation_id="console:HR1",
            is_direct=True,
            text=f"plan {part.id} 2",
            event_id="plan-of-a-part",
            locale="en",
        ),
    )
    assert "cannot be paid in installments" in reply.text


def _plan(engine: Engine, plan_id: int) -> list[Installment]:
    with session_scope(engine) as session:
        return list(installments(session, plan_id))


def test_a_reminder_marks_amounts_from_a_provisional_rule(engine: Engine) -> None:
    """Issue 13 item 7: Hangzhou's band is carried over, so each part is an estimate: ≈ on the
    amount and the footnote naming the figure, as the overdue alert it belongs to says."""
    _planned(engine, "hangzhou")
    _scan(engine, date(2026, 10, 19))
    part = _parts(engine)[1]
    with session_scope(engine) as session:
        schemes = account_policies(session, POLICIES)["hangzhou"].estimates(OCT)
        assert schemes
        for locale in ("en", ZH_CN):
            reply = render_alert(session, part, locale=locale)
            figures = ", ".join(
                f"hangzhou {translate(locale, f'scheme.{e.scheme}')}" for e in schemes
            )
            assert translate(locale, "dues.estimate", figures=figures) in reply.text
            assert reply.card is not None
            principal = translate(locale, "notice.field.principal")
            (value,) = [f.value for f in reply.card.fields if f.label == principal]
            assert value.startswith("≈")
            assert "≈2026-10-21" not in reply.text  # the part's own day is no estimate


def test_a_reminder_marks_a_suspension_date_from_an_unpublished_calendar(engine: Engine) -> None:
    """Issue 13 item 5: the plan's suspension date is counted from a due date in a year no
    holiday library knows yet; the reminder says ≈ on it (not on the part's own day)."""
    later = Period(max(cn_official_years()) + 5, 10)
    _planned(engine, "beijing", later)
    _scan(engine, later.day(19))
    part = _parts(engine)[1]
    assert part.suspension_on is not None and part.due_date is not None
    with session_scope(engine) as session:
        reply = render_alert(session, part, locale="en")
    assert f"≈{part.suspension_on.isoformat()}" in reply.text
    assert f"≈{part.due_date.isoformat()}" not in reply.text
    assert translate("en", "dues.suspension_estimate", account="beijing") in reply.text
