"""`dues_100k`: one period's dues for 100,000 employees across 6 accounts.

Coverwatch: `storage.ledger.run_dues` (stream employees in chunks, compute with
`core.contributions`, insert ledger rows and account totals) in one transaction.
Baseline, the limit: the same ledger rows, computed before the clock starts, written in one
transaction with the driver's fastest bulk path (`Raw.insert`: `executemany` on SQLite, `COPY`
on PostgreSQL, as coverwatch writes them). Both ledgers must match (row count and sums).
Goal: <= 1.5x the baseline (raised from 2x by issue 19), peak RSS <= 300 MB.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bench.data import DUES_PERIOD, NOW, seed_company
from bench.harness import BenchError, Context, Outcome, Stopwatch, run_side, time_outcome
from bench.rawdb import Raw

FULL_ROWS = 100_000
RATIO_GOAL = 1.5
RSS_GOAL_MB = 300.0
_LEDGER_SUMS = "SELECT count(*), sum(employer), sum(employee) FROM ledger_line WHERE period = ?"


def ledger_sums(url: str, period: str) -> list[int]:
    raw = Raw(url)
    try:
        count, employer, employee = raw.fetchall(_LEDGER_SUMS, (period,))[0]
    finally:
        raw.close()
    return [int(count), int(employer or 0), int(employee or 0)]


def coverwatch_side(url: str) -> dict[str, Any]:
    from core.policy_loader import load_policies
    from storage.accounts import account_policies
    from storage.db import make_engine, session_scope
    from storage.ledger import run_dues

    engine = make_engine(url)
    policies = load_policies()
    clock = Stopwatch()
    with session_scope(engine) as session:
        accounts = account_policies(session, policies)
        # A progress callback as `coverwatch dues` passes (its bar is off without a terminal):
        # the count of employees it asks for is part of what a user's run costs.
        run = run_dues(session, DUES_PERIOD, accounts, now=NOW, progress=_no_bar)
    seconds, cpu = clock.stop()
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "employees": run.employees,
        "ledger": ledger_sums(url, str(DUES_PERIOD)),
    }


def _no_bar(done: int, total: int) -> None:
    """`run_dues`'s progress callback, drawing nothing."""


def _rows(raw: Raw) -> list[tuple[Any, ...]]:
    """The ledger rows the period owes (integer cents, as `storage.types.Money` stores them)."""
    from core.contributions import contribution
    from core.policy import AccountSettings
    from core.policy_loader import load_policies

    policies = load_policies()
    accounts = {
        account_id: (policies[policy], AccountSettings(account_id=account_id, policy_id=policy))
        for account_id, policy in raw.fetchall("SELECT id, policy_id FROM account")
    }
    first, last = DUES_PERIOD.first_day.isoformat(), DUES_PERIOD.last_day.isoformat()
    employees = raw.fetchall(
        "SELECT employee_id, account_id, salary FROM employee WHERE enrolled_on IS NOT NULL"
        " AND enrolled_on <= ? AND (leave_date IS NULL OR leave_date >= ?)",
        (last, first),
    )
    key, rows = str(DUES_PERIOD), []
    for employee_id, account_id, salary in employees:
        policy, settings = accounts[account_id]
        result = contribution(policy, settings, Decimal(salary) / 100, DUES_PERIOD)
        for line in result.lines:
            cents = [int(amount * 100) for amount in (line.base, line.employer, line.employee)]
            rows.append((employee_id, account_id, key, str(line.scheme), *cents))
    return rows


def baseline_side(url: str) -> dict[str, Any]:
    raw = Raw(url)
    rows = _rows(raw)
    clock = Stopwatch()
    columns = ("employee_id", "account_id", "period", "scheme", "base", "employer", "employee")
    raw.insert("ledger_line", columns, rows)
    raw.commit()
    seconds, cpu = clock.stop()
    raw.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "ledger": ledger_sums(url, str(DUES_PERIOD))}


def run(ctx: Context) -> Outcome:
    count = ctx.rows(FULL_ROWS)
    template = ctx.db.template(f"company_{count}", lambda engine: seed_company(engine, count))
    coverwatch = run_side("bench.dues:coverwatch_side", url=ctx.db.copy(template, "dues_cw"))
    baseline = run_side("bench.dues:baseline_side", url=ctx.db.copy(template, "dues_base"))
    ledger, expected = coverwatch.extra["ledger"], baseline.extra["ledger"]
    if ledger != expected:
        raise BenchError(f"ledgers differ (count, employer, employee): {ledger} vs {expected}")
    return time_outcome(
        ctx,
        "dues_100k",
        rows=count,
        ratio_goal=RATIO_GOAL,
        rss_goal_mb=RSS_GOAL_MB,
        coverwatch=coverwatch,
        baseline=baseline,
        checks={"ledger_rows": coverwatch.extra["ledger"][0], "ledgers_equal": True},
    )


RECOMPUTE_RATIO_GOAL = 2.0
RECOMPUTE_RSS_GOAL_MB = 200.0


def run_recompute(ctx: Context) -> Outcome:
    """`dues_recompute_100k`: `run_dues` again over a period already computed, against the
    first computation of the same period (the baseline here): <= 2x, peak RSS <= 200 MB."""
    from bench.report_dues import company_with_dues

    count = ctx.rows(FULL_ROWS)
    company = ctx.db.template(f"company_{count}", lambda engine: seed_company(engine, count))
    computed = company_with_dues(ctx, count)
    again = run_side("bench.dues:coverwatch_side", url=ctx.db.copy(computed, "recompute_cw"))
    first = run_side("bench.dues:coverwatch_side", url=ctx.db.copy(company, "recompute_first"))
    if again.extra["ledger"] != first.extra["ledger"]:
        raise BenchError(f"ledgers differ: {again.extra['ledger']} vs {first.extra['ledger']}")
    outcome = time_outcome(
        ctx,
        "dues_recompute_100k",
        rows=count,
        ratio_goal=RECOMPUTE_RATIO_GOAL,
        rss_goal_mb=RECOMPUTE_RSS_GOAL_MB,
        coverwatch=again,
        baseline=first,
        checks={"ledger_rows": again.extra["ledger"][0], "ledgers_equal": True},
    )
    outcome.ratio_label = "time vs first computation"
    return outcome
