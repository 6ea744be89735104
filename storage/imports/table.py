"""Match a sheet's header to an import's columns and read its rows by column name.

The API's JSON items go through the same `Row`s (`ItemTable`), so a file's cells and an item's
fields meet the same parsers and the same cross-row rules: one set of rules, two sources.

Header matching ignores case, surrounding spaces and the `_`/space/`-` spelling
(`Employee ID` = `employee_id`); Chinese aliases match as written. An unknown column (HR's
`备注`) is ignored with one warning naming it, so the operator sees a misspelt optional header
(`enroled_on`) that would otherwise leave that field unchanged; `strict` makes it an error
(ARCHITECTURE.md §3, employees file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from storage.imports.cells import CellError, is_blank
from storage.imports.errors import ImportResult, RowError
from storage.imports.readers import Cell, Sheet, SheetFile, open_sheet, read_sheet

Progress = Callable[[int, int], None]
Parse = Callable[[Cell], Any]
"""A cell parser (`storage.imports.cells`): the typed value, or `CellError` with the reason."""
Converter: TypeAlias = Callable[["Row"], dict[str, Any]]
"""A row to its parsed values by column name (`Table.converter`)."""
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False


def _key(header: str) -> str:
    return "_".join(header.strip().lower().replace("-", " ").replace("_", " ").split())


def _names_by_key(columns: tuple[Column, ...]) -> dict[str, str]:
    return {_key(alias): c.name for c in columns for alias in (c.name, *c.aliases)}


def header_fits(columns: tuple[Column, ...]) -> Callable[[tuple[str, ...]], bool]:
    """Whether a header row names every required column: how a workbook's sheet is chosen."""
    by_key = _names_by_key(columns)
    required = {column.name for column in columns if column.required}

    def fits(header: tuple[str, ...]) -> bool:
        return required <= {by_key.get(_key(cell)) for cell in header}

    return fits


Items = Sequence[Mapping[str, Cell]]
"""JSON objects keyed by column name (the API's request bodies)."""


