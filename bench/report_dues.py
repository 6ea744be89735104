"""`report_dues_100k` (xlsx) and `report_dues_csv_100k`: one period's dues report, 100,000 people.

Coverwatch: what `coverwatch report dues` runs — `bot.reports.dues.dues_sheets` streaming the
ledger (with names, scheme names in the locale, SQL subtotals) into `write_xlsx` (openpyxl
write-only) or `stream_csv`. Baseline, the limit: the same cells, fetched with one SQL query
and turned into rows (Decimals, subtotal rows) before the clock starts, then written with
openpyxl's write-only mode (the same number formats and bold) or `csv.writer`. The CSV files
must be byte for byte equal, the workbooks have the same number of rows.
The CSV ratio is against a third side, the query baseline (`query_baseline_side`: the same
query in the clock, streamed from the driver, integer cents written as text, no Decimal, no
guard), since a baseline that starts from rows in memory leaves out the read every report
does; the writer-only side's figures are kept in the checks (docs/PERFORMANCE.md).
Goal: <= 1.5x the baseline, peak RSS <= 200 MB.
"""

from __future__ import annotations

import csv
import hashlib
import os
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.data import DUES_PERIOD, NOW, seed_company
from bench.harness import (
    BenchError,
    Context,
    Outcome,
    Side,
    Stopwatch,
    cpu_checks,
    run_queue_seconds,
    run_side,
    server_process,
    time_outcome,
)
from bench.rawdb import Raw
from core.locales import DEFAULT_LOCALE

FULL_ROWS = 100_000
RATIO_GOAL = 1.5
RSS_GOAL_MB = 200.0
LOCALE = DEFAULT_LOCALE
_MEASURED = ("server_cpu_seconds", "run_queue_seconds")
"""What `coverwatch_side` measured beside its output: the backend's CPU, its own wait for a core."""
_LINES_SQL = """
SELECT l.account_id, l.employee_id, e.name, e.department, l.scheme, l.base, l.employer, l.employee
FROM ledger_line AS l JOIN employee AS e ON e.employee_id = l.employee_id
WHERE l.period = ? ORDER BY l.account_id, l.employee_id, l.id
"""


def company_with_dues(ctx: Context, count: int) -> str:
    """The template of the benchmark company (`company_<count>`) with its `DUES_PERIOD` ledger."""
    company = ctx.db.template(f"company_{count}", lambda engine: seed_company(engine, count))
    return ctx.db.template(f"dues_{count}", compute_dues, base=company)


def compute_dues(engine: Any) -> None:
    """The `DUES_PERIOD` ledger (`run_dues`) of the company in `engine`."""
    from sqlalchemy import text

    from core.policy_loader import load_policies
    from storage.accounts import account_policies
    from storage.db import session_scope
    from storage.ledger import run_dues

    with session_scope(engine) as session:
        run_dues(session, DUES_PERIOD, account_policies(session, load_policies()), now=NOW)
    if engine.dialect.name == "postgresql":
        # Statistics, as autovacuum gives a live database within a minute of a bulk write. The
        # benchmark server runs with `autovacuum = off` and a copy starts with its template's
        # statistics: unanalyzed, the 1M report was planned from default estimates (3,461
        # lines for 3.5M), a nested loop of 3.5M index probes (docs/PERFORMANCE.md, session 6).
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def _summary(path: Path, fmt: str) -> dict[str, Any]:
    if fmt == "csv":
        # A block at a time: a million-employee report is ~350 MB, which read whole would be
        # the side's peak RSS.
        digest, lines = hashlib.sha256(), 0
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
                lines += block.count(b"\n")
        return {"rows": lines, "sha256": digest.hexdigest()}
    # Write-only workbooks carry no <dimension>: count the <row> elements of each sheet.
    with zipfile.ZipFile(path) as package:
        names = sorted(n for n in package.namelist() if n.startswith("xl/worksheets/sheet"))
        rows: list[int] = []
        for name in names:
            count, tail = 0, b""
            with package.open(name) as sheet:
                while chunk := sheet.read(1 << 20):
                    count += (tail + chunk).count(b"<row ")
                    tail = chunk[-4:]
            rows.append(count)
    return {"rows": rows}


def coverwatch_side(url: str, out: str, fmt: str) -> dict[str, Any]:
    from bench.chat_http import cpu_seconds
    from bot.reports.dues import dues_sheets
    from bot.reports.sheets import stream_csv, write_xlsx
    from core.policy_loader import load_policies
    from storage.accounts import account_policies
    from storage.db import make_engine, session_scope

    engine = make_engine(url)
    policies = load_policies()
    clock = Stopwatch()
    waited = run_queue_seconds(os.getpid())
    with session_scope(engine) as session:
        server = server_process(session)
        server_cpu = cpu_seconds(server) if server else 0.0
        sheets = dues_sheets(session, DUES_PERIOD, account_policies(session, policies), LOCALE)
        if fmt == "xlsx":
            write_xlsx(sheets, Path(out))
        else:
            stream_csv(sheets[:1], Path(out))
        # Read before the commit: the backend is still this session's.
        server_cpu = cpu_seconds(server) - server_cpu if server else 0.0
    seconds, cpu = clock.stop()
    waited = run_queue_seconds(os.getpid()) - waited
    engine.dispose()
    side = {"seconds": seconds, "cpu_seconds": cpu, **_summary(Path(out), fmt)}
    side["run_queue_seconds"] = round(waited, 2)
    if server:
        # The PostgreSQL backend's share (the join, the sort, the cursor's fetches), which the
        # side's own CPU leaves out (Stopwatch).
        side["server_cpu_seconds"] = round(server_cpu, 2)
    return side


