"""Tables written three ways: a text table for the terminal, CSV, and an xlsx workbook.

A report is a list of sheets whose columns know their kind, so each writer formats a cell
the way its reader expects: CSV gets plain machine-readable values (rates as fractions
"0.9500", amounts "1234.50"), the terminal gets "95.0%", and the workbook gets real numbers
with percent and currency number formats, frozen headers and sensible column widths.
A CSV file starts with a UTF-8 BOM: without it Excel on Chinese Windows reads the file as
GBK and garbles every Chinese header and name.

Text that a spreadsheet would run as a formula (a name such as `=HYPERLINK(...)` or
`+cmd|' /C calc'!A0`) is written as text: CSV cells get a leading `'` and workbook cells are
typed as strings with Excel's quote prefix (OWASP, "CSV Injection":
https://owasp.org/www-community/attacks/CSV_Injection). Figures are never touched.

A `Sheet` holds its rows; a `StreamedSheet` produces them while a writer reads, and both
file writers write each row as it comes (openpyxl's write-only mode, the csv module), so a
report of a million lines is written in the memory of a few thousand.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO, TypeGuard

from core.money import CENT, format_amount, format_cents

if TYPE_CHECKING:  # openpyxl is imported where a workbook is written: ~0.2 s of every CLI start
    from openpyxl.cell.cell import Cell as XlsxCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    RATIO = "ratio"
    """A Decimal fraction 0..1, shown as a percentage."""
    MONEY = "money"
    CENTS = "cents"
    """Money as the integer cents the ledger stores: shown and written as MONEY is, but CSV
    formats it by integer arithmetic (`format_cents`) and no Decimal is made for text."""
    MINUTES = "minutes"


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    currency: str | None = None
    """MONEY only: the currency of every cell, or None to read it from the row's currency
    column (the one with `holds_currency`)."""
    holds_currency: bool = False


Cell = str | int | Decimal | None
Line = tuple[Sequence[Cell], bool]
"""A row's cells and whether it is set in bold (subtotals)."""
MIN_WIDTH, MAX_WIDTH = 10, 40


class Rows(Protocol):
    """A sheet as the writers read it: named columns, then its lines in order."""

    @property
    def name(self) -> str: ...
    @property
    def columns(self) -> Sequence[Column]: ...
    def lines(self) -> Iterable[Line]: ...
    def widths(self) -> Sequence[int]: ...


@dataclass
class Sheet:
    name: str
    columns: Sequence[Column]
    rows: list[Sequence[Cell]] = field(default_factory=list)
    emphasis: set[int] = field(default_factory=set)
    """Indexes of rows to set in bold (subtotals)."""

    def add(self, row: Sequence[Cell], *, bold: bool = False) -> None:
        if len(row) != len(self.columns):
            raise ValueError(f"{self.name}: {len(row)} cells for {len(self.columns)} columns")
        if bold:
            self.emphasis.add(len(self.rows))
        self.rows.append(row)

    def lines(self) -> Iterator[Line]:
        return ((row, index in self.emphasis) for index, row in enumerate(self.rows))

    def widths(self) -> list[int]:
        """Each column as wide as its longest shown cell (plus a margin), within limits."""
        return [
            _width(max([len(column.header), *(len(_shown(r[i], column.kind)) for r in self.rows)]))
            for i, column in enumerate(self.columns)
        ]


@dataclass(frozen=True)
class StreamedSheet:
    """A sheet whose lines come from `produce` as they are written (each writer calls it once).

    Its column widths are given up front: the longest cell is not known before the last.
    """

    name: str
    columns: Sequence[Column]
    produce: Callable[[], Iterable[Line]]
    width_hints: Sequence[int]

    def lines(self) -> Iterable[Line]:
        return self.produce()

    def widths(self) -> list[int]:
        return [_width(hint) for hint in self.width_hints]


def _width(longest: int) -> int:
    return min(max(MIN_WIDTH, longest + 4), MAX_WIDTH)


XLSX_FORMATS = {
    Kind.INT: "0",
    Kind.RATIO: "0.0%",
    Kind.MINUTES: "0.0",
}


def _plain(value: Cell, kind: Kind) -> str:
    if value is None:
        return ""
    if kind is Kind.RATIO and isinstance(value, Decimal):
        return f"{value:.4f}"
    if kind is Kind.MONEY and isinstance(value, Decimal):
        return format_amount(value)
    if kind is Kind.CENTS and isinstance(value, int):
        return format_cents(value)
    if kind is Kind.MINUTES and isinstance(value, Decimal):
        return f"{value:.1f}"
    return str(value)


def _shown(value: Cell, kind: Kind) -> str:
    if value is None:
        return "-"
    if kind is Kind.RATIO and isinstance(value, Decimal):
        return f"{(value * 100).quantize(Decimal('0.1'))}%"
    return _plain(value, kind)


