"""One scan: evaluate the alert rules on a day and apply what they found, in one transaction.

A finding with a known dedupe key updates its alert; a new key opens one; an alert whose
condition is gone resolves. Deliveries for new notification stages are written in the same
transaction as the alert change (the outbox), so a crash never loses or doubles a warning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select as select_rows
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.alert_groups import group_of
from core.alert_rules import (
    EVALUATED_KINDS,
    AccountPeriodView,
    BalanceView,
    HireView,
    RuleSettings,
    evaluate,
)
from core.alerts import AlertEventType, AlertKind, AlertState, Finding, transition
from core.policy import Policy
from storage.accounts import account_policies
from storage.alerts import apply_inhibitions, record, resolve
from storage.cover_notices import tell_employees
from storage.db import session_scope
from storage.installments import plan_findings
from storage.models import Alert, Employee
from storage.outbox import enqueue
from storage.payments import account_periods, latest_balances
from storage.routing import Routing, deliveries_for
from storage.silences import silenced


@dataclass
class ScanReport:
    at: date
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    deliveries: int = 0
    alert_ids: list[int] = field(default_factory=list)
    """Every alert the scan found active (opened or updated), in finding order."""


_UNENROLLED = select_rows(
    col(Employee.employee_id),
    col(Employee.department),
    col(Employee.manager_id),
    col(Employee.account_id),
    col(Employee.hire_date),
    col(Employee.enrolled_on),
    col(Employee.leave_date),
).where(col(Employee.enrolled_on).is_(None))
"""Columns, not ORM objects: a million-employee company has tens of thousands not enrolled yet,
and a mapped `Employee` each would hold the session's memory in proportion (issue 19)."""


def _views(
    session: Session, policies: Mapping[str, Policy], as_of: date
) -> tuple[list[AccountPeriodView], list[HireView], list[BalanceView]]:
    accounts = account_policies(session, policies)
    periods = [
        AccountPeriodView(
            account_id=item.account_id,
            period=item.period,
            currency=item.currency,
            due_date=item.due_date,
            total=item.total,
            outstanding=item.outstanding,
            late_fee=item.late_fee,
            days_overdue=item.days_overdue,
            suspension_on=item.suspension_on,
            paid_in_full_on=item.paid_in_full_on,
            due_date_estimated=accounts[item.account_id].due_date_estimated(item.period),
            estimated=tuple(
                str(e.scheme) for e in accounts[item.account_id].estimates(item.period)
            ),
        )
        for item in account_periods(session, accounts, as_of)
    ]
    hires = [HireView(**row) for row in session.execute(_UNENROLLED).mappings()]
    balances = [
        BalanceView(
            account_id=row.account_id,
            as_of=row.as_of,
            balance=row.balance,
            currency=accounts[row.account_id].currency,
        )
        for row in latest_balances(session, as_of).values()
    ]
    return periods, hires, balances


def _apply(session: Session, alert: Alert | None, finding: Finding, now: datetime) -> Alert:
    fresh = alert is None
    if alert is None:
        alert = Alert(
            dedupe_key=finding.key, kind=finding.kind.value, opened_at=now, updated_at=now
        )
    elif alert.state == AlertState.RESOLVED:
        alert.state = transition(AlertState.RESOLVED, AlertState.OPEN).value
        alert.resolved_at = alert.acknowledged_at = alert.acknowledged_by = None
        alert.escalation_level = 0
        alert.opened_at = now
    alert.account_id = finding.account_id
    alert.employee_id = finding.employee_id
    alert.department = finding.department
    alert.period = str(finding.period) if finding.period else None
    alert.group_key = group_of(finding.kind, finding.account_id, finding.period)
    alert.due_date = finding.due_date
    alert.principal = finding.principal
    alert.late_fee = finding.late_fee
    alert.days_overdue = finding.days_overdue
    alert.suspension_on = finding.suspension_on
    alert.details = json.dumps(dict(finding.details), sort_keys=True, ensure_ascii=False)
    alert.updated_at = now
    session.add(alert)
    session.flush()
    record(session, alert, AlertEventType.OPENED if fresh else AlertEventType.UPDATED, at=now)
    return alert


