"""An employee's own latest ledger period, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from core.periods import Period
from storage.db import session_scope
from storage.queries_ledger import latest_employee_period
from tests.support.company import seed


def test_latest_period_is_per_employee(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as session:
        assert latest_employee_period(session, "E001") == Period(2025, 6)
        # Hired in June and not enrolled: no ledger lines at all.
        assert latest_employee_period(session, "E007") is None
        assert latest_employee_period(session, "nobody") is None
