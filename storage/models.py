"""The tables. One class per table; money columns are exact (`Money`, integer cents).

Periods are stored as their `YYYY-MM` text so they sort and compare correctly in SQL.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.sealing import SealedText
from storage.types import ExactDecimal, Money


def _money(*, nullable: bool = False, default: Decimal | None = None) -> Decimal:
    return Field(  # type: ignore[no-any-return]
        default=default, sa_column_kwargs={"nullable": nullable}, sa_type=Money
    )


class Account(SQLModel, table=True):
    """An employer's registration in one region; `policy_id` names core/policies/<id>.toml."""

    id: str = Field(primary_key=True, max_length=64)
    policy_id: str = Field(max_length=64)
    currency: str = Field(max_length=8)
    injury_rate: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    housing_fund_rate: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    due_day: int | None = None


class Employee(SQLModel, table=True):
    employee_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    department: str = Field(default="", max_length=200, index=True)
    manager_id: str | None = Field(default=None, max_length=64, index=True)
    account_id: str = Field(foreign_key="account.id", max_length=64, index=True)
    hire_date: date
    enrolled_on: date | None = None
    salary: Decimal = _money()
    role: str = Field(default="employee", max_length=16, index=True)
    slack_user_id: str | None = Field(default=None, max_length=64, index=True)
    dingtalk_user_id: str | None = Field(default=None, max_length=64, index=True)
    wecom_user_id: str | None = Field(default=None, max_length=64, index=True)
    locale: str | None = Field(default=None, max_length=16)
    id_number: str | None = Field(default=None, sa_type=SealedText)
    """Sealed at rest when `[security] data_key` is set (storage.sealing); only ever shown
    masked."""
    leave_date: date | None = None
    email: str | None = Field(default=None, max_length=254)
    """Work email: how `sync users` finds the Slack id (users.lookupByEmail) or WeCom's."""
    mobile: str | None = Field(default=None, max_length=32)
    """Mobile number: how `sync users` finds the DingTalk or WeCom id."""


