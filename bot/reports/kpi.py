"""`coverwatch kpi`: the KPI report as JSON, sheets (table, CSV, xlsx) or the PNG chart.

JSON follows the contract's conventions: amounts are strings with two decimals ("1234.50"),
rates are strings holding the exact fraction to four decimals ("0.9500" = 95 %), minutes are
strings with one decimal, and a figure with nothing to count is null; each month's money
carries `"provisional": true|false` as `dues --json` accounts do. The report covers the
period and the months before it (`TREND_MONTHS`); the chart shows twelve.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bot.reports.sheets import Column, Kind, Sheet
from core.money import format_amount
from handlers.i18n import translate
from storage.kpi_types import KpiReport, KpiRow, Money, View

TREND_MONTHS = 6
"""Months before the period shown for the trend (the chart shows 12 in all)."""
SHEET_KEYS = {View.COMPANY: "company", View.ACCOUNT: "accounts", View.DEPARTMENT: "departments"}
RATIO_STEP = Decimal("0.0001")
MINUTE_STEP = Decimal("0.1")


def minutes(value: timedelta | None) -> Decimal | None:
    """A duration in minutes, exact to 0.1 (no float on the way)."""
    if value is None:
        return None
    micro = Decimal(value // timedelta(microseconds=1))
    return (micro / Decimal(60_000_000)).quantize(MINUTE_STEP, ROUND_HALF_UP)


def _text(value: Decimal | None, step: Decimal) -> str | None:
    return None if value is None else str(value.quantize(step, ROUND_HALF_UP))


def _money_json(money: Money) -> dict[str, str | bool]:
    """One currency's figures; `provisional` as in `dues --json`: a rule behind the amounts is
    unconfirmed or provisional (core.estimates), so they are estimates."""
    return {
        "currency": money.currency,
        "arrears": format_amount(money.arrears),
        "late_fees_accrued": format_amount(money.late_fees_accrued),
        "late_fees_paid": format_amount(money.late_fees_paid),
        "late_fees_accruing": format_amount(money.late_fees_accruing),
        "provisional": money.estimated,
    }


def _month_json(row: KpiRow) -> dict[str, Any]:
    kpis, ack = row.kpis, row.kpis.ack
    return {
        "period": str(row.period),
        "on_time_rate": _text(kpis.on_time_rate, RATIO_STEP),
        "payment_accuracy": _text(kpis.payment_accuracy, RATIO_STEP),
        "enrollment_timeliness": _text(kpis.enrollment_timeliness, RATIO_STEP),
        "ack": {
            "acknowledged": ack.acknowledged,
            "mean_minutes": _text(minutes(ack.mean), MINUTE_STEP),
            "p90_minutes": _text(minutes(ack.p90), MINUTE_STEP),
            "within_sla": _text(ack.within_sla, RATIO_STEP),
        },
        "money": [_money_json(money) for money in row.by_currency().values()],
    }


def kpi_json(report: KpiReport) -> dict[str, Any]:
    """The whole report: company, accounts and departments, each month oldest first."""

    def named(view: View, key: str) -> list[dict[str, Any]]:
        return [
            {key: name, "months": [_month_json(row) for row in report.series(view, name)]}
            for name in report.names(view)
        ]

    return {
        "period": str(report.period),
        "as_of": report.as_of.astimezone(UTC).isoformat(),
        "ack_sla_minutes": report.sla_minutes,
        "months": [str(month) for month in report.months],
        "company": [_month_json(row) for row in report.series(View.COMPANY)],
        "accounts": named(View.ACCOUNT, "account"),
        "departments": named(View.DEPARTMENT, "department"),
    }


def _columns(locale: str, currencies: Sequence[str]) -> list[Column]:
    def header(key: str, **values: str) -> str:
        return translate(locale, f"report.{key}", **values)

    columns = [
        Column(header("subject")),  # the company, an account or a department
        Column(header("period")),
        Column(header("on_time"), Kind.RATIO),
        Column(header("accuracy"), Kind.RATIO),
        Column(header("enrollment"), Kind.RATIO),
        Column(header("acknowledged"), Kind.INT),
        Column(header("mean_minutes"), Kind.MINUTES),
        Column(header("p90_minutes"), Kind.MINUTES),
        Column(header("within_sla"), Kind.RATIO),
    ]
    for currency in currencies:
        columns += [
            Column(header("arrears", currency=currency), Kind.MONEY, currency),
            Column(header("late_fees_accrued", currency=currency), Kind.MONEY, currency),
            Column(header("late_fees_paid", currency=currency), Kind.MONEY, currency),
            Column(header("late_fees_accruing", currency=currency), Kind.MONEY, currency),
        ]
    return columns


def kpi_sheets(report: KpiReport, locale: str) -> list[Sheet]:
    """One sheet per view, rows per name then month; money in one column set per currency;
    headers and sheet names in `locale`."""
    currencies = report.currencies()
    company = translate(locale, "report.company_row")
    sheets = []
    for view in (View.COMPANY, View.ACCOUNT, View.DEPARTMENT):
        sheet = Sheet(translate(locale, f"report.{SHEET_KEYS[view]}"), _columns(locale, currencies))
        for row in (row for name in report.names(view) for row in report.series(view, name)):
            kpis, ack = row.kpis, row.kpis.ack
            # Amounts from an unconfirmed or provisional rule are estimates (core.estimates):
            # the row's name says so, the figures stay numbers (as in `report dues`).
            name = row.name or company
            cells: list[Decimal | int | str | None] = [
                f"≈ {name}" if row.estimated else name,
                str(row.period),
                kpis.on_time_rate,
                kpis.payment_accuracy,
                kpis.enrollment_timeliness,
                ack.acknowledged,
                minutes(ack.mean),
                minutes(ack.p90),
                ack.within_sla,
            ]
            money = row.by_currency()
            for currency in currencies:
                figures = money.get(currency)
                cells += (
                    [
                        figures.arrears,
                        figures.late_fees_accrued,
                        figures.late_fees_paid,
                        figures.late_fees_accruing,
                    ]
                    if figures
                    else [None] * 4
                )
            sheet.add(cells)
        sheets.append(sheet)
    return sheets
