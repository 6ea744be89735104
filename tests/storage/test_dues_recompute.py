"""Issue 19: a recompute streams in chunks and stores what a fresh computation stores."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.policy_loader import load_policies
from storage import ledger
from storage.accounts import account_policies
from storage.db import session_scope
from storage.ledger import period_dues, run_dues
from storage.models import LedgerLine
from tests.support import dues_company
from tests.support.dues_company import NOW, PERIOD

Snapshot = tuple[list[tuple[object, ...]], list[tuple[object, ...]]]


def _stored(engine: Engine) -> Snapshot:
    """The period's stored lines and account totals."""
    with session_scope(engine) as session:
        lines = session.exec(select(LedgerLine).where(LedgerLine.period == str(PERIOD))).all()
        dues = period_dues(session, PERIOD)
        return (
            sorted(
                (x.employee_id, x.account_id, x.scheme, x.base, x.employer, x.employee)
                for x in lines
            ),
            sorted(
                (d.account_id, d.employees, d.employer_total, d.employee_total, d.total)
                for d in dues
            ),
        )


def test_a_recompute_in_small_chunks_stores_what_a_fresh_computation_does(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """42 people in three accounts, the period computed fresh by the seed (one chunk); the
    recompute (the same period again, before its due date: a replacement) reads them in
    chunks of 5, so accounts and totals cross chunk boundaries: lines and totals equal."""
    dues_company.seed(engine, extra=30)
    fresh = _stored(engine)
    assert len(fresh[0]) > 100 and len(fresh[1]) == 3
    monkeypatch.setattr(ledger, "_CHUNK", 5)
    with session_scope(engine) as session:
        run_dues(session, PERIOD, account_policies(session, load_policies()), now=NOW)
    assert _stored(engine) == fresh