class SalaryHistory(SQLModel, table=True):
    """An employee's contribution base from a month on: dues for a period use the one in force."""

    __tablename__ = "salary_history"
    __table_args__ = (UniqueConstraint("employee_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    employee_id: str = Field(foreign_key="employee.employee_id", max_length=64)
    effective_from: str = Field(max_length=7)
    salary: Decimal = _money()


class LedgerLine(SQLModel, table=True):
    """One employee's contribution to one scheme for one period."""

    __tablename__ = "ledger_line"
    __table_args__ = (UniqueConstraint("employee_id", "period", "scheme"),)

    id: int | None = Field(default=None, primary_key=True)
    employee_id: str = Field(foreign_key="employee.employee_id", max_length=64)
    account_id: str = Field(foreign_key="account.id", max_length=64)
    period: str = Field(max_length=7, index=True)
    scheme: str = Field(max_length=32)
    base: Decimal = _money()
    employer: Decimal = _money()
    employee: Decimal = _money()


class AccountDue(SQLModel, table=True):
    """What one account owes for one period, and when."""

    __tablename__ = "account_due"
    __table_args__ = (UniqueConstraint("account_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=64)
    period: str = Field(max_length=7, index=True)
    currency: str = Field(max_length=8)
    due_date: date
    employees: int
    employer_total: Decimal = _money()
    employee_total: Decimal = _money()
    total: Decimal = _money()
    computed_at: datetime


class LedgerAdjustment(SQLModel, table=True):
    """A difference found by recomputing a period after its due date (补差), due on its own date.

    The period's `AccountDue` holds what it owes now; its total minus its adjustments is what
    was owed at the original due date. A negative amount is a credit.
    """

    __tablename__ = "ledger_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=64)
    period: str = Field(max_length=7, index=True)
    amount: Decimal = _money()
    due_date: date
    computed_on: date
    computed_at: datetime


class Payment(SQLModel, table=True):
    """Money received by an account for a period; re-importing the same row is a no-op.

    `kind` is `dues` (principal) or `late_fee` (滞纳金, the MPF surcharge): a late-fee payment
    never reduces the principal.
    """

    __table_args__ = (UniqueConstraint("account_id", "period", "paid_on", "amount"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=64)
    period: str = Field(max_length=7, index=True)
    amount: Decimal = _money()
    paid_on: date
    kind: str = Field(default="dues", max_length=16)


class Balance(SQLModel, table=True):
    """A snapshot of an account's funds, for the funding forecast."""

    __table_args__ = (UniqueConstraint("account_id", "as_of"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=64)
    as_of: date
    balance: Decimal = _money()


class Alert(SQLModel, table=True):
    """One alert per dedupe key (kind + account or employee + period): re-scans update it."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32, index=True)
    state: str = Field(default="open", max_length=16, index=True)
    account_id: str | None = Field(default=None, max_length=64)
    employee_id: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=200)
    period: str | None = Field(default=None, max_length=7)
    due_date: date | None = None
    principal: Decimal | None = _money(nullable=True)
    late_fee: Decimal | None = _money(nullable=True)
    days_overdue: int | None = None
    suspension_on: date | None = None
    details: str = Field(default="{}")
    """JSON with kind-specific figures (shortfall, pay-first order, deadline…)."""
    opened_at: datetime
    updated_at: datetime
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledged_at: datetime | None = None
    acknowledged_via: str | None = Field(default=None, max_length=16)
    resolved_at: datetime | None = None
    escalation_level: int = 0
    last_escalated_at: datetime | None = None
    snoozed_until: datetime | None = None
    notified_stage: str | None = Field(default=None, max_length=64)
    """The last notification stage sent (e.g. lead day `3`), so each stage notifies once."""
    group_key: str | None = Field(default=None, max_length=80, index=True)
    """`account:period` of an account's debt (`core.alert_groups.group_of`); JSON `group`."""
    inhibited_by: int | None = None
    """The active alert of the group that mutes this one (`core.alert_groups.inhibitors`)."""


class Silence(SQLModel, table=True):
    """A silence's matchers and time (`core.silences`); removed ones stay, for the record."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: str | None = Field(default=None, max_length=64)
    kind: str | None = Field(default=None, max_length=32)
    alert_id: int | None = Field(default=None, foreign_key="alert.id")
    starts_at: datetime
    ends_at: datetime = Field(index=True)
    reason: str = Field(default="")
    created_by: str = Field(max_length=64)
    created_via: str = Field(max_length=16)
    removed_at: datetime | None = None
    removed_by: str | None = Field(default=None, max_length=64)


class AlertEvent(SQLModel, table=True):
    """Audit trail: every transition of an alert. MTTA and KPIs are computed from it."""

    __tablename__ = "alert_event"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime
    event: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=64)
    platform: str | None = Field(default=None, max_length=16)
    detail: str = Field(default="")


class Installment(SQLModel, table=True):
    """One payment of an installment plan (分期) for an overdue alert."""

    __table_args__ = (UniqueConstraint("alert_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    seq: int
    due_on: date
    amount: Decimal = _money()
    paid: Decimal = _money(default=Decimal("0.00"))
    created_by: str | None = Field(default=None, max_length=64)


class Delivery(SQLModel, table=True):
    """Outbox row: one message to one recipient on one platform, sent at most once."""

    __table_args__ = (Index("ix_delivery_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    platform: str = Field(max_length=16)
    address: str = Field(max_length=128)
    is_group: bool = False
    employee_id: str | None = Field(default=None, max_length=64)
    payload: str
    """What to say, by name: a `storage.outbox.DeliveryPayload` as JSON (an alert's
    `{type, alert_id, stage, level, locale}`, or a KPI digest's month and scope), rendered at
    send time. Encoded and decoded only in `storage/outbox.py`."""
    urgent: bool = False
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = None
    message_ref: str | None = Field(default=None, max_length=200)
    created_at: datetime
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
    sent_at: datetime | None = None


class JobRun(SQLModel, table=True):
    """A scheduled job's fire time, claimed once across instances and restarts."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "fire_time"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    fire_time: datetime
    instance: str = Field(max_length=64)
    started_at: datetime
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=16)
    detail: str = Field(default="")


class InboundEvent(SQLModel, table=True):
    """A verified chat event (message, command, click), written before its platform's ack and
    claimed by a handler worker (`storage/inbound.py`); kept after its answer as the dedupe
    record, so a platform's retry, even after a restart, is acked and dropped."""

    __tablename__ = "inbound"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_inbound_open", "state", "id"),
        Index("ix_inbound_user", "user_key", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    event_id: str = Field(max_length=200)
    user_key: str = Field(max_length=200)
    """`platform:user id`: a user's events are answered in the order they arrived."""
    payload: str
    """The event and where its answer goes (`storage.inbound.encode`); emptied once answered."""
    received_at: datetime = Field(index=True)
    state: str = Field(default="pending", max_length=16)
    """`pending` -> `handling` -> `done`."""
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    """A claim not finished by then belongs to a dead worker: another may take it over."""
    handled_at: datetime | None = None


class UserPreference(SQLModel, table=True):
    __tablename__ = "user_preference"

    employee_id: str = Field(primary_key=True, max_length=64)
    locale: str | None = Field(default=None, max_length=16)


class AuditEntry(SQLModel, table=True):
    """Who looked at whose personal data, and what was changed by whom (`coverwatch audit`)."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=64, index=True)
    """An employee id, or a job's or API token's name."""
    action: str = Field(max_length=32)
    subject: str | None = Field(default=None, max_length=64, index=True)
    """The employee whose data was viewed or changed, when there is one."""
    detail: str = Field(default="")
    via: str | None = Field(default=None, max_length=16)
    """Where it came from: a chat platform, `console`, `cli`, `api`, `job`."""


class ApiToken(SQLModel, table=True):
    """A credential of the HTTP API (`coverwatch token create`). Only a hash of the secret is
    kept; `lookup` is the token's public part, so a request finds its row without comparing
    the secret against every stored hash."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    lookup: str = Field(max_length=16, unique=True)
    secret_hash: str = Field(max_length=64)
    scopes: str = Field(max_length=200)
    """Comma-separated, e.g. `payments:write,read`."""
    created_at: datetime
    revoked_at: datetime | None = None


class ApiIdempotency(SQLModel, table=True):
    """The first answer to a write sent with an `Idempotency-Key`, replayed on a retry."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(foreign_key="api_token.id", index=True)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    """SHA-256 of method, path and body: the same key with another request is refused."""
    status: int
    response: str
    created_at: datetime = Field(index=True)


class DemoMarker(SQLModel, table=True):
    """Written by `coverwatch demo` when it seeds a database: `demo --reset` wipes only a
    database carrying this row, never a real company's (unless `--force`)."""

    __tablename__ = "demo_marker"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime
