"""`scan_100k`: the alert scan over 100,000 employees with twelve months of ledger and payments.

Coverwatch: one `storage.scan.run_scan` on the day after the last period fell due (opens the
overdue and enrollment alerts and writes their deliveries, one transaction).
Baseline, the limit: one SQL aggregate over the ledger and the payments that returns the unpaid
account-periods. Both must find the same unpaid account-periods. Goal: <= 3x the baseline.
"""

from __future__ import annotations

from typing import Any

from bench.data import HISTORY, NOW, SCAN_DAY, seed_company, seed_history
from bench.harness import BenchError, Context, Outcome, Stopwatch, run_side, time_outcome
from bench.rawdb import Raw

FULL_ROWS = 100_000
RATIO_GOAL = 3.0
HR_CHANNEL = "CHR00001"
UNPAID_SQL = """
SELECT ledger.account_id, ledger.period
FROM (SELECT account_id, period, sum(employer + employee) AS owed
      FROM ledger_line GROUP BY account_id, period) AS ledger
LEFT JOIN (SELECT account_id, period, sum(amount) AS paid
           FROM payment WHERE paid_on <= ? GROUP BY account_id, period) AS paid
  ON paid.account_id = ledger.account_id AND paid.period = ledger.period
WHERE coalesce(paid.paid, 0) < ledger.owed
ORDER BY ledger.account_id, ledger.period
"""
_ACCOUNT_KINDS = ("overdue", "suspension_imminent")


def coverwatch_side(url: str) -> dict[str, Any]:
    from core.alert_rules import RuleSettings
    from core.policy_loader import load_policies
    from storage.db import make_engine
    from storage.routing import Routing
    from storage.scan import run_scan

    engine = make_engine(url)
    policies = load_policies()
    routing = Routing(platforms=("slack",), hr_groups={"slack": (HR_CHANNEL,)})
    clock = Stopwatch()
    report = run_scan(
        engine,
        as_of=SCAN_DAY,
        now=NOW,
        policies=policies,
        rules=RuleSettings(lead_days=(7, 3, 1)),
        routing=routing,
    )
    seconds, cpu = clock.stop()
    engine.dispose()
    raw = Raw(url)
    unpaid = raw.fetchall(
        "SELECT DISTINCT account_id, period FROM alert WHERE kind IN (?, ?) ORDER BY 1, 2",
        _ACCOUNT_KINDS,
    )
    kinds = dict(raw.fetchall("SELECT kind, count(*) FROM alert GROUP BY kind"))
    raw.close()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "alerts_opened": len(report.opened),
        "deliveries": report.deliveries,
        "alert_kinds": kinds,
        "unpaid": [list(row) for row in unpaid],
    }


def baseline_side(url: str) -> dict[str, Any]:
    raw = Raw(url)
    clock = Stopwatch()
    unpaid = raw.fetchall(UNPAID_SQL, (SCAN_DAY.isoformat(),))
    seconds, cpu = clock.stop()
    raw.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "unpaid": [list(row) for row in unpaid]}


def _seed(count: int) -> Any:
    def seed(engine: Any) -> None:
        seed_company(engine, count)
        seed_history(engine)

    return seed


def run(ctx: Context) -> Outcome:
    count = ctx.rows(FULL_ROWS)
    template = ctx.db.template(f"history_{count}", _seed(count))
    coverwatch = run_side("bench.scan:coverwatch_side", url=ctx.db.copy(template, "scan_cw"))
    baseline = run_side("bench.scan:baseline_side", url=ctx.db.copy(template, "scan_base"))
    found, expected = coverwatch.extra["unpaid"], baseline.extra["unpaid"]
    if found != expected or not expected:
        raise BenchError(f"unpaid account-periods differ: {found} vs {expected}")
    return time_outcome(
        ctx,
        "scan_100k",
        rows=count,
        ratio_goal=RATIO_GOAL,
        coverwatch=coverwatch,
        baseline=baseline,
        checks={
            "months": len(HISTORY),
            "unpaid_found": len(found),
            "alerts_opened": coverwatch.extra["alerts_opened"],
            "deliveries_queued": coverwatch.extra["deliveries"],
        },
    )
