"""The CLI's `--json` documents, exactly as ARCHITECTURE.md §3 specifies them.

Amounts are strings with the account policy's decimals ("1234.50"), dates ISO-8601, periods
`YYYY-MM`, fields that do not apply `null`. One module so `scan --json` and `alerts --json`
can never drift apart.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from core.alert_rules import provisional
from core.cover import CoverStatus
from core.money import format_amount
from core.periods import Period
from handlers.types import Reply
from storage.accounts import AccountPolicy
from storage.coverage import estimated_dates
from storage.ledger import employee_lines, period_dues
from storage.models import (
    Alert,
    ApiToken,
    AuditEntry,
    Delivery,
    Employee,
    LedgerLine,
    Silence,
)
from storage.payments import adjustments_by_account_period
from storage.queries_ledger import headline_base
from storage.silences import describe, silenced


def _decimals(accounts: Mapping[str, AccountPolicy], account_id: str | None) -> int:
    account = accounts.get(account_id) if account_id is not None else None
    return account.policy.decimals if account is not None else 2


def _amount(value: Decimal | None, decimals: int) -> str | None:
    return None if value is None else format_amount(value, decimals)


def _instant(value: datetime | None) -> str | None:
    """SQLite returns stored UTC instants naive; the JSON always says they are UTC."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def dues_json(
    session: Session, period: Period, accounts: Mapping[str, AccountPolicy]
) -> dict[str, Any]:
    """The stored ledger of `period` (what `run_dues` wrote), per account and per employee."""
    by_employee: dict[str, list[LedgerLine]] = defaultdict(list)
    for line in employee_lines(session, period):
        by_employee[line.employee_id].append(line)
    return {
        "period": str(period),
        "accounts": dues_accounts_json(session, period, accounts),
        "employees": [
            _employee_json(employee_id, lines, _decimals(accounts, lines[0].account_id))
            for employee_id, lines in by_employee.items()
        ],
    }


def dues_accounts_json(
    session: Session, period: Period, accounts: Mapping[str, AccountPolicy]
) -> list[dict[str, Any]]:
    """`dues_json`'s `accounts`: what the summary needs, without reading every ledger line.

    `total` is what the period owes now; `adjustments` the differences found after its due
    date; `provisional` whether any rule behind the amounts (core.estimates) or the holiday
    calendar behind the due date (core.calendars) is an estimate.
    """
    changes = adjustments_by_account_period(session)
    rows = []
    for due in period_dues(session, period):
        decimals = _decimals(accounts, due.account_id)
        account = accounts.get(due.account_id)
        rows.append(
            {
                "account": due.account_id,
                "currency": due.currency,
                "due_date": due.due_date.isoformat(),
                "employees": due.employees,
                "employer_total": format_amount(due.employer_total, decimals),
                "employee_total": format_amount(due.employee_total, decimals),
                "total": format_amount(due.total, decimals),
                "provisional": account is not None
                and (bool(account.estimates(period)) or account.due_date_estimated(period)),
                "adjustments": [
                    {
                        "amount": format_amount(change.amount, decimals),
                        "due_date": change.due_date.isoformat(),
                        "computed_on": change.computed_on.isoformat(),
                    }
                    for change in changes.get((due.account_id, due.period), ())
                ],
            }
        )
    return rows


def _employee_json(employee_id: str, lines: Sequence[LedgerLine], decimals: int) -> dict[str, Any]:
    base = headline_base(lines)
    return {
        "employee_id": employee_id,
        "account": lines[0].account_id,
        "base": format_amount(base, decimals),
        "lines": [
            {
                "scheme": line.scheme,
                "employer": format_amount(line.employer, decimals),
                "employee": format_amount(line.employee, decimals),
            }
            for line in lines
        ],
        "employer_total": format_amount(sum((x.employer for x in lines), Decimal(0)), decimals),
        "employee_total": format_amount(sum((x.employee for x in lines), Decimal(0)), decimals),
    }


def recipients(session: Session, alert_ids: Sequence[int]) -> dict[int, list[str]]:
    """Per alert, the distinct people (employee ids) or addresses its deliveries went to."""
    found: dict[int, set[str]] = defaultdict(set)
    if alert_ids:
        query = select(Delivery).where(col(Delivery.alert_id).in_(alert_ids))
        for delivery in session.exec(query):
            assert delivery.alert_id is not None
            found[delivery.alert_id].add(delivery.employee_id or delivery.address)
    return {alert_id: sorted(found[alert_id]) for alert_id in alert_ids}


