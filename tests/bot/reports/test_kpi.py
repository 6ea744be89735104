"""The KPI report's sheets mark estimated money as `report dues` does (issue 13)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.reports.kpi import kpi_json, kpi_sheets
from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies
from storage.db import session_scope
from storage.kpi_report import gather
from storage.kpi_types import KpiReport
from storage.models import Account
from tests.support.kpi_company import AS_OF, ZONE, seed


def _hangzhou_report(engine: Engine) -> KpiReport:
    """The hand-built company with its account on Hangzhou, whose medical band is carried over."""
    seed(engine)
    with session_scope(engine) as session:
        account = session.get(Account, "beijing")
        assert account is not None
        account.policy_id = "hangzhou"
        session.flush()
        accounts = account_policies(session, load_policies())
        return gather(
            session,
            accounts,
            period=Period(2025, 5),
            months=3,
            as_of=AS_OF,
            sla_minutes=60,
            timezone=ZONE,
        )


def test_rows_whose_money_rests_on_a_provisional_rule_are_marked(engine: Engine) -> None:
    """Hangzhou's medical band is carried over: the name says ≈, the figures stay numbers."""
    company, by_account, _ = kpi_sheets(_hangzhou_report(engine), "en")
    names = [row[0] for row in company.rows] + [row[0] for row in by_account.rows]
    assert names and all(str(name).startswith("≈ ") for name in names)


def test_json_money_from_a_provisional_rule_is_provisional(engine: Engine) -> None:
    """Issue 13 item 7: `kpi --format json` marks estimated money as `dues --json` does."""
    document = kpi_json(_hangzhou_report(engine))
    months = [
        *document["company"],
        *(month for view in ("accounts", "departments") for row in document[view]
          for month in row["months"]),
    ]  # fmt: skip
    money = [entry for month in months for entry in month["money"]]
    assert money and all(entry["provisional"] is True for entry in money)
