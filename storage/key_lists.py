"""`column IN (a long list of keys)`, the list bound as one JSON parameter.

An import asks for thousands of keys at a time (a chunk's employee ids). Bound one
parameter per key, SQLAlchemy names and renders every parameter again on each execution
(`IN` is "expanding"), which at 5,000 keys cost more than the query (docs/PERFORMANCE.md,
import_100k). As one JSON array, the statement is the same every time, and the database unpacks
the array: SQLite's `json_each` (https://www.sqlite.org/json1.html#jeach), PostgreSQL's
`json_array_elements_text` (https://www.postgresql.org/docs/current/functions-json.html); both
name their element column `value`.

On PostgreSQL the keys are an array, `column = ANY(ARRAY(SELECT …))`: an index scan over the
sorted keys whatever the table's statistics. As `IN (SELECT …)` the planner weighed a hash join
over the whole table against 5,000 index probes, and a table an import is filling has no
statistics yet (autovacuum cannot see uncommitted rows): for a column without a unique index
it assumed each key matched 0.5 % of the rows and chose the join, a scan of every employee
written so far for each chunk of 5,000 (`import_1m`: 16 s of 51 s of server CPU at 1M
employees, docs/PERFORMANCE.md). The array's length is unknown to the planner, which counts
it as 10 keys. Every column passed here has an index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, any_, func, literal, literal_column, select
from sqlalchemy.engine import Dialect

_UNPACK = {"sqlite": func.json_each, "postgresql": func.json_array_elements_text}


def among(column: ColumnElement[Any], keys: Iterable[str], dialect: Dialect) -> ColumnElement[bool]:
    """`column IN keys` for text keys, with `keys` bound as one parameter."""
    elements = _UNPACK[dialect.name](literal(list(keys), JSON))
    values: Select[tuple[str]] = select(literal_column("value")).select_from(elements)
    if dialect.name == "postgresql":
        return column == any_(func.array(values.scalar_subquery()))
    return column.in_(values)