def _output(side: Side) -> dict[str, Any]:
    """What a side wrote (rows, digest), without what it measured."""
    return {k: v for k, v in side.extra.items() if k not in _MEASURED}


def _rows(raw: Raw) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Headers, ledger rows with subtotals (as the report shows them) and the accounts sheet."""
    from bot.reports.dues import LEDGER_COLUMNS, columns, scheme_name
    from handlers.i18n import translate

    label, subtotal = translate(LOCALE, "report.line"), translate(LOCALE, "report.subtotal")
    currency = dict(raw.fetchall("SELECT id, currency FROM account"))
    rows: list[tuple[Any, ...]] = []
    sums: dict[str, list[Decimal]] = {}
    schemes: dict[str, str] = {}
    current = None

    def close(account: str) -> None:
        employer, employee = sums[account]
        blanks = (None,) * 5
        rows.append(
            (subtotal, account, currency[account], *blanks, employer, employee, employer + employee)
        )

    for account, employee_id, name, department, scheme, *cents in raw.fetchall(
        _LINES_SQL, (str(DUES_PERIOD),)
    ):
        if account != current:
            if current is not None:
                close(current)
            current = account
            sums[account] = [Decimal("0.00"), Decimal("0.00")]
        base, employer, employee = (Decimal(c) / 100 for c in cents)
        sums[account][0] += employer
        sums[account][1] += employee
        shown = schemes.setdefault(scheme, scheme_name(LOCALE, scheme))
        rows.append(
            (
                label,
                account,
                currency[account],
                employee_id,
                name,
                department,
                shown,
                base,
                employer,
                employee,
                employer + employee,
            )
        )
    if current is not None:
        close(current)
    accounts = [
        (
            account_id,
            account_id,
            cur,
            due,
            count,
            Decimal(er) / 100,
            Decimal(ee) / 100,
            Decimal(total) / 100,
        )
        for account_id, cur, due, count, er, ee, total in raw.fetchall(
            "SELECT account_id, currency, due_date, employees, employer_total, employee_total,"
            " total FROM account_due WHERE period = ? ORDER BY account_id",
            (str(DUES_PERIOD),),
        )
    ]
    headers = [column.header for column in columns(LOCALE, LEDGER_COLUMNS)]
    return headers, rows, accounts


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def baseline_side(url: str, out: str, fmt: str) -> dict[str, Any]:
    raw = Raw(url)
    headers, rows, accounts = _rows(raw)
    raw.close()
    clock = Stopwatch()
    if fmt == "csv":
        with Path(out).open("w", encoding="utf-8", newline="") as handle:
            handle.write("\ufeff")  # as `query_baseline_side` (why there)
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(headers)
            for row in rows:
                writer.writerow([*("" if v is None else v for v in row[:7]), *map(_money, row[7:])])
    else:
        _write_workbook(Path(out), headers, rows, accounts)
    seconds, cpu = clock.stop()
    return {"seconds": seconds, "cpu_seconds": cpu, **_summary(Path(out), fmt)}


def query_baseline_side(url: str, out: str) -> dict[str, Any]:
    """The CSV report's limit with the read in the clock, as any report must do it: the same
    query streamed from the driver, amounts written from integer cents, account subtotals
    summed on the way, `csv.writer` — no formula guard, no Decimal, no SQLAlchemy."""
    from bot.reports.dues import LEDGER_COLUMNS, columns, scheme_name
    from core.money import format_cents
    from handlers.i18n import translate

    raw = Raw(url)
    label, subtotal = translate(LOCALE, "report.line"), translate(LOCALE, "report.subtotal")
    headers = [column.header for column in columns(LOCALE, LEDGER_COLUMNS)]
    currency = dict(raw.fetchall("SELECT id, currency FROM account"))
    schemes: dict[str, str] = {}
    clock = Stopwatch()
    # The BOM as a character into a plain UTF-8 file, as `stream_csv` writes it: the
    # `utf-8-sig` codec encodes every row in Python, a cost the limit does not pay.
    with Path(out).open("w", encoding="utf-8", newline="") as handle:
        handle.write("\ufeff")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(headers)
        current, sums = None, [0, 0]
        blanks = ("",) * 5

        def close(account: str) -> None:
            amounts = (*sums, sums[0] + sums[1])
            row = (subtotal, account, currency[account], *blanks, *map(format_cents, amounts))
            writer.writerow(row)

        for account, employee_id, name, department, scheme, base, employer, employee in raw.stream(
            _LINES_SQL, (str(DUES_PERIOD),)
        ):
            if account != current:
                if current is not None:
                    close(current)
                current, sums = account, [0, 0]
            sums[0] += employer
            sums[1] += employee
            shown = schemes.get(scheme) or schemes.setdefault(scheme, scheme_name(LOCALE, scheme))
            writer.writerow(
                (
                    label,
                    account,
                    currency[account],
                    employee_id,
                    name,
                    department,
                    shown,
                    format_cents(base),
                    format_cents(employer),
                    format_cents(employee),
                    format_cents(employer + employee),
                )
            )
        if current is not None:
            close(current)
    seconds, cpu = clock.stop()
    raw.close()
    return {"seconds": seconds, "cpu_seconds": cpu, **_summary(Path(out), "csv")}


def _write_workbook(
    path: Path, headers: list[str], rows: list[tuple[Any, ...]], accounts: list[tuple[Any, ...]]
) -> None:
    """openpyxl write-only: bold header, money cells with their currency's format, subtotals
    in bold, frozen header — the cells coverwatch writes, with no per-row logic but styling."""
    from openpyxl import Workbook

    from bot.reports.dues import ACCOUNT_COLUMNS, columns

    book = Workbook(write_only=True)
    _write_sheet(book, "ledger", headers, rows, money_from=7)
    account_headers = [column.header for column in columns(LOCALE, ACCOUNT_COLUMNS)]
    _write_sheet(book, "accounts", account_headers, accounts, money_from=5)
    book.save(path)


def _write_sheet(
    book: Any, title: str, headers: list[str], rows: list[tuple[Any, ...]], money_from: int
) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    ws = book.create_sheet(title)
    ws.freeze_panes = "A2"
    styled: dict[tuple[int, str, bool], Any] = {}

    def cell(index: int, value: Any, fmt: str, bold: bool) -> Any:
        if not fmt and not bold:
            return value
        prototype = styled.get((index, fmt, bold))
        if prototype is None:
            prototype = styled[index, fmt, bold] = WriteOnlyCell(ws)
            if bold:
                prototype.font = Font(bold=True)
            if fmt:
                prototype.number_format = fmt
        prototype.value = value
        return prototype

    ws.append([cell(i, header, "", True) for i, header in enumerate(headers)])
    for row in rows:
        bold = money_from == 7 and row[3] is None  # a ledger subtotal row
        money = f'#,##0.00 "{row[2]}"'
        ws.append(
            [
                cell(i, v, money if i >= money_from and v is not None else "", bold)
                for i, v in enumerate(row)
            ]
        )


def _run(ctx: Context, fmt: str, name: str) -> Outcome:
    count = ctx.rows(FULL_ROWS)
    template = company_with_dues(ctx, count)
    out = ctx.workdir / f"report_{count}"
    coverwatch = run_side(
        "bench.report_dues:coverwatch_side",
        url=ctx.db.copy(template, "report_cw"),
        out=f"{out}_cw.{fmt}",
        fmt=fmt,
    )
    baseline = run_side(
        "bench.report_dues:baseline_side",
        url=ctx.db.copy(template, "report_base"),
        out=f"{out}_base.{fmt}",
        fmt=fmt,
    )
    if _output(coverwatch) != baseline.extra:
        raise BenchError(f"reports differ: {_output(coverwatch)} vs {baseline.extra}")
    checks: dict[str, Any] = {"report_rows": coverwatch.extra["rows"], "same_output": True}
    if fmt == "csv":
        # The ratio is against the query baseline: the rows built before the clock leave out
        # the read that every report does. The writer-only figures stay in the checks.
        query = run_side(
            "bench.report_dues:query_baseline_side",
            url=ctx.db.copy(template, "report_query"),
            out=f"{out}_query.{fmt}",
        )
        if query.extra != _output(coverwatch):
            raise BenchError(f"reports differ: {_output(coverwatch)} vs {query.extra}")
        checks |= {
            "writer_only_baseline": f"{baseline.seconds:.2f} s / {baseline.peak_rss_mb:.0f} MB",
            "ratio_vs_writer_only": round(coverwatch.seconds / baseline.seconds, 2),
            **{f"writer_only_{k}": v for k, v in cpu_checks(coverwatch, baseline).items()},
        }
        baseline = query
    return time_outcome(
        ctx,
        name,
        rows=count,
        ratio_goal=RATIO_GOAL,
        rss_goal_mb=RSS_GOAL_MB,
        coverwatch=coverwatch,
        baseline=baseline,
        checks=checks,
    )


def run(ctx: Context) -> Outcome:
    return _run(ctx, "xlsx", "report_dues_100k")


def run_csv(ctx: Context) -> Outcome:
    return _run(ctx, "csv", "report_dues_csv_100k")
