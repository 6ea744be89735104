"""`coverwatch import employees|payments|balances|salaries FILE [--dry-run]`: all or nothing.

Every bad row is printed as `row N, column C: reason` on stderr (one per line, as HR fixes
them in the spreadsheet), the exit code is 1 and the transaction is rolled back: nothing is
written. A clean file is committed in one transaction and summarised in one line.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.cells import cell_len
from sqlmodel import Session

from bot.app import import_targets
from bot.cli_common import CliError, fail, options, progress_bar, reported
from storage.imports import (
    ImportResult,
    import_balances,
    import_employees,
    import_payments,
    import_salaries,
)
from storage.imports import employees as employees_file
from storage.imports.table import Column, Progress

app = typer.Typer(
    help="Import employees, payments, balances or salaries from CSV or XLSX (all or nothing).",
    rich_markup_mode=None,
)

FileArg = Annotated[
    Path,
    typer.Argument(help="XLSX, or CSV/text (UTF-8, UTF-8 with BOM, GBK, UTF-16) file."),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate only; write nothing.")]
Strict = Annotated[
    bool, typer.Option("--strict", help="Refuse the file if it has a column we do not know.")
]
SheetName = Annotated[
    str | None,
    typer.Option(
        "--sheet", help="Workbook sheet to read (default: the first whose header row fits)."
    ),
]


class Importer(Protocol):
    def __call__(
        self,
        session: Session,
        source: Path,
        /,
        *,
        known_accounts: frozenset[str],
        currencies: dict[str, str],
        policies: dict[str, str],
        dry_run: bool,
        progress: Progress,
        sheet: str | None,
        strict: bool,
    ) -> ImportResult: ...


def columns_help(columns: tuple[Column, ...]) -> str:
    """The column list for `--help`: name, Chinese header, required or not (the file's doc is
    docs/employees-file.md; a clone has no other copy of the contract)."""
    lines = []
    for column in columns:
        aliases = " / ".join(column.aliases)
        padding = " " * max(1, 12 - cell_len(aliases))  # a Chinese character is two cells wide
        need = "required" if column.required else "optional"
        lines.append(f"  {column.name:<18} {aliases}{padding}{need}")
    return "\n".join(lines)


def _run(
    ctx: typer.Context,
    kind: str,
    importer: Importer,
    path: Path,
    *,
    dry_run: bool,
    sheet: str | None,
    strict: bool,
    dated: bool = False,
) -> None:
    """`dated`: the importer takes the clock's `today` (employees: the month a raise applies)."""
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    opts = options(ctx)
    settings = opts.settings()
    context = opts.app(settings)
    if dated:
        importer = functools.partial(importer, today=context.today())  # type: ignore[call-arg]
    targets = import_targets(settings, context)
    with Session(context.engine) as session, progress_bar(f"{kind} {path.name}") as progress:
        result = importer(
            session,
            path,
            known_accounts=targets.known_accounts,
            currencies=targets.currencies,
            policies=targets.policies,
            dry_run=dry_run,
            progress=progress,
            sheet=sheet,
            strict=strict,
        )
        for warning in result.warnings:
            typer.echo(f"warning: {path.name}: {warning}", err=True)
        if not result.ok:
            session.rollback()
            for error in result.errors:
                typer.echo(str(error), err=True)
            count = len(result.errors)
            problems = f"{count} problem{'s' if count > 1 else ''}"
            raise fail(f"{path}: {problems}, nothing imported")
        if not dry_run:
            session.commit()
    if dry_run:
        typer.echo(
            f"dry run, nothing written: {kind} {path}: {result.rows} rows valid, "
            f"would create {result.created}, update {result.updated}"
        )
    else:
        typer.echo(
            f"imported {kind} from {path}: {result.rows} rows, "
            f"{result.created} created, {result.updated} updated"
        )


EMPLOYEES_HELP = f"""Employees (upsert by employee_id). Header row first; Chinese headers work too.

\b
{columns_help(employees_file.COLUMNS)}

Blank optional cells empty that field; a column left out of the file keeps what is stored.
Unknown columns are ignored with a warning (--strict refuses them). Details and examples:
docs/employees-file.md.
"""


@app.command(help=EMPLOYEES_HELP)
@reported
def employees(
    ctx: typer.Context,
    file: FileArg,
    dry_run: DryRun = False,
    strict: Strict = False,
    sheet: SheetName = None,
) -> None:
    _run(
        ctx,
        "employees",
        import_employees,
        file,
        dry_run=dry_run,
        sheet=sheet,
        strict=strict,
        dated=True,
    )


@app.command()
@reported
def payments(
    ctx: typer.Context,
    file: FileArg,
    dry_run: DryRun = False,
    strict: Strict = False,
    sheet: SheetName = None,
) -> None:
    """Payments received: account, period, amount, paid_on."""
    _run(ctx, "payments", import_payments, file, dry_run=dry_run, sheet=sheet, strict=strict)


@app.command()
@reported
def balances(
    ctx: typer.Context,
    file: FileArg,
    dry_run: DryRun = False,
    strict: Strict = False,
    sheet: SheetName = None,
) -> None:
    """Account balance snapshots for the funding forecast: account, as_of, balance."""
    _run(ctx, "balances", import_balances, file, dry_run=dry_run, sheet=sheet, strict=strict)


@app.command()
@reported
def salaries(
    ctx: typer.Context,
    file: FileArg,
    dry_run: DryRun = False,
    strict: Strict = False,
    sheet: SheetName = None,
) -> None:
    """Base history: employee_id 工号, effective_from 生效月份 (YYYY-MM), salary 缴费基数."""
    _run(ctx, "salaries", import_salaries, file, dry_run=dry_run, sheet=sheet, strict=strict)
