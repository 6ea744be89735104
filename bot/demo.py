"""`coverwatch demo`: seed a demo company into a fresh database, then chat on the console.

The company goes in through the same importers HR uses (CSV files in a temporary folder),
the ledger through `run_dues`, the alerts through one `run_scan`: the demo exercises the real
paths, not a fixture loader. Around the clock's "today" it tells one story per account:
Shanghai's latest due is overdue and unpaid, Hong Kong has paid part of this month and its
balance will not cover the rest, Beijing is in order but has a new hire not yet enrolled.
Money over time: Beijing's oldest month was paid on time at the band in force before the
latest one and recomputed after it was published (an adjustment, 补差, due at the next
collection); one employee is insured in Hangzhou, whose band is carried over (an estimate, ≈).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from adapters.console import ConsoleAdapter
from bot.app import AppError, fixed_clock, open_app
from bot.cli_common import progress_bar
from bot.config import Settings
from bot.demo_company import HISTORY_MONTHS, Cast, Person, build_company
from bot.demo_story import late_account, partial_period
from bot.wiring import routing_from, rules_from
from core.enrollment import enrollment_deadline
from core.periods import Period
from core.policy import AccountSettings, Scheme
from handlers.context import AppContext
from handlers.pipeline import handle
from storage.accounts import AccountPolicy, account_policies, sync_accounts
from storage.db import make_engine, session_scope, upgrade
from storage.imports import ImportResult, import_balances, import_employees, import_payments
from storage.ledger import period_dues, run_dues
from storage.models import AccountDue, DemoMarker, Employee
from storage.payments import Adjustment, adjustments_by_account_period
from storage.scan import run_scan

ACCOUNTS = ("beijing", "shanghai", "hk", "hangzhou")
ADJUSTED_ACCOUNT = "beijing"
ESTIMATE_ACCOUNT = "hangzhou"
"""Its latest band is carried over until the new notice (`provisional`): dues are estimates."""
SUSPENDED_ACCOUNT = ESTIMATE_ACCOUNT
"""One account left unpaid past its suspension date (its one employee is suspended)."""
LATE_ACCOUNT = "shanghai"
PARTIAL_ACCOUNT = "hk"
PARTIAL_SHARE = Decimal("0.4")
CENT = Decimal("0.01")


@dataclass(frozen=True, kw_only=True)
class Story:
    """What was seeded, for the guide and the tests."""

    today: date
    periods: tuple[Period, ...]
    people: Mapping[str, Person]
    cast: Cast
    late: AccountDue
    partial: AccountDue
    partial_paid: Decimal
    low_balance: Decimal
    adjusted: tuple[Period, Adjustment] | None
    """Beijing's back-dated band: the period and its adjustment (None without an older band)."""
    estimated: str
    """The employee insured on `ESTIMATE_ACCOUNT`."""
    suspended: AccountDue
    """`SUSPENDED_ACCOUNT`'s unpaid period whose suspension date has passed."""


def prepare_database(engine: Engine, *, reset: bool, force: bool = False) -> None:
    """Create the schema and mark the database as a demo's. A database that holds a company is
    refused unless `reset`; `reset` wipes only a database the demo marked, unless `force`:
    `demo --reset` once wiped a configured company of 50,016 employees (issue 16)."""
    upgrade(engine)
    with Session(engine) as session:
        occupied = session.exec(select(Employee.employee_id).limit(1)).first() is not None
        marked = session.exec(select(DemoMarker.id).limit(1)).first() is not None
    if occupied and not reset:
        raise AppError("the database already holds employees: use --reset to wipe it first")
    if occupied and not marked and not force:
        raise AppError(
            "refusing to wipe: this database was not created by `coverwatch demo` "
            "(it holds a real company?); add --force to wipe it anyway"
        )
    if occupied:
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(engine)
    if occupied or not marked:
        with Session(engine) as session:
            session.add(DemoMarker(created_at=datetime.now(UTC)))
            session.commit()


def _write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle_:
        writer = csv.DictWriter(handle_, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row[k] is None else str(row[k]) for k in columns})
    return path


def _import(app: AppContext, importer: Callable[..., ImportResult], path: Path) -> None:
    with session_scope(app.engine) as session:
        result = importer(session, path, known_accounts=set(ACCOUNTS))
        if not result.ok:  # generated data failing validation is a bug in the generator
            raise RuntimeError(f"demo {path.name}: {result.errors[0]}")


