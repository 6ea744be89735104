"""An employee's cover status, fed from the account's stored dues and payments."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from core.calendars import is_official
from core.cover import CoverStatus, cover_status
from storage.accounts import AccountPolicy
from storage.employees import Person
from storage.ledger import owes_dues
from storage.payments import period_standings


def employee_cover(
    session: Session, employee: Person, account: AccountPolicy, as_of: date
) -> CoverStatus:
    """Cover on `as_of`: the periods of the employee's `account` (while they owed dues)
    decide it."""
    standings = {
        period: standing
        for period, standing in period_standings(
            session, employee.account_id, account.policy, as_of
        ).items()
        if owes_dues(employee, period)
    }
    return cover_status(
        account.policy,
        enrolled_on=employee.enrolled_on,
        leave_date=employee.leave_date,
        periods=standings,
        as_of=as_of,
        due_day=account.settings.due_day,
    )


def estimated_dates(account: AccountPolicy, status: CoverStatus) -> tuple[bool, bool]:
    """Whether the next due date, and the suspension date, rest on a holiday calendar not
    published yet (core.calendars): the suspension date is counted from the first unpaid
    period's due date. Chat marks such dates `≈`; JSON says `"provisional"`."""
    next_due = status.next_due is not None and not is_official(
        status.next_due, account.policy.due.holiday_rule
    )
    suspension = (
        status.suspension_on is not None
        and bool(status.arrears)
        and account.due_date_estimated(status.arrears[0])
    )
    return next_due, suspension
