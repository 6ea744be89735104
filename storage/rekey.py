"""`coverwatch security rotate-key`: every id number sealed again under the current data key.

Plain values (stored before a key was set) and values sealed under a previous key are read
as stored, opened and sealed under `[security] data_key`, a chunk per transaction with its
audit entry. A chunk is all-or-nothing and the run is resumable: a value sealed under the
current key is done, so a run stopped half-way (a crash, Ctrl-C, a missing old key) goes on
from where it stopped when started again. A row changed meanwhile (an import sealing a new
value) is left to that writer: the update only replaces the value it read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, case, func, select, type_coerce, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from storage.audit import record_audit
from storage.db import session_scope
from storage.models import Employee
from storage.sealing import (
    KEY_ID_LENGTH,
    SEALED_PREFIX,
    DataKeyError,
    DataKeys,
    missing_keys,
)

ROTATE_KEY = "rotate-key"
"""The audit log's action of a resealed chunk."""
_TABLE = Employee.__table__  # type: ignore[attr-defined]
_as_stored = type_coerce(_TABLE.c.id_number, String)
"""The column as stored: the sealed text, not opened."""


@dataclass(frozen=True)
class Left:
    """What a rotation still has to do."""

    plain: int
    older: int
    """Sealed under a key other than the current one."""

    @property
    def total(self) -> int:
        return self.plain + self.older


def _not_current(keys: DataKeys) -> ColumnElement[bool]:
    current = f"{SEALED_PREFIX}{keys.current_id}:%"
    return and_(_as_stored.is_not(None), _as_stored != "", _as_stored.not_like(current))


def stored_key_ids(session: Session) -> dict[str, int]:
    """How many values each key id has sealed."""
    start = len(SEALED_PREFIX) + 1
    key = func.substr(_as_stored, start, KEY_ID_LENGTH)
    query = select(key, func.count()).where(_as_stored.like(f"{SEALED_PREFIX}%")).group_by(key)
    return {str(found): int(n) for found, n in session.execute(query)}


def plain_id_numbers(session: Session) -> int:
    """How many id numbers are stored unsealed."""
    plain = and_(
        _as_stored.is_not(None), _as_stored != "", _as_stored.not_like(f"{SEALED_PREFIX}%")
    )
    return int(session.execute(select(func.count()).where(plain)).scalar_one())


def check_keys(session: Session, keys: DataKeys | None) -> None:
    """Raise `DataKeyError` when some stored value is sealed under a key not given: at start,
    rather than on the first reply that reads the row."""
    missing = sorted(set(stored_key_ids(session)) - (keys.ids if keys else set()))
    if not missing:
        return
    raise missing_keys(missing, keys)


def left_to_reseal(session: Session, keys: DataKeys) -> Left:
    sealed = case((_as_stored.like(f"{SEALED_PREFIX}%"), 1))
    query = select(func.count(), func.count(sealed)).where(_not_current(keys))
    total, older = session.execute(query).one()
    return Left(plain=int(total) - int(older), older=int(older))


def reseal_chunk(session: Session, keys: DataKeys, *, after: str, limit: int) -> tuple[int, str]:
    """Seal again up to `limit` values not under the current key, of employees after `after`
    in id order: (how many were rewritten, the last employee id seen; `after` when none).

    :raises DataKeyError: a value sealed under a key `keys` does not hold (naming the
        employee, never the value).
    """
    query = (
        select(_TABLE.c.employee_id, _as_stored)
        .where(_not_current(keys), _TABLE.c.employee_id > after)
        .order_by(_TABLE.c.employee_id)
        .limit(limit)
    )
    done, last = 0, after
    for employee_id, stored in session.execute(query).all():
        try:
            plain = keys.open(stored)
        except DataKeyError as exc:
            raise DataKeyError(f"employee {employee_id}: {exc}") from None
        result = session.execute(
            update(_TABLE)
            .where(_TABLE.c.employee_id == employee_id, _as_stored == stored)
            .values(id_number=type_coerce(keys.seal(plain), String))
            .returning(_TABLE.c.employee_id)  # not `rowcount` (storage/events.py)
        )
        done += len(result.all())
        last = employee_id
    return done, last


@dataclass(frozen=True)
class Rotation:
    resealed: int
    were_plain: int
    left: int
    """Values written under an older key by someone else during the run (run it again)."""


def rotate(
    engine: Engine,
    keys: DataKeys,
    *,
    actor: str,
    via: str,
    now: Callable[[], datetime],
    chunk: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> Rotation:
    """One pass in employee-id order, `chunk` rows per committed transaction with its audit
    entry (module docstring). Raises `DataKeyError` on a value no given key opens; the chunks
    committed before it stay done."""
    with session_scope(engine) as session:
        before = left_to_reseal(session, keys)
    resealed, after = 0, ""
    while True:
        with session_scope(engine) as session:
            done, last = reseal_chunk(session, keys, after=after, limit=chunk)
            if last == after:
                left = left_to_reseal(session, keys)
                break
            if done:
                record_audit(
                    session,
                    at=now(),
                    actor=actor,
                    action=ROTATE_KEY,
                    detail=f"{done} id numbers sealed under data key {keys.current_id}",
                    via=via,
                )
        resealed, after = resealed + done, last
        if progress is not None:
            progress(resealed, before.total)
    return Rotation(resealed=resealed, were_plain=before.plain, left=left.total)
