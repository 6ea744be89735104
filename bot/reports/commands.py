"""The report commands: `coverwatch kpi` and `coverwatch report dues` (ARCHITECTURE.md §3).

`kpi --format` takes one of table, json, csv, xlsx, png; table, json and csv print to stdout
unless `--out` names a file, xlsx and png need `--out`. `report dues --format` may list several
formats (`xlsx,csv`): each is written to `--out` with that format's suffix; one format writes
`--out` as given. Without `--format` the suffix of `--out` decides (`kpi.xlsx` is a workbook),
and a `--format` that contradicts the suffix is refused rather than writing text into `.xlsx`.
Headers, sheet and scheme names follow `[bot] locale`; CSV files carry a UTF-8 BOM.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_common import CliError, options, progress_bar, record_cli_views, reported
from bot.reports.dues import NoDuesError, dues_sheets
from bot.reports.kpi import TREND_MONTHS, kpi_json, kpi_sheets
from bot.reports.sheets import save_csv, stream_csv, write_csv, write_table, write_xlsx
from core.periods import Period
from handlers.i18n import translate
from handlers.kpi_chart import chart_png
from handlers.kpi_view import CHART_MONTHS
from storage.accounts import account_policies
from storage.db import create_private, session_scope
from storage.kpi_report import gather
from storage.queries_ledger import ledger_employees

report_app = typer.Typer(help="Spreadsheets for finance and HR.", rich_markup_mode=None)
KPI_FORMATS = ("table", "json", "csv", "xlsx", "png")
BINARY_FORMATS = frozenset({"xlsx", "png"})
DUES_FORMATS = ("xlsx", "csv")
SUFFIX_FORMATS = {".txt": "table", ".json": "json", ".csv": "csv", ".xlsx": "xlsx", ".png": "png"}

PeriodOption = Annotated[str, typer.Option("--period", help="YYYY-MM")]
OutOption = Annotated[Path | None, typer.Option("--out", help="File to write.")]


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise CliError(f"--period: {exc}") from None


def output_format(given: str | None, out: Path | None, allowed: tuple[str, ...]) -> str:
    """`--format`, or the one `--out`'s suffix names; refuse a pair that disagree."""
    by_suffix = SUFFIX_FORMATS.get(out.suffix.lower()) if out is not None else None
    if given is None:
        if out is not None and by_suffix not in allowed:
            raise CliError(
                f"--out {out}: cannot tell the format from the suffix; "
                f"add --format ({', '.join(allowed)})"
            )
        return by_suffix or allowed[0]
    if given not in allowed:
        raise CliError(f"--format: expected one of {', '.join(allowed)}, got {given!r}")
    if by_suffix is not None and by_suffix != given:
        raise CliError(f"--format {given} does not match --out {out}: use a .{given} file name")
    return given


def _check_out(out: Path | None) -> None:
    """Refuse an `--out` whose directory is missing before anything is computed or written."""
    if out is not None and not out.parent.is_dir():
        raise CliError(f"--out {out}: no such directory {out.parent}")
    if out is not None and out.is_dir():
        raise CliError(f"--out {out}: is a directory; name a file")


def _emit(text: str, out: Path | None, *, csv: bool = False) -> None:
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
    elif csv:
        save_csv(text, out)
    else:
        out.write_text(text, encoding="utf-8")


@reported
def kpi(
    ctx: typer.Context,
    period: PeriodOption,
    given: Annotated[
        str | None,
        typer.Option("--format", help="table, json, csv, xlsx or png (default: from --out)."),
    ] = None,
    out: OutOption = None,
) -> None:
    """KPI report per account and department, with the months before it for the trend."""
    month = _period(period)
    output = output_format(given, out, KPI_FORMATS)
    _check_out(out)
    if output in BINARY_FORMATS and out is None:
        raise CliError(f"--format {output} writes a file: add --out FILE")
    opts = options(ctx)
    settings = opts.settings()
    context = opts.app(settings)
    locale = settings.bot.locale
    with progress_bar(f"kpi {month}"), session_scope(context.engine) as session:
        report = gather(
            session,
            account_policies(session, context.policies),
            period=month,
            months=CHART_MONTHS if output == "png" else TREND_MONTHS + 1,
            as_of=context.now(),
            sla_minutes=settings.kpi.ack_sla_minutes,
            timezone=context.timezone,
        )
    if output == "json":
        _emit(json.dumps(kpi_json(report), ensure_ascii=False, indent=2) + "\n", out)
    elif output == "csv":
        _emit(
            write_csv(kpi_sheets(report, locale), translate(locale, "report.view")), out, csv=True
        )
    elif output == "table":
        _emit(write_table(kpi_sheets(report, locale)), out)
    elif output == "xlsx" and out is not None:
        write_xlsx(kpi_sheets(report, locale), out)
    elif out is not None:
        png = chart_png(
            report,
            department=None,
            locale=settings.bot.locale,
            targets=settings.kpi.thresholds,
        )
        out.write_bytes(png)
    if out is not None:
        typer.echo(f"kpi {month}: wrote {out}")


@report_app.command("dues")
@reported
def dues(
    ctx: typer.Context,
    period: PeriodOption,
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    output: Annotated[
        str | None, typer.Option("--format", help="xlsx, csv or both: xlsx,csv.")
    ] = None,
) -> None:
    """The contribution ledger per employee and scheme, with account subtotals."""
    month = _period(period)
    if output is not None and "," in output:
        formats = [f.strip() for f in output.split(",")]
        unknown = [f for f in formats if f not in DUES_FORMATS]
        if unknown or not all(formats):
            raise CliError(f"--format: expected xlsx, csv or xlsx,csv, got {output!r}")
    else:
        formats = [output_format(output, out, DUES_FORMATS)]
    _check_out(out)
    opts = options(ctx)
    settings = opts.settings()
    context = opts.app(settings)
    targets = {fmt: out if len(formats) == 1 else out.with_suffix(f".{fmt}") for fmt in formats}
    with session_scope(context.engine) as session:
        accounts = account_policies(session, context.policies)
        for fmt, target in targets.items():
            # The ledger streams from the database into the file, inside this session.
            with progress_bar(f"report dues {month} ({fmt})") as progress:
                try:
                    sheets = dues_sheets(
                        session,
                        month,
                        accounts,
                        settings.bot.locale,
                        progress,
                        names=settings.account_names(),
                    )
                except NoDuesError as exc:
                    raise CliError(str(exc)) from None
                create_private(target)  # every employee's base and contributions
                if fmt == "xlsx":
                    write_xlsx(sheets, target)
                else:
                    stream_csv(sheets[:1], target)
        record_cli_views(session, context, ledger_employees(session, month), f"report dues {month}")
    for target in targets.values():
        typer.echo(f"report dues {month}: wrote {target}")