def apply_findings(
    session: Session,
    findings: Sequence[Finding],
    *,
    now: datetime,
    routing: Routing,
    evaluated: frozenset[str],
) -> ScanReport:
    """Open, update and resolve alerts, work out inhibition, then queue the notifications of
    new stages: an alert inhibited (`storage.alerts.apply_inhibitions`), silenced
    (`storage.silences`) or snoozed sends nothing, and its stage stays unsent, so it notifies
    once that ends."""
    report = ScanReport(at=now.date())
    existing = {
        alert.dedupe_key: alert
        for alert in session.exec(select(Alert).where(col(Alert.kind).in_(evaluated)))
    }
    applied: list[tuple[Alert, Finding]] = []
    for finding in findings:
        previous = existing.get(finding.key)
        was_active = previous is not None and previous.state != AlertState.RESOLVED
        alert = _apply(session, previous, finding, now)
        assert alert.id is not None
        (report.updated if was_active else report.opened).append(alert.id)
        report.alert_ids.append(alert.id)
        applied.append((alert, finding))
    seen = {finding.key for finding in findings}
    for key, alert in existing.items():
        if key not in seen and alert.state != AlertState.RESOLVED:
            resolve(session, alert, at=now, reason="condition cleared")
            assert alert.id is not None
            report.resolved.append(alert.id)
    apply_inhibitions(session, at=now)
    muted = silenced(session, [alert for alert, _ in applied], now)
    for alert, finding in applied:
        snoozed = alert.snoozed_until is not None and alert.snoozed_until > now
        quiet = snoozed or alert.inhibited_by is not None or alert.id in muted
        if alert.state == AlertState.OPEN and alert.notified_stage != finding.stage and not quiet:
            report.deliveries += enqueue(
                session,
                deliveries_for(
                    session, alert, stage=finding.stage, level=0, routing=routing, now=now
                ),
                now=now,
            )
            alert.notified_stage = finding.stage
            session.add(alert)
            record(session, alert, AlertEventType.NOTIFIED, at=now, detail=finding.stage)
    return report


def run_scan(
    engine: Engine,
    *,
    as_of: date,
    now: datetime,
    policies: Mapping[str, Policy],
    rules: RuleSettings,
    routing: Routing,
) -> ScanReport:
    """Evaluate every rule on `as_of` and apply the result atomically."""
    with session_scope(engine) as session:
        return scan_in(
            session, as_of=as_of, now=now, policies=policies, rules=rules, routing=routing
        )


def scan_in(
    session: Session,
    *,
    as_of: date,
    now: datetime,
    policies: Mapping[str, Policy],
    rules: RuleSettings,
    routing: Routing,
) -> ScanReport:
    """`run_scan` inside the caller's transaction: a dry run rolls it back after reading what
    the scan would have opened and queued."""
    periods, hires, balances = _views(session, policies, as_of)
    findings = evaluate(
        as_of=as_of, periods=periods, hires=hires, balances=balances, settings=rules
    )
    accounts = account_policies(session, policies)
    findings += plan_findings(session, accounts, as_of=as_of, lead_days=rules.lead_days)
    evaluated = frozenset(str(kind) for kind in EVALUATED_KINDS | {AlertKind.INSTALLMENT_DUE})
    report = apply_findings(session, findings, now=now, routing=routing, evaluated=evaluated)
    if routing.notify_employees:
        report.deliveries += tell_employees(
            session,
            active=[a for i in report.alert_ids if (a := session.get(Alert, i)) is not None],
            resolved=[a for i in report.resolved if (a := session.get(Alert, i)) is not None],
            as_of=as_of,
            now=now,
            routing=routing,
        )
    return report
