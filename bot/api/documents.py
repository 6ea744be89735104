"""The read endpoints' documents, described for the OpenAPI document.

The documents themselves are built by `bot.json_output` alone (the CLI's `--json` spelling);
these classes only describe them, and the tests validate every answer against them (extra
fields forbidden), so the description cannot drift from what is served.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


Amount = str
"""Amounts are strings with the account policy's decimals, as in the CLI JSON ("1234.50")."""


class Adjustment(_Document):
    amount: Amount
    due_date: str
    computed_on: str


class AccountDues(_Document):
    account: str
    currency: str
    due_date: str
    employees: int
    employer_total: Amount
    employee_total: Amount
    total: Amount
    provisional: bool | None = None
    adjustments: list[Adjustment] | None = None


class SchemeLine(_Document):
    scheme: str = Field(description="pension, medical, maternity, unemployment, injury, …")
    employer: Amount
    employee: Amount


class EmployeeDues(_Document):
    employee_id: str
    account: str
    base: Amount
    lines: list[SchemeLine]
    employer_total: Amount
    employee_total: Amount


class DuesDocument(_Document):
    """`coverwatch dues --json`: the stored ledger of one period."""

    period: str
    accounts: list[AccountDues]
    employees: list[EmployeeDues]


class AlertEntry(_Document):
    id: int
    kind: str = Field(description="due_soon, overdue, suspension_imminent, enrollment_deadline, …")
    state: str = Field(description="open or acknowledged")
    account: str | None
    employee_id: str | None
    period: str | None
    due_date: str | None
    principal: Amount | None
    late_fee: Amount | None
    days_overdue: int | None
    suspension_on: str | None
    recipients: list[str]
    acknowledged_by: str | None
    acknowledged_at: str | None
    group: str | None = None
    inhibited_by: int | None = None
    silenced_until: str | None = None
    provisional: bool | None = Field(
        None, description="true when an amount or date shown is an estimate (chat's ≈)"
    )


class AlertsDocument(_Document):
    """`coverwatch alerts --json`: open and acknowledged alerts."""

    at: str
    alerts: list[AlertEntry]


class CoverageDocument(_Document):
    """One employee's cover on `as_of` (today in the company's time zone)."""

    employee_id: str
    account: str
    as_of: str
    state: str = Field(description="active, grace, suspended or not_enrolled")
    paid_through: str | None = Field(description="last fully paid month, YYYY-MM")
    next_due: str | None
    suspension_on: str | None
    arrears: list[str]
    lapsed: list[str]
    confirmed: bool = Field(description="false while the suspension rule is an estimate")
    provisional: bool | None = Field(
        None, description="true when next_due or suspension_on rests on an unpublished calendar"
    )
