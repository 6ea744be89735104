"""`among`: a long key list bound as one JSON parameter finds what `IN` finds, on both databases."""

from __future__ import annotations

from sqlalchemy import Engine, Table, select
from sqlmodel import Session

from storage.key_lists import among
from storage.models import Account

_ACCOUNTS: Table = Account.__table__  # type: ignore[attr-defined]


def _ids(engine: Engine, keys: list[str]) -> list[str]:
    with Session(engine) as session:
        query = select(_ACCOUNTS.c.id).where(among(_ACCOUNTS.c.id, keys, engine.dialect))
        return sorted(session.execute(query).scalars())


def test_among_matches_the_listed_keys_only(engine: Engine) -> None:
    with Session(engine) as session:
        for account_id in ("beijing", "shanghai", 'o\'neil "hk"', "深圳"):
            session.add(Account(id=account_id, policy_id=account_id, currency="CNY"))
        session.commit()
    many = [f"nobody{index}" for index in range(6000)]  # past SQLite's old 999-parameter limit

    assert _ids(engine, ["shanghai", "深圳", 'o\'neil "hk"', "nowhere", *many]) == sorted(
        ["shanghai", "深圳", 'o\'neil "hk"']
    )
    assert _ids(engine, []) == []
