"""An employee's cover status, fed from the account's stored dues and payments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlmodel import Session

from core.cover import CoverStatus, cover_status
from storage.accounts import AccountPolicy
from storage.ledger import owes_dues
from storage.models import Employee
from storage.payments import period_standings


def employee_cover(
    session: Session, employee: Employee, accounts: Mapping[str, AccountPolicy], as_of: date
) -> CoverStatus:
    """Cover on `as_of`: the employee's account periods (while they owed dues) decide it."""
    account = accounts[employee.account_id]
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