class Table:
    """A sheet bound to columns; every problem found goes to `errors`."""

    noun = "row"
    """How a message names another row: `same payment as row 3`."""
    partial = False
    """True when a record may leave fields out (`ItemTable` of employees): absent = unchanged."""

    def __init__(self, sheet: Sheet, columns: tuple[Column, ...], *, strict: bool = False) -> None:
        self._bind(columns)
        self.rows = [(n, cells) for n, cells in sheet.rows if not all(map(is_blank, cells))]
        self.count = len(self.rows)
        width = max((len(sheet.header), *(len(cells) for _, cells in self.rows)))

        def has_data(index: int) -> bool:
            return any(index < len(cells) and not is_blank(cells[index]) for _, cells in self.rows)

        self._bind_header(sheet.header, strict, width, has_data)

    @classmethod
    def read(
        cls, path: Path, columns: tuple[Column, ...], *, sheet: str | None, strict: bool
    ) -> Table:
        """Read `path` (the named sheet, or the first whose header fits) bound to `columns`."""
        return cls(read_sheet(path, sheet=sheet, fits=header_fits(columns)), columns, strict=strict)

    def _bind_header(
        self, header: tuple[str, ...], strict: bool, width: int, has_data: Callable[[int], bool]
    ) -> None:
        """Columns by name from the header; header problems are errors on row 1."""
        by_key = _names_by_key(tuple(self.columns.values()))
        for index, name in enumerate(header + ("",) * (width - len(header))):
            if not name:
                if has_data(index):
                    from openpyxl.utils import get_column_letter  # see readers._workbook

                    self.error(1, get_column_letter(index + 1), "column has data but no header")
                continue
            found = by_key.get(_key(name))
            if found is None and strict:
                self.error(1, name, "unknown column (--strict)")
            elif found is None:
                self.warnings.append(f"column {name}: not an import column; ignored")
            elif found in self.positions:
                self.error(1, name, f"same column as {self.labels[found]}")
            else:
                self.positions[found] = index
                self.labels[found] = name
        for column in self.columns.values():
            if column.required and column.name not in self.positions:
                self.error(1, column.name, "missing required column")

    def result(self, created: int = 0, updated: int = 0) -> ImportResult:
        """The import's outcome: with any error, the errors in row order and nothing counted."""
        if self.errors:
            return ImportResult(
                self.count, 0, 0, self.sorted_errors(), warnings=tuple(self.warnings)
            )
        return ImportResult(self.count, created, updated, warnings=tuple(self.warnings))

    def _bind(self, columns: tuple[Column, ...]) -> None:
        self.errors: list[RowError] = []
        self.warnings: list[str] = []
        self.columns = {column.name: column for column in columns}
        self.positions: dict[str, int] = {}
        self.labels: dict[str, str] = {}

    def where(self, number: int) -> str:
        return f"{self.noun} {number}"

    def sent(self, number: int, name: str) -> bool:
        """Whether row `number` carries field `name` at all (a file row carries every column)."""
        return name in self.positions

    def error(self, row: int, column: str, reason: str) -> None:
        self.errors.append(RowError(row=row, column=column, reason=reason))

    def has(self, name: str) -> bool:
        return name in self.positions

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def _data_rows(self) -> Iterator[tuple[int, tuple[Cell, ...]]]:
        return iter(self.rows)

    def scan(self, visit: Callable[[Row], None]) -> None:
        """A first, quiet pass: `visit` each data row (with a `quiet` converter: no errors)."""
        for number, cells in self._data_rows():
            visit(Row(self, number, cells))

    def records(self, progress: Progress | None) -> Iterator[Row]:
        """Each non-blank data row, reporting progress every `PROGRESS_EVERY` rows."""
        for done, (number, cells) in enumerate(self._data_rows()):
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done, self.count)
            yield Row(self, number, cells)

    def converter(self, parsers: Mapping[str, Parse], *, quiet: bool = False) -> Converter:
        """A function from a row to the parsed value of each column of `parsers` it sends: None
        when blank or bad, and then a `RowError` (a blank required cell is "missing required
        value"; a bad one, the parser's reason) unless `quiet` (a first pass that the second
        repeats). A column absent from the sheet is left out without an error: the header
        check reported it (for a partial item, absent means "leave as it is").

        Each column's cell position, parser and whether it is required are resolved here, once
        per file: looked up by name for every cell, they were most of a million-row import's
        time (docs/PERFORMANCE.md, import_100k). Values come in the order of `parsers`, and so
        do a row's errors.
        """
        fields = [
            (name, self.positions[name], parse, self.columns[name].required and not quiet)
            for name, parse in parsers.items()
            if self.has(name)
        ]
        # A file row that reaches every column (nearly all of them) needs no bound or `sent`
        # check per cell: such rows take the short loop (a tenth of a 100,000-row import's CPU
        # is this function).
        reach = max((index for _, index, _, _ in fields), default=-1)
        partial, record = self.partial, self.error

        def bad(row: Row, name: str, required: bool, reason: str | None) -> None:
            if reason is None and required:
                record(row.number, self.label(name), "missing required value")
            elif reason is not None and not quiet:
                record(row.number, self.label(name), reason)

        def convert(row: Row) -> dict[str, Any]:
            cells, values = row.cells, dict[str, Any]()
            if not partial and len(cells) > reach:
                for name, index, parse, required in fields:
                    cell = cells[index]
                    if cell is None or (isinstance(cell, str) and (not cell or cell.isspace())):
                        values[name] = None  # blank (`is_blank`: `not cell.strip()` is the same)
                        if required:
                            bad(row, name, required, None)
                        continue
                    try:
                        values[name] = parse(cell)
                    except CellError as exc:
                        values[name] = None
                        bad(row, name, required, str(exc))
                return values
            width = len(cells)
            for name, index, parse, required in fields:
                if partial and not row.sent(name):
                    continue
                cell = cells[index] if index < width else None
                if is_blank(cell):
                    values[name] = None
                    bad(row, name, required, None)
                    continue
                try:
                    values[name] = parse(cell)
                except CellError as exc:
                    values[name] = None
                    bad(row, name, required, str(exc))
            return values

        return convert

    def sorted_errors(self) -> tuple[RowError, ...]:
        """Errors in row order (cross-row checks run after the row pass)."""
        return tuple(sorted(self.errors, key=lambda error: error.row))


