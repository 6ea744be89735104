"""The KPI report's values: one row of figures per scope and month, and the report itself.

Built by `storage.kpi_report.gather`; read by the chat summary, the chart, the CLI reports,
the digest and the KPI alerts. Money stays per account (a department's share of it) and is
only summed within a currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from core.kpis import KpiSummary
from core.money import CENT
from core.periods import Period

ZERO = Decimal("0.00")


class View(StrEnum):
    COMPANY = "company"
    ACCOUNT = "account"
    DEPARTMENT = "department"


@dataclass(frozen=True, kw_only=True)
class Money:
    account: str
    currency: str
    arrears: Decimal
    late_fees_accrued: Decimal
    """Every late fee the month's dues have cost so far, paid or not."""
    late_fees_paid: Decimal
    """Late-fee payments received (`kind = "late_fee"`)."""
    late_fees_accruing: Decimal
    """Accrued and not paid yet."""
    estimated: bool = False
    """A rule behind the amounts is unconfirmed or provisional (core.estimates): ≈."""

    def scaled(self, share: Decimal) -> Money:
        def part(amount: Decimal) -> Decimal:
            return (amount * share).quantize(CENT, ROUND_HALF_UP)

        return Money(
            account=self.account,
            currency=self.currency,
            arrears=part(self.arrears),
            late_fees_accrued=part(self.late_fees_accrued),
            late_fees_paid=part(self.late_fees_paid),
            late_fees_accruing=part(self.late_fees_accruing),
            estimated=self.estimated,
        )


@dataclass(frozen=True, kw_only=True)
class KpiRow:
    view: View
    name: str
    """Account id, department name, or "" for the company."""
    period: Period
    kpis: KpiSummary
    money: tuple[Money, ...] = ()
    """Per account (a department's share of it); see `by_currency` for totals."""

    @property
    def estimated(self) -> bool:
        """Whether any of the row's amounts is an estimate (Money.estimated)."""
        return any(item.estimated for item in self.money)

    def by_currency(self) -> dict[str, Money]:
        """Money summed per currency (amounts in different currencies never add up)."""
        totals: dict[str, Money] = {}
        for item in self.money:
            seen = totals.get(item.currency)
            totals[item.currency] = Money(
                account="",
                currency=item.currency,
                arrears=item.arrears + (seen.arrears if seen else ZERO),
                late_fees_accrued=item.late_fees_accrued
                + (seen.late_fees_accrued if seen else ZERO),
                late_fees_paid=item.late_fees_paid + (seen.late_fees_paid if seen else ZERO),
                late_fees_accruing=item.late_fees_accruing
                + (seen.late_fees_accruing if seen else ZERO),
                estimated=item.estimated or (seen is not None and seen.estimated),
            )
        return dict(sorted(totals.items()))


@dataclass(frozen=True, kw_only=True)
class KpiReport:
    period: Period
    months: tuple[Period, ...]
    """Oldest first, ending with `period`."""
    as_of: datetime
    today: date
    """`as_of` as a date in the company's time zone."""
    sla_minutes: int
    rows: tuple[KpiRow, ...]

    def view(self, view: View) -> list[KpiRow]:
        return [row for row in self.rows if row.view is view]

    def names(self, view: View) -> list[str]:
        return list(dict.fromkeys(row.name for row in self.view(view)))

    def series(self, view: View, name: str = "") -> list[KpiRow]:
        """One row per month of the window, oldest first."""
        return [row for row in self.view(view) if row.name == name]

    def row(self, view: View, name: str = "", period: Period | None = None) -> KpiRow:
        wanted = period or self.period
        return next(row for row in self.series(view, name) if row.period == wanted)

    def currencies(self) -> list[str]:
        return sorted({money.currency for row in self.rows for money in row.money})
