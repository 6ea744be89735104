"""`coverwatch policy show ID [--period YYYY-MM] [--json]` and `coverwatch policy check`.

HR can only trust an amount whose rule they can see: `show` prints the rules in force for a
period with their sources and confirmation; `check` lists every figure that is an estimate and
how far each region's holiday calendar reaches (core.calendars). No database is needed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from bot.cli_common import CliError, options, print_json, reported
from core.calendars import HK_REACH, cn_official_years
from core.deadlines import due_date, due_date_is_estimate
from core.estimates import unconfirmed_figures
from core.periods import Period
from core.policy import HolidayRule, Policy
from core.policy_loader import load_policies

app = typer.Typer(help="Show policy rules with their sources; list unconfirmed figures.")


def _today(ctx: typer.Context) -> date:
    opts = options(ctx)
    if opts.today is not None:
        return opts.today
    return datetime.now(ZoneInfo(opts.settings().bot.timezone)).date()


def _number(value: Any) -> str | None:
    return None if value is None else str(value)


def policy_document(policy: Policy, period: Period) -> dict[str, Any]:
    """The rules of `policy` in force for `period`, each with its source and confirmation."""
    schemes = []
    for scheme, rule in policy.schemes_in_force(period).items():
        version = policy.version_for(scheme, period)
        assert version is not None  # schemes_in_force only lists schemes with a version
        schemes.append(
            {
                "scheme": str(scheme),
                "floor": str(rule.floor),
                "ceiling": str(rule.ceiling),
                "employer_rate": str(rule.employer_rate),
                "employee_rate": str(rule.employee_rate),
                "employer_rate_min": _number(rule.employer_rate_min),
                "employer_rate_max": _number(rule.employer_rate_max),
                "employer_fixed": str(rule.employer_fixed),
                "employee_fixed": str(rule.employee_fixed),
                "employee_exempt_below": _number(rule.employee_exempt_below),
                "rounding": str(rule.rounding),
                "optional": rule.optional,
                "effective": version.effective.isoformat(),
                "confirmed": version.confirmed,
                "provisional": version.provisional,
                "source": version.source,
            }
        )
    suspension = policy.suspension
    return {
        "policy": policy.id,
        "name": policy.name,
        "currency": policy.currency,
        "period": str(period),
        "source": policy.source,
        "due": {
            "day": policy.due.day,
            "month_offset": policy.due.month_offset,
            "holiday_rule": str(policy.due.holiday_rule),
            "adjustment_due_dates": policy.due.adjustment_due_dates,
            "confirmed": policy.due.confirmed,
            "due_date": due_date(policy, period).isoformat(),
            "calendar_estimate": due_date_is_estimate(policy, period),
        },
        "late_fee": {
            "model": str(policy.late_fee.model),
            "rate": str(policy.late_fee.rate),
            "cap": str(policy.late_fee.cap),
        },
        "suspension": None
        if suspension is None
        else {
            "suspend_after_days": suspension.suspend_after_days,
            "restore_window_months": suspension.restore_window_months,
            "confirmed": suspension.confirmed,
        },
        "schemes": schemes,
    }


@app.command()
@reported
def show(
    ctx: typer.Context,
    policy_id: Annotated[str, typer.Argument(metavar="ID", help="A policy id, e.g. beijing.")],
    period: Annotated[
        str | None, typer.Option("--period", help="YYYY-MM (default: this month).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document.")] = False,
) -> None:
    """The rules in force for a period, with their sources and confirmation."""
    policies = load_policies()
    policy = policies.get(policy_id)
    if policy is None:
        raise CliError(f"unknown policy {policy_id!r} (known: {', '.join(sorted(policies))})")
    try:
        month = Period.parse(period) if period else Period.of(_today(ctx))
    except ValueError as exc:
        raise CliError(f"--period: {exc}") from None
    document = policy_document(policy, month)
    if as_json:
        print_json(document)
        return
    due = document["due"]
    calendar = (
        " (holiday calendar not published yet: an estimate)" if due["calendar_estimate"] else ""
    )
    typer.echo(f"{policy.name} [{policy.id}] {policy.currency}, {month}: {policy.source}")
    typer.echo(
        f"  due {due['due_date']}{calendar}: day {due['day']}, month offset "
        f"{due['month_offset']}, {due['holiday_rule']}"
        f"{'' if due['confirmed'] else ' (unconfirmed)'}"
    )
    fee = document["late_fee"]
    typer.echo(f"  late fee {fee['model']} {fee['rate']}, cap {fee['cap']}")
    if not document["schemes"]:
        typer.echo("  no scheme in force for this period")
    for rule in document["schemes"]:
        state = "confirmed" if rule["confirmed"] else "UNCONFIRMED"
        if rule["provisional"]:
            state += ", PROVISIONAL"
        typer.echo(
            f"  {rule['scheme']:<13} base {rule['floor']}-{rule['ceiling']}  employer "
            f"{rule['employer_rate']} employee {rule['employee_rate']}  from {rule['effective']} "
            f"({state}): {rule['source']}"
        )


@app.command()
@reported
def check(ctx: typer.Context) -> None:
    """Every unconfirmed or provisional figure, and each region's holiday-calendar reach."""
    policies = load_policies()
    lines = [line for policy in policies.values() for line in unconfirmed_figures(policy)]
    typer.echo(f"{len(lines)} unconfirmed or provisional figures:")
    for line in lines:
        typer.echo(f"  {line}")
    typer.echo("holiday calendars:")
    reach = {
        HolidayRule.NEXT_WORKING_DAY_CN: f"official through {max(cn_official_years())}; later "
        "years: weekends only (flagged as estimates)",
        HolidayRule.NEXT_WORKING_DAY_HK: f"general holidays through {HK_REACH}; typhoon and "
        "rainstorm closures only via [calendar] closures",
        HolidayRule.NEXT_WEEKDAY: "weekends only",
        HolidayRule.NONE: "every day is a working day",
    }
    for policy in policies.values():
        typer.echo(f"  {policy.id}: {policy.due.holiday_rule}: {reach[policy.due.holiday_rule]}")