def seed(app: AppContext, workdir: Path, *, horizon_days: int = 30) -> Story:
    """Seed the company, its ledger, payments and balances around `app.today()`."""
    today = app.today()
    people, cast = build_company(today)
    people, estimated = _move_one(people, cast, ESTIMATE_ACCOUNT)
    placed = late_account(app.policies[LATE_ACCOUNT], today)
    late_settings = AccountSettings(
        account_id=LATE_ACCOUNT, policy_id=LATE_ACCOUNT, due_day=placed.due_day
    )
    with session_scope(app.engine) as session:
        sync_accounts(session, {LATE_ACCOUNT: late_settings}, app.policies, ids=ACCOUNTS)
    rows = (person.__dict__ for person in people)
    columns = tuple(Person.__dataclass_fields__)
    _import(app, import_employees, _write_csv(workdir / "employees.csv", rows, columns))
    periods = tuple(Period.of(today).shift(offset) for offset in range(1 - HISTORY_MONTHS, 1))
    with session_scope(app.engine) as session:
        accounts = account_policies(session, app.policies)
        before = _before_latest_band(accounts[ADJUSTED_ACCOUNT], periods[0])
        if before is not None:  # computed in its month, at the band in force then
            early = {**accounts, ADJUSTED_ACCOUNT: before}
            run_dues(session, periods[0], early, now=app.now(), today=periods[0].first_day)
        for period in periods:
            run_dues(session, period, accounts, now=app.now(), today=today, actor="demo")
        dues = [due for period in periods for due in period_dues(session, period)]
        changes = adjustments_by_account_period(session)
    past = [due for due in dues if due.due_date < today]
    late = max((d for d in past if d.account_id == LATE_ACCOUNT), key=lambda d: d.period)
    suspended = max(
        (d for d in past if d.account_id == SUSPENDED_ACCOUNT and suspended_by(app, d, today)),
        key=lambda d: d.period,
    )
    chosen = str(partial_period(app.policies[PARTIAL_ACCOUNT], today, horizon_days))
    partial = next(d for d in dues if d.account_id == PARTIAL_ACCOUNT and d.period == chosen)
    partial_paid = (partial.total * PARTIAL_SHARE).quantize(CENT, rounding=ROUND_HALF_UP)
    # Paid on time what was owed at the due date; an adjustment is due later, on its own date.
    payments = [
        {
            "account": d.account_id,
            "period": d.period,
            "amount": d.total
            - sum((a.amount for a in changes.get((d.account_id, d.period), ())), Decimal(0)),
            "paid_on": d.due_date - timedelta(days=1 + i % 5),
        }
        for i, d in enumerate(past)
        if d is not late and d is not partial and d is not suspended
    ]
    adjusted = changes.get((ADJUSTED_ACCOUNT, str(periods[0])))
    payments.append(
        {
            "account": partial.account_id,
            "period": partial.period,
            "amount": partial_paid,
            "paid_on": max(today - timedelta(days=2), Period.parse(partial.period).first_day),
        }
    )
    _import(
        app,
        import_payments,
        _write_csv(workdir / "payments.csv", payments, ("account", "period", "amount", "paid_on")),
    )
    latest = {d.account_id: d.total for d in dues}
    low_balance = ((partial.total - partial_paid) * Decimal("0.3")).quantize(CENT)
    balances = [
        {
            "account": "beijing",
            "as_of": today - timedelta(days=1),
            "balance": latest["beijing"] * 3,
        },
        {
            "account": "shanghai",
            "as_of": today - timedelta(days=1),
            "balance": (latest["shanghai"] * Decimal("2.5")).quantize(CENT),
        },
        {"account": "hk", "as_of": today - timedelta(days=1), "balance": low_balance},
    ]
    _import(
        app,
        import_balances,
        _write_csv(workdir / "balances.csv", balances, ("account", "as_of", "balance")),
    )
    return Story(
        today=today,
        periods=periods,
        people={p.employee_id: p for p in people},
        cast=cast,
        late=late,
        partial=partial,
        partial_paid=partial_paid,
        low_balance=low_balance,
        adjusted=(periods[0], adjusted[0]) if adjusted else None,
        estimated=estimated,
        suspended=suspended,
    )


def _move_one(people: list[Person], cast: Cast, account: str) -> tuple[list[Person], str]:
    """Insure the first plain Beijing employee outside the cast on `account` instead."""
    named = set(cast.__dict__.values())
    index, person = next(
        (i, p)
        for i, p in enumerate(people)
        if p.account == "beijing" and p.role == "employee" and p.employee_id not in named
    )
    moved = replace(person, account=account)
    return [*people[:index], moved, *people[index + 1 :]], moved.employee_id


def _before_latest_band(account: AccountPolicy, period: Period) -> AccountPolicy | None:
    """The account as it stood before the band in force for `period` was published."""
    policy = account.policy
    version = policy.version_for(Scheme.PENSION, period)
    if version is None:
        return None
    older = tuple(v for v in policy.versions if v.effective < version.effective)
    return replace(account, policy=replace(policy, versions=older)) if older else None