class StreamedTable(Table):
    """A file bound to columns without holding its rows: `scan` is a first pass (it also counts
    the rows and finds data under no header), `records` a second; each reads the file again.
    Header errors are known after the scan, in the order `Table` reports them."""

    def __init__(
        self, sheet: SheetFile, columns: tuple[Column, ...], *, strict: bool = False
    ) -> None:
        self._bind(columns)
        self.sheet = sheet
        self.strict = strict
        self.rows = []
        self.count = 0
        self._bind_header(sheet.header, strict, len(sheet.header), lambda _: False)

    def _data_rows(self) -> Iterator[tuple[int, tuple[Cell, ...]]]:
        return (
            (number, cells) for number, cells in self.sheet.rows() if not all(map(is_blank, cells))
        )

    def scan(self, visit: Callable[[Row], None]) -> None:
        header = self.sheet.header
        unnamed = [index for index, name in enumerate(header) if not name]
        width, with_data, count = len(header), set[int](), 0
        for number, cells in self._data_rows():
            count += 1
            if len(cells) > width:
                width = len(cells)
            if unnamed or len(cells) > len(header):  # else no cell to look at (most files)
                for index in (*unnamed, *range(len(header), len(cells))):
                    if index < len(cells) and not is_blank(cells[index]):
                        with_data.add(index)
            visit(Row(self, number, cells))
        self.count = count
        self._bind(tuple(self.columns.values()))  # again, now that the data is known
        self._bind_header(header, self.strict, width, with_data.__contains__)


class Row:
    """One data row: its spreadsheet number and raw cells; bad cells are recorded on the table."""

    def __init__(self, table: Table, number: int, cells: tuple[Cell, ...]) -> None:
        self.table = table
        self.number = number
        self.cells = cells

    def error(self, name: str, reason: str) -> None:
        self.table.error(self.number, self.table.label(name), reason)

    def sent(self, name: str) -> bool:
        return self.table.sent(self.number, name)


class ItemTable(Table):
    """JSON items bound to the same columns. Item N's problems are `RowError(N, field, …)`
    (N counted from 0, as JSON arrays are); no header, so every item is checked on its own:
    an unknown field is an error, and an absent field is blank unless `partial`."""

    noun = "item"

    def __init__(self, items: Items, columns: tuple[Column, ...], *, partial: bool = False) -> None:
        self._bind(columns)
        self.partial = partial
        self.positions = {column.name: index for index, column in enumerate(columns)}
        self.labels = {column.name: column.name for column in columns}
        self.rows = [
            (index, tuple(item.get(column.name) for column in columns))
            for index, item in enumerate(items)
        ]
        self.count = len(self.rows)
        self.fields = [frozenset(item) for item in items]
        for index, item in enumerate(items):
            for name in item:
                if name not in self.columns:
                    self.error(index, name, "unknown field")

    def sent(self, number: int, name: str) -> bool:
        return name in self.positions and (not self.partial or name in self.fields[number])


def open_table(
    source: Path | Items,
    columns: tuple[Column, ...],
    *,
    sheet: str | None = None,
    strict: bool = False,
    partial: bool = False,
    stream: bool = False,
) -> Table:
    """A file's sheet (`Table.read`, or with `stream` a `StreamedTable`; raises
    `ImportFileError` when unreadable) or the API's items (always strict: an unknown field is
    an error, as a client's typo must not pass)."""
    if isinstance(source, Path) and stream:
        opened = open_sheet(source, sheet=sheet, fits=header_fits(columns))
        return StreamedTable(opened, columns, strict=strict)
    if isinstance(source, Path):
        return Table.read(source, columns, sheet=sheet, strict=strict)
    return ItemTable(source, columns, partial=partial)
