"""`coverwatch [--config PATH] [--db URL] COMMAND` (ARCHITECTURE.md §3 "CLI").

Each command opens the app (`bot.app.open_app`), does one thing and prints either a short
human summary or, with `--json`, the contract's document (`bot.json_output`). Failures are one
line on stderr with a non-zero exit (`bot.cli_common.reported`), usage errors included.
The hidden `--today YYYY-MM-DD` freezes the clock at 10:00 that day (tests, reproducible demos).
"""

from __future__ import annotations

import logging
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from adapters.console import render
from bot import cli_db, cli_import, cli_policy, cli_security, cli_silence, cli_token
from bot.app import FIXED_TIME_OF_DAY
from bot.cli_audit import audit as audit_command
from bot.cli_backup import backup as backup_command
from bot.cli_common import (
    CliError,
    Options,
    cli_actor,
    options,
    parse_date,
    print_json,
    progress_bar,
    record_cli_views,
    reported,
)
from bot.cli_doctor import doctor as doctor_command
from bot.cli_sync import app as sync_app
from bot.config import log as config_log
from bot.json_output import alerts_json, dues_accounts_json, dues_json, reply_json
from bot.reports.commands import kpi as kpi_report_command
from bot.reports.commands import report_app
from bot.wiring import routing_from, rules_from
from core.periods import Period
from handlers.pipeline import handle
from handlers.types import Message
from storage.accounts import account_policies
from storage.alerts import visible_alerts
from storage.db import make_engine, schema_revision, session_scope, upgrade
from storage.employees import get_employee
from storage.ledger import run_dues, void_period
from storage.models import Alert
from storage.scan import scan_in

app = typer.Typer(
    name="coverwatch",
    help="Keep social insurance paid on time: imports, dues, alerts and chat.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(cli_import.app, name="import")
app.add_typer(cli_token.app, name="token")
app.add_typer(cli_db.app, name="db")
app.add_typer(cli_policy.app, name="policy")
app.add_typer(cli_security.app, name="security")
app.add_typer(cli_silence.app, name="silence")

Json = Annotated[bool, typer.Option("--json", help="Print the contract's JSON document.")]


@app.callback()
def _global(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default ./coverwatch.toml).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (overrides config).")] = None,
    today: Annotated[str | None, typer.Option("--today", hidden=True)] = None,
) -> None:
    ctx.obj = Options(config=config, db=db, today=parse_date(today, "--today") if today else None)


