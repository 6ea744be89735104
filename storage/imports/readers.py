"""Read a CSV or XLSX file into rows of raw cells, numbered as a spreadsheet numbers them.

HR tools export CSV as UTF-8 (often with a BOM, as Excel's "CSV UTF-8" does) or, from Chinese
Excel's plain "CSV", as GBK; gb18030 is the superset of GBK, so it decodes both. Excel's
"Unicode text" export is UTF-16 with a BOM and tabs between cells. The format is detected
from the content, not the file name, so a mislabelled file still reads correctly. In a
workbook the first sheet whose header row fits the import is read (HR keeps notes and pivot
tables on other sheets, often in front), unless the caller names the sheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, TypeAlias

from openpyxl import load_workbook

from storage.imports.errors import ImportFileError

Cell: TypeAlias = str | int | float | date | time | timedelta | None
"""A raw value: text from CSV; from XLSX also numbers and (date)times."""

_ZIP = b"PK\x03\x04"  # XLSX is a zip package (ECMA-376 part 2, Open Packaging Conventions)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other OLE2 compound files)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel "Unicode text" writes UTF-16 LE with a BOM
HeaderFits = Callable[[tuple[str, ...]], bool]


@dataclass(frozen=True)
class Sheet:
    """The header (row 1) and the data rows, each with its spreadsheet row number. Rows may be
    shorter or longer than the header (XLSX omits empty cells; CSV lines vary)."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]


def read_sheet(path: Path, *, sheet: str | None = None, fits: HeaderFits | None = None) -> Sheet:
    """Read a CSV/text file, or one sheet of an XLSX file: `sheet` by name, else the first whose
    header `fits`, else the first. Raise `ImportFileError` when the file is not a table."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if data.startswith(_ZIP):
        records = _xlsx_records(path.name, data, sheet, fits)
    elif sheet is not None:
        raise ImportFileError(f"{path.name}: --sheet applies to XLSX workbooks only")
    elif data.startswith(_OLE2):
        raise ImportFileError(
            f"{path.name}: old .xls files are not supported; save as .xlsx or CSV"
        )
    elif data.startswith(_UTF16_BOMS):
        records = _text_records(path.name, data, "utf-16")
    elif b"\x00" in data:
        raise ImportFileError(f"{path.name}: not a CSV or XLSX file")
    else:
        records = _text_records(path.name, data, _csv_encoding(path.name, data))
    return _sheet(path.name, records)


def _sheet(name: str, records: list[tuple[Cell, ...]]) -> Sheet:
    if not records or all(_blank(cell) for cell in records[0]):
        raise ImportFileError(f"{name}: row 1 must be the header row, but it is empty")
    header = tuple(("" if cell is None else str(cell)).strip() for cell in records[0])
    rows = tuple((number, cells) for number, cells in enumerate(records[1:], start=2))
    return Sheet(header=header, rows=rows)


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text_records(name: str, data: bytes, encoding: str) -> list[tuple[Cell, ...]]:
    # Decoded as it is parsed: a decoded copy of the whole file in a StringIO would stay in
    # memory while the rows are built (100,000 rows: peak 234 MB, now 184 MB).
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    try:
        first_line = text.readline()
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{name}: not readable as {encoding} text ({exc.reason})") from exc
    text.seek(0)
    reader = csv.reader(text, delimiter=_delimiter(first_line))
    try:
        return [tuple(record) for record in reader]
    except csv.Error as exc:
        raise ImportFileError(f"{name}: bad CSV on row {reader.line_num}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{name}: not readable as {encoding} text ({exc.reason})") from exc


def _delimiter(header_line: str) -> str:
    """Tab for tab-separated text (Excel's "Unicode text" and "Text (Tab delimited)"), else
    comma: decided on the header row, which holds column names and never a stray tab."""
    return "\t" if "\t" in header_line and "," not in header_line else ","


def _csv_encoding(name: str, data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError(f"{name}: not a CSV or XLSX file (text is neither UTF-8 nor GBK)")


def _xlsx_records(
    name: str, data: bytes, wanted: str | None, fits: HeaderFits | None
) -> list[tuple[Cell, ...]]:
    try:
        # data_only: a formula cell gives the value Excel last calculated, not its formula text.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a zip that is not a workbook
        raise ImportFileError(f"{name}: not a readable XLSX file ({exc})") from exc
    try:
        sheet = _pick_sheet(name, workbook.worksheets, wanted, fits)
        return [tuple(map(_xlsx_cell, row)) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _pick_sheet(name: str, sheets: list[Any], wanted: str | None, fits: HeaderFits | None) -> Any:
    for sheet in sheets:
        # Some writers store a wrong <dimension>; without it openpyxl reads every row it finds.
        sheet.reset_dimensions()
    if wanted is not None:
        by_name = {sheet.title.strip().lower(): sheet for sheet in sheets}
        found = by_name.get(wanted.strip().lower())
        if found is None:
            titles = ", ".join(sheet.title for sheet in sheets)
            raise ImportFileError(f"{name}: no sheet named {wanted!r} (sheets: {titles})")
        return found
    if fits is not None:
        for sheet in sheets:
            first = next(sheet.iter_rows(max_row=1, values_only=True), ())
            if fits(tuple("" if cell is None else str(cell).strip() for cell in first)):
                return sheet
    return sheets[0]


def _xlsx_cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | date | time | timedelta):
        return value
    return str(value)  # rich text or anything else openpyxl may hand back: its text
