"""`column IN (a long list of keys)`, the list bound as one JSON parameter.

An import asks for thousands of keys at a time (a chunk's employee ids). Bound one
parameter per key, SQLAlchemy names and renders every parameter again on each execution
(`IN` is "expanding"), which at 5,000 keys cost more than the query (docs/PERFORMANCE.md,
import_100k). As one JSON array, the statement is the same every time, and the database unpacks
the array: SQLite's `json_each` (https://www.sqlite.org/json1.html#jeach), PostgreSQL's
`json_array_elements_text` (https://www.postgresql.org/docs/current/functions-json.html); both
name their element column `value`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, ColumnElement, func, literal, literal_column, select
from sqlalchemy.engine import Dialect

_UNPACK = {"sqlite": func.json_each, "postgresql": func.json_array_elements_text}


def among(column: ColumnElement[Any], keys: Iterable[str], dialect: Dialect) -> ColumnElement[bool]:
    """`column IN keys` for text keys, with `keys` bound as one parameter."""
    elements = _UNPACK[dialect.name](literal(list(keys), JSON))
    return column.in_(select(literal_column("value")).select_from(elements))