def guide(story: Story, database: str) -> str:
    """Who is who and what to ask, printed before the chat starts."""
    people, cast = story.people, story.cast
    hire, late = people[cast.new_hire], people[cast.late_hire]
    first, last = story.periods[0], story.periods[-1]

    def who(employee_id: str, what: str) -> str:
        return f"  {employee_id}  {people[employee_id].name:<14} {what}"

    return "\n".join(
        [
            f"coverwatch demo: a company of {len(people)} seeded into {database}, "
            f"today {story.today.isoformat()}",
            f"  accounts beijing, shanghai, hangzhou (CNY), hk (HKD); dues {first} .. {last}",
            f"  - {story.late.account_id} {story.late.period} (due {story.late.due_date}) "
            "is overdue and unpaid",
            f"  - {story.partial.account_id} {story.partial.period}: {story.partial_paid} of "
            f"{story.partial.total} {story.partial.currency} paid; the balance "
            f"({story.low_balance}) will not cover the rest",
            f"  - {hire.employee_id} {hire.name} was hired {hire.hire_date} and is not enrolled "
            f"(deadline {enrollment_deadline(hire.hire_date)})",
            f"  - {late.employee_id} {late.name} was hired {late.hire_date}: past the deadline "
            f"({enrollment_deadline(late.hire_date)})",
            *_money_story(story),
            "Who is who:",
            who(cast.hr, "HR: you are chatting as this user"),
            who(cast.finance, "finance"),
            who(cast.manager, f"manager of {people[cast.manager].department}"),
            who(cast.employee, "employee, beijing, all paid"),
            who(cast.at_risk, "employee, shanghai: the account is overdue"),
            who(cast.hk_employee, "employee, hk, speaks English"),
            "Ask: 我的医保 · 缴费明细 · 待缴 · 欠费 · 告警 · 帮助",
            "  or: coverage · contributions · dues · arrears · alerts · help",
            f"  HR: 参保 {hire.employee_id} (增员) · 减员 {cast.at_risk} "
            f"{Period.of(story.today).last_day.isoformat()} · 查 {late.employee_id} · 分期 ID 3",
            f"  /as {cast.employee} speaks as someone else · /quit leaves",
            "",
        ]
    )


def _money_story(story: Story) -> list[str]:
    lines = []
    if story.adjusted is not None:
        period, change = story.adjusted
        lines.append(
            f"  - {ADJUSTED_ACCOUNT} {period} was paid on time, then recomputed at the band "
            f"published later: adjustment {change.amount} due {change.due_date} (待缴 {period})"
        )
    lines.append(
        f"  - {story.estimated} is insured in {ESTIMATE_ACCOUNT}, whose band is carried over "
        "until the new notice: its dues are estimates, marked ≈ (待缴)"
    )
    lines.append(
        f"  - {SUSPENDED_ACCOUNT} {story.suspended.period} (due {story.suspended.due_date}) is "
        f"unpaid and past its suspension date: {story.estimated}'s cover is suspended"
    )
    return lines


def suspended_by(app: AppContext, due: AccountDue, today: date) -> bool:
    """Whether an unpaid period's suspension date (the policy's days after the due date) has
    passed by `today`."""
    rule = app.policies[due.account_id].suspension
    return rule is not None and due.due_date + timedelta(days=rule.suspend_after_days) <= today


def demo_owners(
    cast: Cast, configured: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """Who owns each demo account's company-wide alerts: HR the mainland accounts, finance
    Hong Kong, so each alert reaches one person (issue 14), not every HR and finance user.
    `[accounts.<id>] owners` in the config still win."""
    owners = {account: (cast.hr,) for account in ACCOUNTS}
    owners[PARTIAL_ACCOUNT] = (cast.finance,)
    return {**owners, **configured}


def run_demo(
    settings: Settings, *, reset: bool, force: bool = False, today: date | None = None
) -> None:
    """Seed, scan once, print the guide and chat as HR on stdin/stdout."""
    prepare_database(make_engine(settings.database.url), reset=reset, force=force)
    clock = None if today is None else fixed_clock(today, ZoneInfo(settings.bot.timezone))
    app = open_app(settings, clock=clock)
    with progress_bar("demo: seeding the company"):
        with tempfile.TemporaryDirectory(prefix="coverwatch-demo-") as folder:
            story = seed(app, Path(folder), horizon_days=settings.alerts.funding_horizon_days)
        routing = routing_from(settings)
        owners = demo_owners(story.cast, routing.owners)
        routing = replace(routing, owners=owners)
        app = replace(app, account_owners=owners)
        run_scan(
            app.engine,
            as_of=story.today,
            now=app.now(),
            policies=app.policies,
            rules=rules_from(settings),
            routing=routing,
        )
    print(guide(story, _where(settings.database.url)))

    def describe(employee_id: str) -> str | None:
        with session_scope(app.engine) as session:
            person = session.get(Employee, employee_id)
            if person is None:
                return f"{employee_id} (no such employee)"
            return f"{person.employee_id} {person.name}, {person.role}, {person.department}"

    console = ConsoleAdapter(user_id=story.cast.hr, describe_user=describe)
    console.chat(lambda message: handle(app, message))


def _where(url: str) -> str:
    """The SQLite file, or just the dialect: a server URL may hold a password."""
    return (
        url.split("///", 1)[1] if url.startswith("sqlite") and "///" in url else url.split(":")[0]
    )
