"""`rotate-key`'s storage side on SQLite and PostgreSQL: every id number resealed under the
current key in audited chunks; stopped by a value no key opens, it resumes where it stopped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from storage.audit import audit_entries
from storage.db import session_scope
from storage.rekey import ROTATE_KEY, Left, Rotation, left_to_reseal, rotate
from storage.sealing import DataKeyError, DataKeys, key_id, new_key, use_data_keys
from tests.storage.test_sealing import _add, _read, _stored

OLD, NEW, LOST = new_key(), new_key(), new_key()
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def _number(index: int) -> str:
    return f"11010119900101{index:04d}"


def _rotate(engine: Engine, keys: DataKeys, chunk: int = 2) -> Rotation:
    return rotate(engine, keys, actor="ops", via="cli", now=lambda: NOW, chunk=chunk)


def test_plain_and_old_values_are_resealed_in_audited_chunks(engine: Engine) -> None:
    for index in range(3):
        _add(engine, f"E{index}", _number(index))  # plain: stored before any key
    use_data_keys(engine, DataKeys(OLD))
    for index in range(3, 5):
        _add(engine, f"E{index}", _number(index))
    _add(engine, "E9", None)
    keys = DataKeys(NEW, [OLD])
    use_data_keys(engine, keys)
    with session_scope(engine) as session:
        assert left_to_reseal(session, keys) == Left(plain=3, older=2)

    done = _rotate(engine, keys)

    assert done == Rotation(resealed=5, were_plain=3, left=0)
    stored = _stored(engine)
    assert stored["E9"] is None
    assert all(str(stored[f"E{index}"]).startswith(f"fernet:{key_id(NEW)}:") for index in range(5))
    use_data_keys(engine, DataKeys(NEW))  # the old key is no longer needed
    assert [_read(engine, f"E{index}") for index in range(5)] == [_number(i) for i in range(5)]
    with session_scope(engine) as session:
        entries = audit_entries(session)
        assert left_to_reseal(session, keys) == Left(plain=0, older=0)
    assert [(e.actor, e.action, e.via, e.detail) for e in entries] == [
        ("ops", ROTATE_KEY, "cli", f"{n} id numbers sealed under data key {key_id(NEW)}")
        for n in (2, 2, 1)
    ]
    assert _rotate(engine, DataKeys(NEW)) == Rotation(resealed=0, were_plain=0, left=0)


def test_a_value_no_key_opens_stops_the_run_and_a_second_run_resumes(engine: Engine) -> None:
    use_data_keys(engine, DataKeys(OLD))
    for index in range(4):
        _add(engine, f"E{index}", _number(index))
    use_data_keys(engine, DataKeys(LOST))
    _add(engine, "E5", _number(5))
    keys = DataKeys(NEW, [OLD])
    use_data_keys(engine, keys)

    with pytest.raises(DataKeyError, match=f"employee E5: .*data key {key_id(LOST)}") as stop:
        _rotate(engine, keys)
    assert OLD not in str(stop.value) and _number(5) not in str(stop.value)
    stored = _stored(engine)
    assert all(str(stored[f"E{i}"]).startswith(f"fernet:{key_id(NEW)}:") for i in range(4))
    assert str(stored["E5"]).startswith(f"fernet:{key_id(LOST)}:")

    found = DataKeys(NEW, [LOST])  # the lost key turns up: the run goes on with E5 alone
    use_data_keys(engine, found)
    assert _rotate(engine, found).resealed == 1
    use_data_keys(engine, DataKeys(NEW))
    assert [_read(engine, f"E{i}") for i in (0, 1, 2, 3, 5)] == [
        _number(i) for i in (0, 1, 2, 3, 5)
    ]
