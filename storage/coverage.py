"""An employee's cover status, fed from the account's stored dues and payments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlmodel import Session

from core.cover import CoverStatus, PeriodStanding, cover_status
from storage.accounts import AccountPolicy
from storage.ledger import owes_dues
from storage.models import Employee
from storage.payments import account_periods


def employee_cover(
    session: Session, employee: Employee, accounts: Mapping[str, AccountPolicy], as_of: date
) -> CoverStatus:
    """Cover on `as_of`: the employee's account periods (while they owed dues) decide it."""
    account = accounts[employee.account_id]
    standings = {
        item.period: PeriodStanding(due_date=item.due_date, paid_in_full_on=item.paid_in_full_on)
        for item in account_periods(session, accounts, as_of, account_id=employee.account_id)
        if owes_dues(employee, item.period) and item.period.first_day <= as_of
    }
    return cover_status(
        account.policy,
        enrolled_on=employee.enrolled_on,
        leave_date=employee.leave_date,
        periods=standings,
        as_of=as_of,
        due_day=account.settings.due_day,
    )