def alerts_json(
    session: Session,
    at: date,
    alerts: Sequence[Alert],
    accounts: Mapping[str, AccountPolicy],
    *,
    now: datetime,
) -> dict[str, Any]:
    """`alerts --json` and `scan --json`: `at` is the day the alerts were evaluated for, `now`
    the moment `silenced_until` is judged at."""
    ids = [alert.id for alert in alerts if alert.id is not None]
    sent_to = recipients(session, ids)
    muted = silenced(session, alerts, now)
    return {
        "at": at.isoformat(),
        "alerts": [
            {
                "id": alert.id,
                "kind": alert.kind,
                "state": alert.state,
                "account": alert.account_id,
                "employee_id": alert.employee_id,
                "period": alert.period,
                "due_date": alert.due_date.isoformat() if alert.due_date else None,
                "principal": _amount(alert.principal, _decimals(accounts, alert.account_id)),
                "late_fee": _amount(alert.late_fee, _decimals(accounts, alert.account_id)),
                "days_overdue": alert.days_overdue,
                "suspension_on": alert.suspension_on.isoformat() if alert.suspension_on else None,
                "recipients": sent_to.get(alert.id, []) if alert.id is not None else [],
                "acknowledged_by": alert.acknowledged_by,
                "acknowledged_at": _instant(alert.acknowledged_at),
                "provisional": provisional(json.loads(alert.details or "{}")),
                "group": alert.group_key,
                "inhibited_by": alert.inhibited_by,
                "silenced_until": _instant(muted.get(alert.id or 0)),
            }
            for alert in alerts
        ],
    }


def reply_json(reply: Reply) -> dict[str, Any]:
    """`ask --json`: the reply's text (always the complete answer) and its card, if any."""
    card = reply.card
    return {
        "text": reply.text,
        "card": None
        if card is None
        else {
            "title": card.title,
            "fields": [{"label": f.label, "value": f.value} for f in card.fields],
            "buttons": [
                {"action": b.action, "label": b.label, "value": b.value} for b in card.buttons
            ],
        },
    }


def audit_json(entries: Sequence[AuditEntry]) -> dict[str, Any]:
    """`audit --json`: every entry, oldest first, instants in UTC."""
    return {
        "entries": [
            {
                "at": _instant(entry.at),
                "actor": entry.actor,
                "action": entry.action,
                "subject": entry.subject,
                "detail": entry.detail,
                "via": entry.via,
            }
            for entry in entries
        ]
    }


def tokens_json(tokens: Sequence[ApiToken]) -> dict[str, Any]:
    """`token list --json`: names, scopes and dates; the secret is never stored, let alone shown."""
    return {
        "tokens": [
            {
                "name": token.name,
                "scopes": token.scopes.split(","),
                "created_at": _instant(token.created_at),
                "revoked_at": _instant(token.revoked_at),
            }
            for token in tokens
        ]
    }


def silences_json(silences: Sequence[Silence]) -> dict[str, Any]:
    """`silence list --json`: the silences in force, soonest end first, instants in UTC."""
    return {
        "silences": [
            {
                "id": silence.id,
                "account": silence.account_id,
                "kind": silence.kind,
                "alert_id": silence.alert_id,
                "starts_at": _instant(silence.starts_at),
                "ends_at": _instant(silence.ends_at),
                "reason": silence.reason,
                "created_by": silence.created_by,
                "summary": describe(silence),
            }
            for silence in silences
        ]
    }


def coverage_json(
    employee: Employee, status: CoverStatus, as_of: date, account: AccountPolicy
) -> dict[str, Any]:
    """`GET /api/v1/employees/{id}/coverage`: what the `coverage` chat command shows, as data;
    `provisional` when its next due date or suspension date is an estimate (chat's `≈`)."""
    return {
        "employee_id": employee.employee_id,
        "account": employee.account_id,
        "as_of": as_of.isoformat(),
        "state": str(status.state),
        "paid_through": str(status.paid_through) if status.paid_through else None,
        "next_due": status.next_due.isoformat() if status.next_due else None,
        "suspension_on": status.suspension_on.isoformat() if status.suspension_on else None,
        "arrears": [str(period) for period in status.arrears],
        "lapsed": [str(period) for period in status.lapsed],
        "confirmed": status.confirmed,
        "provisional": any(estimated_dates(account, status)),
    }
