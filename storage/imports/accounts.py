"""Accounts as imports see them: resolve a cell to a known account id, and make sure the
`account` row exists before rows that reference it (a foreign key) are written."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from sqlalchemy import insert, select
from sqlmodel import Session, col

from storage.imports.cells import choice
from storage.imports.readers import Cell
from storage.models import Account

DEFAULT_CURRENCY = "CNY"


def account_parser(known_accounts: Collection[str]) -> Callable[[Cell], str]:
    """Matches case-insensitively (`Beijing` is `beijing`) and returns the configured spelling."""
    return choice(sorted(known_accounts), {}, "account")


def ensure_accounts(
    session: Session,
    account_ids: Collection[str],
    *,
    currencies: Mapping[str, str] | None,
    policies: Mapping[str, str] | None,
) -> int:
    """Create any missing `Account` rows (policy defaults to the id, as in config: ARCHITECTURE
    §2 "Accounts and policies"), so an import works on a fresh database. Returns how many."""
    existing = set(session.scalars(select(col(Account.id)).where(col(Account.id).in_(account_ids))))
    missing = sorted(set(account_ids) - existing)
    if missing:
        session.execute(
            insert(Account),
            [
                {
                    "id": account_id,
                    "policy_id": (policies or {}).get(account_id, account_id),
                    "currency": (currencies or {}).get(account_id, DEFAULT_CURRENCY),
                }
                for account_id in missing
            ],
        )
    return len(missing)
