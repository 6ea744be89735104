"""A platform user id belongs to one employee (ARCHITECTURE §3): two would make a chat message
from that person answer as someone else. Checked on the state after the import: the file's
values, and the stored ones of everyone it leaves alone.

The file's claims come from the first pass (`FirstRows`: only the first row of each employee
id counts, as it is the one imported); the second pass checks each chunk's rows against them
and against the stored employees holding the same ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Table as SqlTable
from sqlalchemy import select
from sqlmodel import Session

from storage.imports.first_pass import USER_ID_COLUMNS, FirstRows
from storage.imports.table import Row
from storage.key_lists import among


class UserIdClaims:
    """The check of a chunk's user ids against the file's claims and the stored employees."""

    def __init__(self, employees: SqlTable, first_rows: FirstRows) -> None:
        self.employees = employees
        self.first_rows = first_rows

    def check(
        self, session: Session, checked: Sequence[tuple[Row, str, Mapping[str, Any]]]
    ) -> None:
        """A chunk's rows (first rows only, with their records): an error on each column whose
        user id someone else holds after the import."""
        for column in USER_ID_COLUMNS:
            wanted = {record[column] for _, _, record in checked if record.get(column)}
            if not wanted:
                continue
            # Only ids held twice can clash: those two employees of the file claim, and those a
            # stored employee keeps (with whoever in the file claims them). The rest, most of
            # them, are never fetched.
            stored = self._stored_holders(session, column, wanted)
            holders: dict[str, set[str]] = defaultdict(set)
            for claimed, holder in (
                *self.first_rows.contested(column, wanted),
                *self.first_rows.claimers(column, {user_id for user_id, _ in stored}),
                *stored,
            ):
                holders[claimed].add(holder)
            if not holders:  # no id held twice: the usual file, and no row to look at
                continue
            for row, employee_id, record in checked:
                user_id = record.get(column)
                if column not in record or not user_id or len(holders[user_id]) < 2:
                    continue
                others = ", ".join(sorted(holders[user_id] - {employee_id}))
                row.error(column, f"{user_id!r} is also the id of {others}")

    def _stored_holders(
        self, session: Session, column: str, user_ids: Collection[str]
    ) -> list[tuple[str, str]]:
        """(user id, employee id) of the stored employees holding these ids whose stored value
        the import leaves as it is."""
        table = self.employees
        query = select(table.c[column], table.c.employee_id).where(
            among(table.c[column], user_ids, session.get_bind().dialect)
        )
        found = session.execute(query).all()
        replaced = self.first_rows.overriding(column, {employee_id for _, employee_id in found})
        return [(user_id, holder) for user_id, holder in found if holder not in replaced]
