"""Accounts: the employer's registration per region, joined with the policy that governs it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from core.deadlines import due_date_is_estimate
from core.estimates import Estimate, estimates
from core.periods import Period
from core.policy import AccountSettings, Policy
from storage.models import Account


@dataclass(frozen=True)
class AccountPolicy:
    """An account's settings together with its policy: what every calculation needs."""

    settings: AccountSettings
    policy: Policy

    @property
    def account_id(self) -> str:
        return self.settings.account_id

    @property
    def currency(self) -> str:
        return self.policy.currency

    def estimates(self, period: Period) -> tuple[Estimate, ...]:
        """The estimated rules behind this account's dues for `period` (core.estimates);
        empty for a period the policy cannot compute at all."""
        try:
            return estimates(self.policy, self.settings, period)
        except ValueError:
            return ()

    def due_date_estimated(self, period: Period) -> bool:
        """Whether the period's due date uses a holiday calendar not published yet."""
        return due_date_is_estimate(self.policy, period, due_day=self.settings.due_day)


def known_account_ids(
    configured: Mapping[str, AccountSettings], policies: Mapping[str, Policy]
) -> set[str]:
    """Ids an import may reference: configured accounts, and every policy id (policy = id)."""
    return set(configured) | set(policies)


def sync_accounts(
    session: Session,
    configured: Mapping[str, AccountSettings],
    policies: Mapping[str, Policy],
    ids: Collection[str] = (),
) -> None:
    """Upsert the configured accounts (and any extra ids, whose policy is their id)."""
    wanted = dict(configured)
    for account_id in ids:
        wanted.setdefault(account_id, AccountSettings(account_id=account_id, policy_id=account_id))
    for account_id, settings in wanted.items():
        policy = policies.get(settings.policy_id)
        if policy is None:
            raise ValueError(f"account {account_id}: unknown policy {settings.policy_id!r}")
        row = session.get(Account, account_id) or Account(
            id=account_id, policy_id=settings.policy_id, currency=policy.currency
        )
        row.policy_id = settings.policy_id
        row.currency = policy.currency
        row.injury_rate = settings.injury_rate
        row.housing_fund_rate = settings.housing_fund_rate
        row.due_day = settings.due_day
        session.add(row)
    session.flush()


def account_policies(session: Session, policies: Mapping[str, Policy]) -> dict[str, AccountPolicy]:
    """Every stored account with its policy, keyed by account id."""
    # Columns, not `Account` objects: every chat command asks (docs/PERFORMANCE.md, chat_http).
    rows = session.connection().execute(_ACCOUNT_SETTINGS)
    settings = (settings_of(row) for row in rows)
    return {each.account_id: account_policy(each, policies) for each in settings}


SETTINGS_COLUMNS = (
    col(Account.id),
    col(Account.policy_id),
    col(Account.injury_rate),
    col(Account.housing_fund_rate),
    col(Account.due_day),
)
"""An account's settings as columns, in the order `settings_of` reads them."""


def settings_of(row: Sequence[Any]) -> AccountSettings:
    """`AccountSettings` from the values of `SETTINGS_COLUMNS`."""
    account_id, policy_id, injury_rate, housing_fund_rate, due_day = row
    return AccountSettings(
        account_id=account_id,
        policy_id=policy_id,
        injury_rate=injury_rate,
        housing_fund_rate=housing_fund_rate,
        due_day=due_day,
    )


def account_policy(settings: AccountSettings, policies: Mapping[str, Policy]) -> AccountPolicy:
    return AccountPolicy(settings=settings, policy=policies[settings.policy_id])


_ACCOUNT_SETTINGS = select(*SETTINGS_COLUMNS).order_by(col(Account.id))