_FORMATTED = frozenset({Kind.RATIO, Kind.MINUTES})
"""Figures CSV writes as `_plain` formats them (money is written apart, see `_write_csv`)."""
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula."""
_TRIGGER_CHARS = frozenset(FORMULA_TRIGGERS)


def is_formula_like(value: object) -> TypeGuard[str]:
    """A text cell a spreadsheet would evaluate rather than show."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def _csv_text(value: Cell) -> Cell:
    """A text cell as CSV must hold it: formula-like text quoted with a leading `'`, and a
    bare CR made a newline (the csv module quotes only the line terminator `\n`, so a lone CR
    would split the row for a reader)."""
    if not isinstance(value, str) or not value:
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value
    return f"'{text}" if value[0] in _TRIGGER_CHARS else text


def _write_csv(sheets: Sequence[Rows], target: TextIO, view_header: str) -> None:
    headers = [column.header for column in sheets[0].columns]
    several = len(sheets) > 1
    writer = csv.writer(target, lineterminator="\n")
    writer.writerow([view_header, *headers] if several else headers)
    for sheet in sheets:
        if [column.header for column in sheet.columns] != headers:
            raise ValueError(f"sheet {sheet.name} has other columns than {sheets[0].name}")
        # csv writes text, integers and an amount at cents (`str`, which is `format_amount`'s
        # text for it) as `_plain` would, None as "": only other figures are formatted here,
        # and text only when the formula guard changes it. Per cell this loop is most of a
        # big report's cost, so the common cells cost one test each.
        amounts = [i for i, c in enumerate(sheet.columns) if c.kind is Kind.MONEY]
        cents = [i for i, c in enumerate(sheet.columns) if c.kind is Kind.CENTS]
        figures = [(i, c.kind) for i, c in enumerate(sheet.columns) if c.kind in _FORMATTED]
        texts = [i for i, c in enumerate(sheet.columns) if c.kind is Kind.TEXT]
        width = len(sheet.columns)
        for row, _bold in sheet.lines():
            if len(row) != width:
                raise ValueError(f"{sheet.name}: {len(row)} cells for {width} columns")
            cells = list(row)
            for index in texts:
                text = cells[index]
                if isinstance(text, str) and text and (text[0] in _TRIGGER_CHARS or "\r" in text):
                    cells[index] = _csv_text(text)
            for index in amounts:
                amount = cells[index]
                if isinstance(amount, Decimal) and not amount.same_quantum(CENT):
                    cells[index] = format_amount(amount)
            for index in cents:
                if isinstance(amount := cells[index], int):
                    cells[index] = format_cents(amount)
            for index, kind in figures:
                cells[index] = _plain(cells[index], kind)
            writer.writerow([sheet.name, *cells] if several else cells)


def write_csv(sheets: Sequence[Rows], view_header: str = "view") -> str:
    """One CSV; several sheets with the same columns get a leading column naming the sheet."""
    out = io.StringIO()
    _write_csv(sheets, out, view_header)
    return out.getvalue()


def save_csv(text: str, path: Path) -> None:
    """CSV text from `write_csv` into a file, with the BOM Excel needs to see UTF-8."""
    path.write_text(text, encoding="utf-8-sig")


def stream_csv(sheets: Sequence[Rows], path: Path, view_header: str = "view") -> None:
    """`write_csv` straight into a file (with the BOM), each row written as it comes.

    The BOM is written as a character into a plain UTF-8 file, the bytes `utf-8-sig` writes:
    that codec encodes each write in Python, a plain UTF-8 file in C (a write per row)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\ufeff")
        _write_csv(sheets, handle, view_header)


def write_table(sheets: Sequence[Sheet]) -> str:
    """Aligned text: text columns left, figures right, one block per sheet."""
    blocks = []
    for sheet in sheets:
        cells = [[column.header for column in sheet.columns]]
        cells += [
            [_shown(v, c.kind) for v, c in zip(row, sheet.columns, strict=True)]
            for row in sheet.rows
        ]
        widths = [max(len(line[i]) for line in cells) for i in range(len(sheet.columns))]
        lines = [sheet.name, "=" * len(sheet.name)]
        for line in cells:
            parts = [
                text.ljust(width) if column.kind is Kind.TEXT else text.rjust(width)
                for text, width, column in zip(line, widths, sheet.columns, strict=True)
            ]
            lines.append("  ".join(parts).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _money_format(currency: str | None) -> str:
    suffix = f' "{currency}"' if currency else ""
    return f"#,##0.00{suffix}"


def _number(value: Cell, kind: Kind) -> Cell:
    """A cell as the workbook holds it: integer cents as the amount they stand for."""
    if kind is Kind.CENTS and isinstance(value, int):
        return Decimal(value).scaleb(-2)
    return value


def write_xlsx(sheets: Sequence[Rows], path: Path) -> None:
    """A workbook with one worksheet per sheet: typed cells, number formats, frozen header.

    Write-only mode streams each row to the file as it is appended (inline strings, no cell
    objects kept); styled cells are a few prototypes per column, re-used row after row.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    for sheet in sheets:
        ws: WriteOnlyWorksheet = book.create_sheet(title=sheet.name[:31])  # Excel's limit
        for position, width in enumerate(sheet.widths(), start=1):
            # set by `Worksheet._setup`, which types-openpyxl leaves out of WriteOnlyWorksheet
            dimensions = ws.column_dimensions  # type: ignore[attr-defined]
            dimensions[get_column_letter(position)].width = width
        ws.freeze_panes = "A2"
        styles = _Styles(ws, sheet.columns)
        ws.append(
            [
                styles.cell(i, column.header, None, bold=True)
                for i, column in enumerate(sheet.columns)
            ]
        )
        for row, bold in sheet.lines():
            ws.append(styles.row(row, bold=bold))
    book.save(path)