@app.command()
@reported
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database schema (Alembic upgrade head)."""
    settings = options(ctx).settings()
    engine = make_engine(settings.database.url)
    before = schema_revision(engine)
    upgrade(engine)
    after = schema_revision(engine)
    if before is None:
        typer.echo(f"created the database schema (revision {after})")
    elif before != after:
        typer.echo(f"upgraded the database schema from revision {before} to {after}")
    else:
        typer.echo(f"the database schema is current (revision {after})")


@app.command()
@reported
def dues(
    ctx: typer.Context,
    period: Annotated[str, typer.Option("--period", help="YYYY-MM")],
    as_json: Json = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a period later than next month.")
    ] = False,
    void: Annotated[
        bool, typer.Option("--void", help="Remove the period's ledger (nothing paid against it).")
    ] = False,
) -> None:
    """Compute and store a period's contributions: a re-run before the due date replaces them,
    after it the difference becomes an adjustment with its own due date."""
    try:
        month = Period.parse(period)
    except ValueError as exc:
        raise CliError(f"--period: {exc}") from None
    context = options(ctx).app()
    actor = cli_actor()
    if void:
        with session_scope(context.engine) as session:
            try:
                removed = void_period(session, month, now=context.now(), actor=actor, via="cli")
            except ValueError as exc:
                raise CliError(f"dues {month} --void: {exc}") from None
        typer.echo(f"dues {month}: ledger voided for {removed} account(s)")
        return
    latest = Period.of(context.today()).next()
    if month > latest and not force:
        raise CliError(
            f"dues {month}: a period later than next month ({latest}) is refused as a likely "
            "typo; add --force to compute it anyway"
        )
    with progress_bar(f"dues {month}") as progress, session_scope(context.engine) as session:
        accounts = account_policies(session, context.policies)
        try:
            run = run_dues(
                session,
                month,
                accounts,
                now=context.now(),
                today=context.today(),
                actor=actor,
                via="cli",
                progress=progress,
            )
        except ValueError as exc:  # no policy band for the period, a bad account override
            raise CliError(f"dues {month}: {exc}") from None
        # Every ledger line only for --json: the summary needs the account totals alone (a
        # 50,000-employee run held 600 MB building the per-employee part it did not print).
        if as_json:
            document = dues_json(session, month, accounts)
            employees = [row["employee_id"] for row in document["employees"]]
            record_cli_views(session, context, employees, f"dues --json {month}")
        else:
            summary = dues_accounts_json(session, month, accounts)
    if as_json:
        print_json(document)
        return
    typer.echo(f"dues {month}: {run.employees} employees")
    any_rules = any_calendar = False
    for row in summary:
        # `provisional` joins two reasons; the text marks each figure by its own.
        account = accounts.get(row["account"])
        rules = account is not None and bool(account.estimates(month))
        calendar = account is not None and account.due_date_estimated(month)
        any_rules, any_calendar = any_rules or rules, any_calendar or calendar
        due = ("≈" if calendar else "") + row["due_date"]
        typer.echo(
            f"  {row['account']:<10} {row['currency']}  due {due}  "
            f"{row['employees']:>5} employees  employer {row['employer_total']}  "
            f"employee {row['employee_total']}  total {'≈' if rules else ' '}{row['total']}"
        )
        for change in row["adjustments"]:
            typer.echo(
                f"  {'':<10}   adjustment {change['amount']} due {change['due_date']} "
                f"(computed {change['computed_on']})"
            )
    if any_rules:
        typer.echo(
            "≈ estimate: a rule behind it is unconfirmed or provisional (coverwatch policy check)"
        )
    if any_calendar:
        typer.echo(
            "≈ due date: that year's holiday calendar is not published yet, so weekends only "
            "(coverwatch policy check)"
        )


@app.command()
@reported
def ask(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The chat message, e.g. 我的医保 or coverage.")],
    as_employee: Annotated[str, typer.Option("--as", help="Employee id of the asker.")],
    as_json: Json = False,
) -> None:
    """Send one direct chat message through the full handler pipeline."""
    context = options(ctx).app()
    with session_scope(context.engine) as session:
        if get_employee(session, as_employee) is None:
            raise CliError(f"--as: unknown employee id {as_employee!r}")
    message = Message(
        platform="console",
        user_id=as_employee,
        conversation_id=f"console:{as_employee}",
        is_direct=True,
        text=text,
        event_id=f"cli-{uuid.uuid4().hex}",
    )
    reply = handle(context, message)
    with session_scope(context.engine) as session:  # the operator sees what they would see
        record_cli_views(session, context, [as_employee], "ask --as")
    if as_json:
        print_json(reply_json(reply))
    else:
        typer.echo(render(reply))  # as the console chat shows it


def _print_alerts(document: dict[str, Any]) -> None:
    if not document["alerts"]:
        typer.echo("no open alerts")
    for alert in document["alerts"]:
        facts = [
            f"{key.replace('_', ' ')} {value}"
            for key, value in alert.items()
            if key not in {"id", "kind", "state", "recipients"} and value is not None
        ]
        typer.echo(f"#{alert['id']} {alert['kind']} [{alert['state']}] " + ", ".join(facts))


@app.command()
@reported
def alerts(ctx: typer.Context, as_json: Json = False) -> None:
    """List open and acknowledged alerts."""
    context = options(ctx).app()
    with session_scope(context.engine) as session:
        accounts = account_policies(session, context.policies)
        document = alerts_json(
            session, context.today(), visible_alerts(session), accounts, now=context.now()
        )
        employees = [alert["employee_id"] for alert in document["alerts"]]
        record_cli_views(session, context, employees, "alerts")
    if as_json:
        print_json(document)
    else:
        _print_alerts(document)


@app.command()
@reported
def scan(
    ctx: typer.Context,
    at: Annotated[
        str | None, typer.Option("--at", help="Scan as of YYYY-MM-DD (default: today).")
    ] = None,
    as_json: Json = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would open; change and queue nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow --at after today without --dry-run.")
    ] = False,
) -> None:
    """Evaluate the alert rules once, as the scheduler does, and queue the notifications."""
    opts = options(ctx)
    settings = opts.settings()
    context = opts.app(settings)
    as_of = parse_date(at, "--at") if at else context.today()
    if as_of > context.today() and not (dry_run or force):
        # A future scan queues real notifications about a date that has not come yet.
        raise CliError(
            f"--at {as_of} is after today ({context.today()}): add --dry-run to see what "
            "would open, or --force to queue real notifications"
        )
    now = context.now()
    if as_of != context.today():  # as the scan of that day would have run, at 10:00 local
        now = datetime.combine(as_of, FIXED_TIME_OF_DAY, tzinfo=context.timezone).astimezone(UTC)
    with progress_bar(f"scan {as_of}"), Session(context.engine) as session:
        report = scan_in(
            session,
            as_of=as_of,
            now=now,
            policies=context.policies,
            rules=rules_from(settings),
            routing=routing_from(settings),
        )
        found = [alert for i in report.alert_ids if (alert := session.get(Alert, i)) is not None]
        accounts = account_policies(session, context.policies)
        document = alerts_json(session, as_of, found, accounts, now=now)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    with session_scope(context.engine) as session:
        employees = [alert["employee_id"] for alert in document["alerts"]]
        record_cli_views(session, context, employees, "scan")
    if as_json:
        print_json(document)
        return
    prefix = "dry run, nothing changed or queued: " if dry_run else ""
    queued = "would be queued" if dry_run else "queued"
    typer.echo(
        f"{prefix}scan {as_of}: {len(report.opened)} opened, {len(report.updated)} updated, "
        f"{len(report.resolved)} resolved, {report.deliveries} notifications {queued}"
    )
    _print_alerts(document)


@app.command()
@reported
def run(ctx: typer.Context) -> None:
    """Start the enabled adapters, the scheduler, the outbox dispatcher and the HTTP server."""
    from bot.serve import serve  # uvicorn and the platform SDKs load only for a running bot
    from bot.wiring import routing_warnings

    opts = options(ctx)
    settings = opts.settings()
    context = opts.app(settings, running=True)
    for warning in routing_warnings(settings, context.engine):  # the database answered
        typer.echo(f"warning: {warning}", err=True)
    serve(settings, context, opts.today)


@app.command()
@reported
def worker(
    ctx: typer.Context,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes", min=1, help="Worker processes (default: [chat] workers, at least 1)."
        ),
    ] = None,
) -> None:
    """Answer chat events only: handler workers beside `run`, on this or another machine."""
    from bot.workers import run_workers
    from storage.db import is_sqlite

    opts = options(ctx)
    settings = opts.settings()
    opts.app(settings, running=True)  # the database answers and has the schema, or one line
    sqlite = is_sqlite(settings.database.url)
    default = max(1, settings.chat.worker_processes(sqlite=sqlite))
    run_workers(settings, 1 if sqlite else processes or default, opts.today)


@app.command()
@reported
def demo(
    ctx: typer.Context,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Wipe a database an earlier `demo` created, then seed."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="With --reset: wipe even a database the demo did not create."),
    ] = False,
) -> None:
    """Seed a demo company into the database and chat with it on the console."""
    from bot.demo import run_demo  # the demo's data generator is not needed by other commands

    opts = options(ctx)
    run_demo(opts.settings(), reset=reset, force=force, today=opts.today)


app.command("kpi")(kpi_report_command)
app.command("audit")(audit_command)
app.command("backup")(backup_command)
app.add_typer(sync_app, name="sync")
app.command("doctor")(doctor_command)
app.add_typer(report_app, name="report")


def main(argv: list[str] | None = None) -> None:
    """The `coverwatch` console script: click's usage errors become one line too."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    # Config warnings are shown as `warning: …` lines (Options.settings), not logged twice.
    if not config_log.handlers:
        config_log.addHandler(logging.NullHandler())
    try:
        result = command.main(
            args=args or ["--help"], prog_name="coverwatch", standalone_mode=False
        )
    except typer.TyperException as exc:  # click's usage errors (Typer vendors click)
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line for the operator, never a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(f"error: internal error: {type(exc).__name__}: {reason}", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
