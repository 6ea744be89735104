"""Tables written three ways: a text table for the terminal, CSV, and an xlsx workbook.

A report is a list of `Sheet`s whose columns know their kind, so each writer formats a cell
the way its reader expects: CSV gets plain machine-readable values (rates as fractions
"0.9500", amounts "1234.50"), the terminal gets "95.0%", and the workbook gets real numbers
with percent and currency number formats, frozen headers and sensible column widths.
A CSV file starts with a UTF-8 BOM: without it Excel on Chinese Windows reads the file as
GBK and garbles every Chinese header and name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.money import format_amount


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    RATIO = "ratio"
    """A Decimal fraction 0..1, shown as a percentage."""
    MONEY = "money"
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
    if kind is Kind.MINUTES and isinstance(value, Decimal):
        return f"{value:.1f}"
    return str(value)


def _shown(value: Cell, kind: Kind) -> str:
    if value is None:
        return "-"
    if kind is Kind.RATIO and isinstance(value, Decimal):
        return f"{(value * 100).quantize(Decimal('0.1'))}%"
    return _plain(value, kind)


def write_csv(sheets: Sequence[Sheet], view_header: str = "view") -> str:
    """One CSV; several sheets with the same columns get a leading column naming the sheet."""
    headers = [column.header for column in sheets[0].columns]
    several = len(sheets) > 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([view_header, *headers] if several else headers)
    for sheet in sheets:
        if [column.header for column in sheet.columns] != headers:
            raise ValueError(f"sheet {sheet.name} has other columns than {sheets[0].name}")
        for row in sheet.rows:
            cells = [_plain(v, c.kind) for v, c in zip(row, sheet.columns, strict=True)]
            writer.writerow([sheet.name, *cells] if several else cells)
    return out.getvalue()


def save_csv(text: str, path: Path) -> None:
    """CSV text from `write_csv` into a file, with the BOM Excel needs to see UTF-8."""
    path.write_text(text, encoding="utf-8-sig")


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


def write_xlsx(sheets: Sequence[Sheet], path: Path) -> None:
    """A workbook with one worksheet per sheet: typed cells, number formats, frozen header."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for sheet in sheets:
        ws = book.create_sheet(title=sheet.name[:31])  # Excel's limit on sheet names
        ws.append([column.header for column in sheet.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        currency_at = next((i for i, c in enumerate(sheet.columns) if c.holds_currency), None)
        for index, row in enumerate(sheet.rows):
            ws.append(list(row))
            for position, (value, column) in enumerate(zip(row, sheet.columns, strict=True)):
                cell = ws.cell(row=index + 2, column=position + 1)
                if index in sheet.emphasis:
                    cell.font = Font(bold=True)
                if value is None or column.kind is Kind.TEXT:
                    continue
                if column.kind is Kind.MONEY:
                    row_currency = row[currency_at] if currency_at is not None else None
                    cell.number_format = _money_format(column.currency or str(row_currency or ""))
                else:
                    cell.number_format = XLSX_FORMATS[column.kind]
        ws.freeze_panes = "A2"
        for position, column in enumerate(sheet.columns, start=1):
            longest = max(
                [
                    len(column.header),
                    *(len(_shown(r[position - 1], column.kind)) for r in sheet.rows),
                ]
            )
            ws.column_dimensions[get_column_letter(position)].width = min(max(10, longest + 4), 40)
    book.save(path)
