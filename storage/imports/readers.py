"""Read a CSV or XLSX file into rows of raw cells, numbered as a spreadsheet numbers them.

HR tools export CSV as UTF-8 (often with a BOM, as Excel's "CSV UTF-8" does) or, from Chinese
Excel's plain "CSV", as GBK; gb18030 is the superset of GBK, so it decodes both. The format
is detected from the content, not the file name, so a mislabelled file still reads correctly.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import TypeAlias

from openpyxl import load_workbook

from storage.imports.errors import ImportFileError

Cell: TypeAlias = str | int | float | date | time | timedelta | None
"""A raw value: text from CSV; from XLSX also numbers and (date)times."""

_ZIP = b"PK\x03\x04"  # XLSX is a zip package (ECMA-376 part 2, Open Packaging Conventions)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other OLE2 compound files)


@dataclass(frozen=True)
class Sheet:
    """The header (row 1) and the data rows, each with its spreadsheet row number. Rows may be
    shorter or longer than the header (XLSX omits empty cells; CSV lines vary)."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]


def read_sheet(path: Path) -> Sheet:
    """Read the first sheet of an XLSX file or a CSV file; raise `ImportFileError` if neither."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if data.startswith(_ZIP):
        records = _xlsx_records(path.name, data)
    elif data.startswith(_OLE2):
        raise ImportFileError(
            f"{path.name}: old .xls files are not supported; save as .xlsx or CSV"
        )
    elif b"\x00" in data:
        raise ImportFileError(f"{path.name}: not a CSV or XLSX file")
    else:
        records = _csv_records(path.name, data)
    return _sheet(path.name, records)


def _sheet(name: str, records: list[tuple[Cell, ...]]) -> Sheet:
    if not records or all(_blank(cell) for cell in records[0]):
        raise ImportFileError(f"{name}: row 1 must be the header row, but it is empty")
    header = tuple(("" if cell is None else str(cell)).strip() for cell in records[0])
    rows = tuple((number, cells) for number, cells in enumerate(records[1:], start=2))
    return Sheet(header=header, rows=rows)


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _csv_records(name: str, data: bytes) -> list[tuple[Cell, ...]]:
    encoding = _csv_encoding(name, data)
    # Decoded as it is parsed: a decoded copy of the whole file in a StringIO would stay in
    # memory while the rows are built (100,000 rows: peak 234 MB, now 184 MB).
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=""))
    try:
        return [tuple(record) for record in reader]
    except csv.Error as exc:
        raise ImportFileError(f"{name}: bad CSV on row {reader.line_num}: {exc}") from exc


def _csv_encoding(name: str, data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError(f"{name}: not a CSV or XLSX file (text is neither UTF-8 nor GBK)")


def _xlsx_records(name: str, data: bytes) -> list[tuple[Cell, ...]]:
    try:
        # data_only: a formula cell gives the value Excel last calculated, not its formula text.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a zip that is not a workbook
        raise ImportFileError(f"{name}: not a readable XLSX file ({exc})") from exc
    try:
        sheet = workbook.worksheets[0]
        # Some writers store a wrong <dimension>; without it openpyxl reads every row it finds.
        sheet.reset_dimensions()
        return [tuple(map(_xlsx_cell, row)) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _xlsx_cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | date | time | timedelta):
        return value
    return str(value)  # rich text or anything else openpyxl may hand back: its text
