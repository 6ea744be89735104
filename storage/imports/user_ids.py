"""A platform user id belongs to one employee (ARCHITECTURE §3): two would make a chat message
from that person answer as someone else. Checked on the state after the import: the file's
values, and the stored ones of everyone it leaves alone.

For a streamed import the file's claims are noted in the first pass (only the first row of
each employee id counts, as it is the one imported); the second pass checks each row against
them and against the stored employees holding the same ids, read a chunk at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Table as SqlTable
from sqlalchemy import select
from sqlmodel import Session

from core.platforms import PLATFORMS
from storage.imports.table import Row

USER_ID_COLUMNS = tuple(spec.user_id_column for spec in PLATFORMS)


class UserIdClaims:
    """Which employees of the file claim each platform user id, and the check of a chunk."""

    def __init__(self, employees: SqlTable, first_row: Mapping[str, int], *, partial: bool):
        self.employees = employees
        self.first_row = first_row
        self.partial = partial
        self.claims: dict[str, dict[str, str]] = {c: {} for c in USER_ID_COLUMNS}
        """The first employee of the file claiming each user id (one string each: compact)."""
        self.shared: dict[str, dict[str, list[str]]] = {
            c: defaultdict(list) for c in USER_ID_COLUMNS
        }
        """The other employees of the file claiming an id already claimed (rare)."""
        self.senders: dict[str, set[str]] = {c: set() for c in USER_ID_COLUMNS}
        """Partial items only: who sent the column (in a file every row carries it)."""

    def note(self, row: Row, employee_id: str, parse: Any) -> None:
        """First pass: the claims of an employee id's first row."""
        for column in USER_ID_COLUMNS:
            if not row.sent(column):
                continue
            if self.partial:
                self.senders[column].add(employee_id)
            user_id = row.peek(column, parse)
            if user_id and self.claims[column].setdefault(user_id, employee_id) != employee_id:
                self.shared[column][user_id].append(employee_id)

    def check(
        self, session: Session, checked: Sequence[tuple[Row, str, Mapping[str, Any]]]
    ) -> None:
        """Second pass, a chunk's rows (first rows only, with their records): an error on each
        column whose user id someone else holds after the import."""
        for column in USER_ID_COLUMNS:
            wanted = {record[column] for _, _, record in checked if record.get(column)}
            stored = self._stored_holders(session, column, wanted)
            for row, employee_id, record in checked:
                user_id = record.get(column)
                if column not in record or not user_id:
                    continue
                holders = {*self._claimers(column, user_id), *stored.get(user_id, ())}
                if len(holders) > 1:
                    others = ", ".join(sorted(holders - {employee_id}))
                    row.error(column, f"{user_id!r} is also the id of {others}")

    def _claimers(self, column: str, user_id: str) -> list[str]:
        first = self.claims[column].get(user_id)
        return [] if first is None else [first, *self.shared[column].get(user_id, ())]

    def _stored_holders(
        self, session: Session, column: str, user_ids: Collection[str]
    ) -> dict[str, list[str]]:
        """Stored employees holding these ids whose stored value the import leaves as it is."""
        if not user_ids:
            return {}
        table = self.employees
        query = select(table.c.employee_id, table.c[column]).where(
            table.c[column].in_(sorted(user_ids))
        )
        found: dict[str, list[str]] = defaultdict(list)
        for employee_id, user_id in session.execute(query):
            if not self._overrides(employee_id, column):
                found[user_id].append(employee_id)
        return found

    def _overrides(self, employee_id: str, column: str) -> bool:
        if employee_id not in self.first_row:
            return False
        return employee_id in self.senders[column] if self.partial else True
