"""Who hears about an alert, on which platform, and when (quiet hours).

Level 0 goes to the people who own the problem. A company-wide alert goes to its account's
owners (`[accounts.<id>] owners`); with none, to the on-call member (`[oncall]`); with no
rotation either, to every HR and finance user, so nothing is dropped while routing is not set
up. Hires and departments add their manager. Each escalation level goes one step up: the
level-0 recipients' managers, then the configured HR leads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core.alerts import COMPANY_KINDS, URGENT_KINDS, AlertKind
from core.locales import DEFAULT_LOCALE, DEFAULT_TIMEZONE
from core.oncall import Rotation
from core.platforms import CONSOLE
from core.quiet_hours import QuietHours
from storage.employees import company_contacts, locale_for, platform_address
from storage.models import Alert, Employee
from storage.outbox import AlertPayload, NewDelivery, Payload

UNREACHABLE = "unreachable"
"""Delivery state (and platform) of a recipient with no id on any enabled platform: a row, so
the miss is visible (`coverwatch_deliveries{state="unreachable"}`), never a silent skip."""


@dataclass(frozen=True, kw_only=True)
class Routing:
    """Delivery settings taken from config: enabled platforms, HR groups, quiet hours."""

    platforms: tuple[str, ...] = ()
    """Enabled chat platforms; with none, alerts go to the console."""
    hr_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    webhook: bool = False
    hr_leads: tuple[str, ...] = ()
    quiet_hours: QuietHours = field(default_factory=lambda: QuietHours.parse(""))
    urgent_bypass: frozenset[str] = URGENT_KINDS
    timezone: str = DEFAULT_TIMEZONE
    locale: str = DEFAULT_LOCALE
    owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """`[accounts.<id>] owners`: level 0 of the account's company-wide alerts."""
    rotation: Rotation = field(default_factory=Rotation)
    """`[oncall]`: level 0 of a company-wide alert whose account has no owner."""
    notify_employees: bool = False
    """`[alerts] notify_employees`: employees hear privately when their cover is at risk."""

    @property
    def chat_platforms(self) -> tuple[str, ...]:
        return self.platforms or (CONSOLE,)


def _employees(session: Session, ids: Sequence[str]) -> list[Employee]:
    query = select(Employee).where(col(Employee.employee_id).in_(ids))
    return list(session.exec(query.order_by(Employee.employee_id)))


def answering(
    session: Session,
    account_id: str | None,
    owners: Mapping[str, Sequence[str]],
    rotation: Rotation,
    today: date,
) -> list[Employee]:
    """Who answers for an account: its owners, else the on-call member; empty when neither is
    set up. Ids naming nobody on the roster are passed over."""
    found = _employees(session, owners.get(account_id or "", ()))
    if found:
        return found
    member = rotation.on_call(today)
    return _employees(session, (member,)) if member else []


def company_owners(
    session: Session, account_id: str | None, routing: Routing, today: date
) -> list[Employee]:
    """Who hears first of an account's company-wide alert: `answering`, else every HR and
    finance user."""
    found = answering(session, account_id, routing.owners, routing.rotation, today)
    return found or list(company_contacts(session))


def level_zero(
    session: Session, alert: Alert, routing: Routing | None = None, today: date | None = None
) -> list[Employee]:
    """The people who own the alert's problem (`routing` and `today` pick owners and on-call;
    without them, every HR and finance user as before owners existed)."""
    people: dict[str, Employee] = {}
    # A hire's registration is done on the account's books: its owners work it, too.
    if AlertKind(alert.kind) in COMPANY_KINDS or alert.kind == AlertKind.ENROLLMENT_DEADLINE:
        if routing is None or today is None:
            people.update((e.employee_id, e) for e in company_contacts(session))
        else:
            found = company_owners(session, alert.account_id, routing, today)
            people.update((e.employee_id, e) for e in found)
    if alert.employee_id:
        subject = session.get(Employee, alert.employee_id)
        if subject is not None and subject.manager_id:
            manager = session.get(Employee, subject.manager_id)
            if manager is not None:
                people[manager.employee_id] = manager
    if alert.kind == AlertKind.KPI_BELOW_TARGET and alert.department:
        query = select(Employee).where(
            Employee.department == alert.department, Employee.role == "manager"
        )
        people.update((e.employee_id, e) for e in session.exec(query))
        people.update((e.employee_id, e) for e in company_contacts(session) if e.role == "hr")
    return sorted(people.values(), key=lambda e: e.employee_id)


def recipients_at(
    session: Session, alert: Alert, level: int, routing: Routing, *, today: date | None = None
) -> list[Employee]:
    base = level_zero(session, alert, routing, today)
    if level == 0:
        return base
    if level == 1:
        managers = {e.manager_id for e in base if e.manager_id}
        query = select(Employee).where(col(Employee.employee_id).in_(managers))
        found = list(session.exec(query.order_by(Employee.employee_id)))
        if found:
            return found
    query = select(Employee).where(col(Employee.employee_id).in_(routing.hr_leads))
    return list(session.exec(query.order_by(Employee.employee_id)))


