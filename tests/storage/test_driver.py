"""Hot reads on PostgreSQL's driver (`storage.driver`): the rows SQLAlchemy would give,
SQLAlchemy's way where a parameter needs converting, and its errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import bindparam, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from storage import driver
from storage.db import session_scope
from storage.employees import _ASKERS
from storage.models import Employee, Payment
from storage.payments import _ACCOUNT_STANDING
from tests.conftest import Migrated
from tests.support.company import ID_NUMBER, seed

STANDING = {"account_id": "beijing", "as_of": date(2025, 6, 25), "through": "2025-06"}


@pytest.mark.parametrize("read_only", [True, False], ids=["autocommit", "in-a-transaction"])
def test_the_hot_reads_give_the_rows_sqlalchemy_gives(engine: Engine, read_only: bool) -> None:
    """The asker (a sealed id number, exact rates) and the standings (money in cents)."""
    seed(engine)
    with session_scope(engine, read_only=read_only) as session:
        for statement, params in (
            (_ASKERS["slack"], {"user_id": "U001"}),
            (_ACCOUNT_STANDING, STANDING),
        ):
            expected = [tuple(row) for row in session.connection().execute(statement, params)]
            assert [tuple(row) for row in driver.read(session, statement, params)] == expected
            assert expected
        [asker] = driver.read(session, _ASKERS["slack"], {"user_id": "U001"})
        standing = driver.read(session, _ACCOUNT_STANDING, STANDING)
    assert ID_NUMBER in asker  # decrypted, as SQLAlchemy's result gives it
    assert all(isinstance(row[4], Decimal) for row in standing)


def test_a_parameter_sqlalchemy_converts_goes_its_way(engine: Engine) -> None:
    """Money is bound as cents, a list as an expanding `IN`: sent to the driver as given they
    would match nothing, so SQLAlchemy runs those statements."""
    seed(engine)
    by_amount = select(Payment.period).where(Payment.amount == bindparam("amount"))
    by_ids = select(Employee.name).where(
        col(Employee.employee_id).in_(bindparam("ids", expanding=True))
    )
    with session_scope(engine, read_only=True) as session:
        amount = session.connection().execute(select(Payment.amount)).scalars().first()
        assert isinstance(amount, Decimal)
        expected = session.connection().execute(by_amount, {"amount": amount}).all()
        assert expected
        assert list(driver.read(session, by_amount, {"amount": amount})) == expected
        assert len(driver.read(session, by_ids, {"ids": ["E001", "E002"]})) == 2
    assert driver._plan(by_amount, engine.dialect) is None
    assert driver._plan(by_ids, engine.dialect) is None


@pytest.mark.postgres
def test_a_connection_the_server_ended_is_raised_as_sqlalchemys_error_and_dropped(
    pg_url: str, migrated: Migrated
) -> None:
    """As SQLAlchemy's own execution does: its error (parameters hidden), the connection
    invalidated so the pool does not hand it out again."""
    engine = migrated(pg_url)
    seed(engine)
    invalidated: list[BaseException | None] = []
    event.listen(engine, "invalidate", lambda _dbapi, _record, error: invalidated.append(error))
    with session_scope(engine, read_only=True) as session:
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(DBAPIError) as ended:
            driver.read(session, _ASKERS["slack"], {"user_id": "U-SECRET"})
        # By `read` itself: the session's rollback, which would invalidate it too, is to come.
        assert invalidated == [ended.value.orig]
    assert ended.value.connection_invalidated
    assert "U-SECRET" not in str(ended.value)
    with session_scope(engine, read_only=True) as session:
        [row] = driver.read(session, _ASKERS["slack"], {"user_id": "U001"})
    assert ID_NUMBER in row
    engine.dispose()
