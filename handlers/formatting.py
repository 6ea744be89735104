"""How figures read in a reply: amounts with their currency, ratios, and cards with text twins.

Every reply's `text` is the complete answer (ARCHITECTURE.md §3, `ask --json`), so a card is
always rendered from the same fields as its text, never separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.money import display_amount
from core.periods import Period
from core.policy import Policy
from handlers.context import AppContext
from handlers.i18n import has_key
from handlers.router import Request
from handlers.types import Button, Card, Field, Reply
from storage.accounts import AccountPolicy
from storage.employees import get_employee
from storage.models import Account

PERCENT = Decimal(100)


def money(amount: Decimal, currency: str, decimals: int = 2) -> str:
    """`¥1,234.50`, `HK$41,076.00`: an amount as people write it (JSON stays plain)."""
    return display_amount(amount, currency, decimals)


def percent(request: Request, ratio: Decimal | None) -> str:
    if ratio is None:
        return request.t("format.none")
    return f"{(ratio * PERCENT).quantize(Decimal('0.1'))}%"


def day(request: Request, value: date | None) -> str:
    return request.t("format.none") if value is None else value.isoformat()


def moment(value: datetime, timezone: ZoneInfo) -> str:
    """A time as the company reads it: local `YYYY-MM-DD HH:MM`."""
    return value.astimezone(timezone).strftime("%Y-%m-%d %H:%M")


def days_words(request: Request, days_left: int) -> str:
    """A deadline's distance as people say it: `还剩 3 天`, `今天截止`, `逾期 461 天`."""
    if days_left > 0:
        return request.t("format.days_left", days=days_left)
    if days_left == 0:
        return request.t("format.due_today")
    return request.t("format.days_overdue", days=-days_left)


def account_name(request: Request, account: AccountPolicy | str) -> str:
    """An account as people name it in the reply's language (`北京`, `Hong Kong MPF`): the
    config's `[accounts.<id>] name`, else the policy's name for the locale."""
    found = request.accounts.get(account) if isinstance(account, str) else account
    if found is None:
        return str(account)
    return _display_name(found.account_id, found.policy, request.app.account_names, request.locale)


def _display_name(
    account_id: str, policy: Policy | None, configured: Mapping[str, str], locale: str
) -> str:
    return configured.get(account_id) or (
        policy.display_name(locale) if policy is not None else account_id
    )


@dataclass(frozen=True, kw_only=True)
class AccountNames:
    """`account_name` where there is no request: notices rendered at send time, each in its
    reader's language. Empty (the default), accounts are named by their ids."""

    policies: Mapping[str, Policy] = field(default_factory=dict)
    """By policy id (`AppContext.policies`)."""
    configured: Mapping[str, str] = field(default_factory=dict)
    """`[accounts.<id>] name`."""

    @classmethod
    def of(cls, app: AppContext) -> AccountNames:
        return cls(policies=app.policies, configured=app.account_names)

    def name(self, session: Session, account_id: str, locale: str) -> str:
        row = session.get(Account, account_id)
        policy = self.policies.get(row.policy_id if row is not None else account_id)
        return _display_name(account_id, policy, self.configured, locale)


def label(request: Request, prefix: str, value: str) -> str:
    """The translated name of a domain value (`scheme.pension`), or the value when unnamed."""
    key = f"{prefix}.{value}"
    return request.t(key) if has_key(key) else value


def approx(value: str, estimated: bool) -> str:
    """`≈` before a figure that is an estimate (a rule unconfirmed or provisional, a holiday
    calendar not published yet); the `dues.estimate` footnote names it (`estimate_figures`)."""
    return f"≈{value}" if estimated and value != "-" else value


def estimate_figures(
    request: Request,
    account: AccountPolicy,
    period: Period,
    *,
    due_date: bool = True,
    suspension: bool = False,
) -> list[str]:
    """What the footnote names for one account-period: each scheme whose rule is an estimate
    (core.estimates); with `due_date` (shown) the due date from an unpublished holiday
    calendar, and with `suspension` the suspension date counted from it."""
    name = account_name(request, account)
    figures = [f"{name} {label(request, 'scheme', e.scheme)}" for e in account.estimates(period)]
    if (due_date or suspension) and account.due_date_estimated(period):
        if due_date:
            figures.append(request.t("dues.calendar_estimate", account=name))
        if suspension:
            figures.append(request.t("dues.suspension_estimate", account=name))
    return figures


def estimate_notes(request: Request, figures: Sequence[str]) -> list[str]:
    """The `≈ estimate: …` footnote naming every figure once, or nothing."""
    named = list(dict.fromkeys(figures))
    return [request.t("dues.estimate", figures=", ".join(named))] if named else []


def card_reply(
    request: Request,
    title: str,
    fields: Sequence[Field],
    *,
    notes: Sequence[str] = (),
    buttons: Sequence[Button] = (),
) -> Reply:
    """A reply with a card, and the same content as plain text for platforms without cards."""
    lines = [title]
    lines += [request.t("format.field", label=f.label, value=f.value) for f in fields]
    lines += notes
    note_fields = tuple(Field(label=request.t("format.note"), value=note) for note in notes)
    card = Card(title=title, fields=(*fields, *note_fields), buttons=tuple(buttons))
    return Reply(text="\n".join(lines), card=card)


def list_reply(title: str, lines: Sequence[str]) -> Reply:
    return Reply(text="\n".join([title, *lines]))


def person(request: Request, employee_id: str) -> str:
    """`王五 (E003)`: who acted, by name and id (the id alone when they left the roster)."""
    found = get_employee(request.session, employee_id)
    name = found.name if found is not None else employee_id
    return request.t("alerts.person", name=name, id=employee_id)