_Plan = tuple[Kind, "XlsxCell | None", "XlsxCell | None"]
"""A column's kind, the prototype of its values and of its blanks (`_Styles._plan`)."""


class _Styles:
    """Styled cells of one worksheet: a prototype per (column, number format, bold).

    openpyxl writes an appended cell at once and starts afresh after a styled one
    (`WriteOnlyWorksheet._values_to_row`), so one prototype per column can carry every row's
    value; unstyled cells go as plain values. Which prototype each column takes depends only
    on the row's currency and boldness: that plan is made once per pair, not per cell.
    """

    def __init__(self, ws: WriteOnlyWorksheet, columns: Sequence[Column]) -> None:
        self.ws = ws
        self.columns = columns
        self.kinds = [column.kind for column in columns]
        self.currency_at = next((i for i, c in enumerate(columns) if c.holds_currency), None)
        self.prototypes: dict[tuple[int, str | None, bool], XlsxCell] = {}
        self.plans: dict[tuple[Cell, bool], list[_Plan]] = {}

    def row(self, row: Sequence[Cell], *, bold: bool) -> list[object]:
        if len(row) != len(self.kinds):
            raise ValueError(f"{self.ws.title}: {len(row)} cells for {len(self.kinds)} columns")
        currency = row[self.currency_at] if self.currency_at is not None else None
        plan = self.plans.get((currency, bold))
        if plan is None:
            plan = self.plans[currency, bold] = self._plan(currency, bold=bold)
        cells: list[object] = []
        for value, (kind, filled, empty) in zip(row, plan, strict=True):
            if value is None:
                if empty is not None:
                    empty.value = None
                cells.append(empty)
            elif kind is Kind.TEXT and is_formula_like(value):
                cells.append(self.text(value, bold=bold))
            elif filled is None:
                cells.append(value)
            else:
                filled.value = _number(value, kind)
                cells.append(filled)
        return cells

    def _plan(self, currency: Cell, *, bold: bool) -> list[_Plan]:
        """Per column: its kind, the prototype a value goes in (None: the bare value) and the
        one an empty cell takes (a bold blank in a subtotal row)."""
        plan = []
        for index, (column, kind) in enumerate(zip(self.columns, self.kinds, strict=True)):
            number_format = None
            if kind is Kind.MONEY or kind is Kind.CENTS:
                number_format = _money_format(column.currency or str(currency or ""))
            elif kind is not Kind.TEXT:
                number_format = XLSX_FORMATS[kind]
            filled = (
                self._prototype(index, number_format, bold=bold)
                if number_format is not None or bold
                else None
            )
            empty = self._prototype(index, None, bold=True) if bold else None
            plan.append((kind, filled, empty))
        return plan

    def text(self, value: str, *, bold: bool) -> XlsxCell:
        """A cell shown as the text it holds: a string with Excel's quote prefix, so neither
        opening the file nor editing the cell runs it as a formula."""
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        cell = WriteOnlyCell(self.ws, value=value)
        cell.data_type = "s"
        cell.quotePrefix = True
        if bold:
            cell.font = Font(bold=True)
        return cell

    def cell(self, index: int, value: Cell, number_format: str | None, *, bold: bool) -> object:
        if number_format is None and not bold:
            return value
        prototype = self._prototype(index, number_format, bold=bold)
        prototype.value = value
        return prototype

    def _prototype(self, index: int, number_format: str | None, *, bold: bool) -> XlsxCell:
        key = (index, number_format, bold)
        prototype = self.prototypes.get(key)
        if prototype is None:
            from openpyxl.cell import WriteOnlyCell
            from openpyxl.styles import Font

            prototype = self.prototypes[key] = WriteOnlyCell(self.ws)
            if bold:
                prototype.font = Font(bold=True)
            if number_format is not None:
                prototype.number_format = number_format
        return prototype
