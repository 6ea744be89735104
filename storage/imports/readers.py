"""Read a CSV or XLSX file into rows of raw cells, numbered as a spreadsheet numbers them.

HR tools export CSV as UTF-8 (often with a BOM, as Excel's "CSV UTF-8" does) or, from Chinese
Excel's plain "CSV", as GBK; gb18030 is the superset of GBK, so it decodes both. Excel's
"Unicode text" export is UTF-16 with a BOM and tabs between cells. The format is detected
from the content, not the file name, so a mislabelled file still reads correctly. In a
workbook the first sheet whose header row fits the import is read (HR keeps notes and pivot
tables on other sheets, often in front), unless the caller names the sheet.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, TypeAlias

from storage.imports.errors import ImportFileError

Cell: TypeAlias = str | int | float | date | time | timedelta | None
"""A raw value: text from CSV; from XLSX also numbers and (date)times."""
Record: TypeAlias = tuple[Cell, ...]

_ZIP = b"PK\x03\x04"  # XLSX is a zip package (ECMA-376 part 2, Open Packaging Conventions)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other OLE2 compound files)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel "Unicode text" writes UTF-16 LE with a BOM
_BLOCK = 1 << 20
HeaderFits = Callable[[tuple[str, ...]], bool]


@dataclass(frozen=True)
class Sheet:
    """The header (row 1) and the data rows, each with its spreadsheet row number. Rows may be
    shorter or longer than the header (XLSX omits empty cells; CSV lines vary)."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]


@dataclass(frozen=True)
class SheetFile:
    """A table file read as a stream: the header at once, the data rows each time `rows()` is
    iterated (the file is read again), so an importer can pass over a million rows twice
    without holding them. A file that turns out unreadable further down raises
    `ImportFileError` from the iteration."""

    name: str
    header: tuple[str, ...]
    records: Callable[[], Iterator[Record]]

    def rows(self) -> Iterator[tuple[int, Record]]:
        records = self.records()
        next(records, None)  # the header
        return enumerate(records, start=2)


def read_sheet(path: Path, *, sheet: str | None = None, fits: HeaderFits | None = None) -> Sheet:
    """`open_sheet`, every row read into memory."""
    opened = open_sheet(path, sheet=sheet, fits=fits)
    return Sheet(header=opened.header, rows=tuple(opened.rows()))


def open_sheet(
    path: Path, *, sheet: str | None = None, fits: HeaderFits | None = None
) -> SheetFile:
    """Open a CSV/text file, or one sheet of an XLSX file: `sheet` by name, else the first whose
    header `fits`, else the first. Raise `ImportFileError` when the file is not a table."""
    try:
        with path.open("rb") as handle:
            start = handle.read(len(_OLE2))
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if start.startswith(_ZIP):
        wanted = _pick_sheet_title(path, sheet, fits)
        records: Callable[[], Iterator[Record]] = lambda: _xlsx_records(path, wanted)  # noqa: E731
    elif sheet is not None:
        raise ImportFileError(f"{path.name}: --sheet applies to XLSX workbooks only")
    elif start.startswith(_OLE2):
        raise ImportFileError(
            f"{path.name}: old .xls files are not supported; save as .xlsx or CSV"
        )
    elif start.startswith(_UTF16_BOMS):
        records = _text_source(path, "utf-16")
    else:
        records = _text_source(path, _csv_encoding(path))
    header = next(records(), None)
    if header is None or all(_blank(cell) for cell in header):
        raise ImportFileError(f"{path.name}: row 1 must be the header row, but it is empty")
    names = tuple(("" if cell is None else str(cell)).strip() for cell in header)
    return SheetFile(name=path.name, header=names, records=records)


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text_source(path: Path, encoding: str) -> Callable[[], Iterator[Record]]:
    def records() -> Iterator[Record]:
        # Decoded as it is parsed, a line at a time: neither the file nor its rows are held.
        with path.open(encoding=encoding, newline="") as text:
            try:
                first_line = text.readline()
            except UnicodeDecodeError as exc:
                raise _undecodable(path, encoding, exc) from exc
            text.seek(0)
            reader = csv.reader(text, delimiter=_delimiter(first_line))
            try:
                yield from map(tuple, reader)
            except csv.Error as exc:
                raise ImportFileError(
                    f"{path.name}: bad CSV on row {reader.line_num}: {exc}"
                ) from exc
            except UnicodeDecodeError as exc:
                raise _undecodable(path, encoding, exc) from exc

    return records


def _undecodable(path: Path, encoding: str, exc: UnicodeDecodeError) -> ImportFileError:
    return ImportFileError(f"{path.name}: not readable as {encoding} text ({exc.reason})")


def _delimiter(header_line: str) -> str:
    """Tab for tab-separated text (Excel's "Unicode text" and "Text (Tab delimited)"), else
    comma: decided on the header row, which holds column names and never a stray tab."""
    return "\t" if "\t" in header_line and "," not in header_line else ","


def _csv_encoding(path: Path) -> str:
    """UTF-8 (BOM or not) when the whole file decodes as such, else GB18030, checked a block at
    a time; a NUL byte anywhere means the file is no text at all."""
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    is_utf8 = True
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if b"\x00" in block:
                raise ImportFileError(f"{path.name}: not a CSV or XLSX file")
            if is_utf8:
                is_utf8 = _decodes(utf8, block)
    if is_utf8 and _decodes(utf8, b"", final=True):
        return "utf-8-sig"
    gbk = codecs.getincrementaldecoder("gb18030")()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if not _decodes(gbk, block):
                break
        else:
            if _decodes(gbk, b"", final=True):
                return "gb18030"
    raise ImportFileError(f"{path.name}: not a CSV or XLSX file (text is neither UTF-8 nor GBK)")


def _decodes(decoder: codecs.IncrementalDecoder, block: bytes, *, final: bool = False) -> bool:
    try:
        decoder.decode(block, final=final)
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def _workbook(path: Path) -> Iterator[Any]:
    """The workbook, read-only (rows parsed as they are iterated). Opened from a file object:
    given a path, openpyxl refuses a name that does not end in .xlsx. Imported here: every
    CLI start reaches this module, few read a workbook (openpyxl is ~0.2 s of start-up)."""
    from openpyxl import load_workbook

    with path.open("rb") as handle:
        try:
            # data_only: a formula cell gives the value Excel last calculated, not its formula.
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a zip that is no workbook
            raise ImportFileError(f"{path.name}: not a readable XLSX file ({exc})") from exc
        try:
            yield workbook
        finally:
            workbook.close()


def _pick_sheet_title(path: Path, wanted: str | None, fits: HeaderFits | None) -> str:
    with _workbook(path) as workbook:
        return str(_pick_sheet(path.name, workbook.worksheets, wanted, fits).title)


def _xlsx_records(path: Path, title: str) -> Iterator[Record]:
    with _workbook(path) as workbook:
        sheet = workbook[title]
        # Some writers store a wrong <dimension>; without it openpyxl reads every row it finds.
        sheet.reset_dimensions()
        for row in sheet.iter_rows(values_only=True):
            yield tuple(map(_xlsx_cell, row))


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
