"""What an import reports: every problem as `row N, column C: reason`, and what it wrote.

Errors users can cause are values (STYLE.md): a bad row is a `RowError` in the result, never
an exception. Only a file that cannot be read as a table at all raises `ImportFileError`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    """One problem, located as a spreadsheet shows it: header = row 1, column = header text."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass(frozen=True)
class ImportResult:
    """The outcome of one import. With any error nothing was written (all-or-nothing).

    `rows` counts data rows read (blank rows are skipped); `created` new records; `updated`
    existing records whose values changed. Rows that match the database exactly are neither.
    With errors both counts are 0; on a dry run they say what a real run would do.
    `warnings` are lines for the operator that did not stop the import (an ignored column).
    """

    rows: int
    created: int
    updated: int
    errors: tuple[RowError, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFileError(ValueError):
    """The file is not a readable CSV or XLSX table (wrong format, undecodable, no header)."""