@dataclass(frozen=True, kw_only=True)
class Address:
    """One place a message goes: a person's chat on one platform, or an HR group."""

    platform: str
    address: str
    locale: str
    employee_id: str | None = None
    """The person reached; None for a group."""


def person_addresses(session: Session, person: Employee, routing: Routing) -> list[Address]:
    """The person's chat on each enabled platform where they have an id, in their language."""
    return addresses_in(person, locale_for(session, person, routing.locale), routing)


def addresses_in(person: Employee, locale: str, routing: Routing) -> list[Address]:
    """`person_addresses` once the person's language is known."""
    return [
        Address(platform=platform, address=address, locale=locale, employee_id=person.employee_id)
        for platform in routing.chat_platforms
        if (address := platform_address(person, platform))
    ]


def person_deliveries(
    person: Employee,
    found: Sequence[Address],
    *,
    key_prefix: str,
    payload: Payload,
    not_before: datetime,
    now: datetime,
) -> list[NewDelivery]:
    """A personal notice's deliveries: one per address `found` for the person, or, with none,
    one `unreachable` row (counted, never a silent skip)."""
    if not found:
        return [
            NewDelivery(
                idempotency_key=f"{key_prefix}{UNREACHABLE}:{person.employee_id}",
                platform=UNREACHABLE,
                address=person.employee_id,
                employee_id=person.employee_id,
                payload=payload,
                not_before=now,
                state=UNREACHABLE,
            )
        ]
    return [
        NewDelivery(
            idempotency_key=f"{key_prefix}{to.platform}:{to.address}",
            platform=to.platform,
            address=to.address,
            employee_id=person.employee_id,
            payload=payload,
            not_before=not_before,
        )
        for to in found
    ]


def unreachable(session: Session, ids: Sequence[str], routing: Routing) -> list[str]:
    """Why each of `ids` could not be reached (not on the roster, or no id on any enabled
    platform), as `E0003 has no slack id`; empty when every one can be."""
    people = {e.employee_id: e for e in _employees(session, ids)}
    platforms = " or ".join(routing.chat_platforms)
    reasons = []
    for employee_id in ids:
        person = people.get(employee_id)
        if person is None:
            reasons.append(f"{employee_id} is not on the roster")
        elif not addresses_in(person, routing.locale, routing):
            reasons.append(f"{employee_id} has no {platforms} id")
    return reasons


def group_addresses(routing: Routing) -> list[Address]:
    """Every enabled platform's HR groups, in the company's language."""
    return [
        Address(platform=platform, address=group, locale=routing.locale)
        for platform, groups in routing.hr_groups.items()
        for group in groups
    ]


def deliveries_for(
    session: Session,
    alert: Alert,
    *,
    stage: str,
    level: int,
    routing: Routing,
    now: datetime,
    people: Sequence[Employee] | None = None,
) -> list[NewDelivery]:
    """One delivery per (recipient, platform), plus HR groups and the webhook at level 0."""
    alert_id = alert.id
    assert alert_id is not None
    urgent = alert.kind in routing.urgent_bypass
    not_before = (
        now if urgent else routing.quiet_hours.next_allowed(now, ZoneInfo(routing.timezone))
    )

    today = now.astimezone(ZoneInfo(routing.timezone)).date()
    targets = (
        people if people is not None else recipients_at(session, alert, level, routing, today=today)
    )
    addresses: list[Address] = []
    unreachable: list[Employee] = []
    for person in targets:
        found = person_addresses(session, person, routing)
        addresses += found
        unreachable += [] if found else [person]
    if unreachable and not addresses:
        # Nobody at this level can be reached: the HR leads and groups rather than silence.
        leads = _employees(session, routing.hr_leads)
        addresses += [a for lead in leads for a in person_addresses(session, lead, routing)]
        addresses += group_addresses(routing) if level > 0 else []  # level 0 adds them below
    if level == 0:
        addresses += group_addresses(routing)
        if routing.webhook:
            addresses.append(Address(platform="webhook", address="webhook", locale=routing.locale))
    missed = [
        NewDelivery(
            idempotency_key=f"alert:{alert_id}:{stage}:L{level}:unreachable:{person.employee_id}",
            alert_id=alert_id,
            platform=UNREACHABLE,
            address=person.employee_id,
            employee_id=person.employee_id,
            payload=AlertPayload(
                alert_id=alert_id, stage=stage, level=level, locale=routing.locale
            ),
            not_before=now,
            state=UNREACHABLE,
        )
        for person in unreachable
    ]
    return missed + [
        NewDelivery(
            idempotency_key=f"alert:{alert_id}:{stage}:L{level}:{to.platform}:{to.address}",
            alert_id=alert_id,
            platform=to.platform,
            address=to.address,
            is_group=to.employee_id is None,
            employee_id=to.employee_id,
            payload=AlertPayload(alert_id=alert_id, stage=stage, level=level, locale=to.locale),
            urgent=urgent,
            not_before=not_before,
        )
        for to in addresses
    ]
