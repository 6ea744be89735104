"""`import_100k`: a 100,000-row employees CSV into an empty company.

Coverwatch: `storage.imports.import_employees` (read, match headers, validate every cell and
every manager reference, then insert all rows or none) in one transaction.
Baseline, the limit: `csv.reader` and the driver's fastest bulk path (`Raw.insert`:
`executemany` on SQLite, `COPY` on PostgreSQL), converting only what the column types need
(dates, cents), validating nothing. Goal: <= 3x the baseline, peak RSS
<= 150 MB (issue 19: the file is streamed, not held).

The ratio is without a data key, as the baseline stores id numbers plain. A third side imports
with `[security] data_key` set, every id number sealed (storage.sealing, Fernet), and also
times sealing the file's id numbers alone after its clock: what the security requirement
costs per row, reported in the checks (`sealed_*`, `seal_only_cpu_s`).
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.data import ACCOUNTS, CSV_COLUMNS, write_employees_csv
from bench.harness import (
    BenchError,
    Context,
    Outcome,
    Stopwatch,
    cpu_checks,
    run_side,
    server_process,
    time_outcome,
)
from bench.rawdb import Raw

FULL_ROWS = 100_000
RATIO_GOAL = 3.0
RSS_GOAL_MB = 150.0
_DATES = frozenset({"hire_date", "enrolled_on", "leave_date"})
_COLUMN = {name: name for name in CSV_COLUMNS} | {"account": "account_id"}


def employees_in(url: str) -> int:
    raw = Raw(url)
    try:
        return int(raw.fetchall("SELECT count(*) FROM employee")[0][0])
    finally:
        raw.close()


def coverwatch_side(url: str, path: str, sealed: bool = False) -> dict[str, Any]:
    from bench.chat_http import cpu_seconds
    from core.policy_loader import load_policies
    from storage.db import make_engine, session_scope
    from storage.imports import import_employees
    from storage.sealing import DataKeys, new_key, use_data_keys

    engine = make_engine(url)
    keys = DataKeys(new_key()) if sealed else None
    use_data_keys(engine, keys)
    policies = load_policies()
    clock = Stopwatch()
    with session_scope(engine) as session:
        server = server_process(session)
        server_cpu = cpu_seconds(server) if server else 0.0
        result = import_employees(session, Path(path), known_accounts=set(policies))
    seconds, cpu = clock.stop()
    side: dict[str, Any] = {"seconds": seconds, "cpu_seconds": cpu, "created": result.created}
    if server:
        # The PostgreSQL backend's share, which the side's own CPU leaves out (Stopwatch).
        side["server_cpu_seconds"] = round(cpu_seconds(server) - server_cpu, 2)
    engine.dispose()
    side["errors"] = [str(error) for error in result.errors[:5]]
    if keys is not None:
        side["seal_only_cpu_s"] = _seal_only(keys, Path(path))
    return side


def _seal_only(keys: Any, path: Path) -> float:
    """CPU seconds of sealing the file's id numbers and nothing else."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        id_numbers = [row["id_number"] for row in csv.DictReader(handle) if row["id_number"]]
    clock = Stopwatch()
    for id_number in id_numbers:
        keys.seal(id_number)
    return clock.stop()[1]


def sealed_in(url: str) -> int:
    raw = Raw(url)
    try:
        found = raw.fetchall("SELECT count(*) FROM employee WHERE id_number LIKE ?", ("fernet:%",))
        return int(found[0][0])
    finally:
        raw.close()


def _cell(name: str, text: str) -> object:
    if not text:
        return None
    if name in _DATES:
        return date.fromisoformat(text)
    if name == "salary":
        return int(Decimal(text) * 100)
    return text


def baseline_side(url: str, path: str) -> dict[str, Any]:
    raw = Raw(url)
    clock = Stopwatch()
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [tuple(_cell(n, text) for n, text in zip(header, r, strict=True)) for r in reader]
    raw.insert("employee", [_COLUMN[name] for name in header], rows)
    raw.commit()
    seconds, cpu = clock.stop()
    raw.close()
    return {"seconds": seconds, "cpu_seconds": cpu}


def _accounts_only(engine: Any) -> None:
    from bench.data import seed_company

    seed_company(engine, 0)


def run(ctx: Context) -> Outcome:
    count = ctx.rows(FULL_ROWS)
    path = ctx.workdir / f"employees_{count}.csv"
    if not path.exists():
        write_employees_csv(path, count)
    template = ctx.db.template("accounts", _accounts_only)
    cw_url, base_url = ctx.db.copy(template, "import_cw"), ctx.db.copy(template, "import_base")
    sealed_url = ctx.db.copy(template, "import_sealed")
    coverwatch = run_side("bench.imports:coverwatch_side", url=cw_url, path=str(path))
    baseline = run_side("bench.imports:baseline_side", url=base_url, path=str(path))
    sealed = run_side("bench.imports:coverwatch_side", url=sealed_url, path=str(path), sealed=True)
    imported = (employees_in(cw_url), employees_in(base_url), employees_in(sealed_url))
    if coverwatch.extra["errors"] or sealed.extra["errors"] or imported != (count,) * 3:
        raise BenchError(f"import incomplete: {imported}, {coverwatch.extra['errors']}")
    if (sealed_in(sealed_url), sealed_in(cw_url)) != (count, 0):  # every bench row has one
        raise BenchError(f"id numbers sealed: {sealed_in(sealed_url)} of {count}")
    return time_outcome(
        ctx,
        "import_100k",
        rows=count,
        ratio_goal=RATIO_GOAL,
        rss_goal_mb=RSS_GOAL_MB,
        coverwatch=coverwatch,
        baseline=baseline,
        checks={
            "employees_imported": imported[0],
            "accounts": len(ACCOUNTS),
            "sealed": f"{sealed.seconds:.2f} s / {sealed.peak_rss_mb:.0f} MB",
            "sealed_ratio": round(sealed.seconds / baseline.seconds, 2),
            **{f"sealed_{k}": v for k, v in cpu_checks(sealed, baseline).items()},
            "seal_only_cpu_s": round(sealed.extra["seal_only_cpu_s"], 2),
            "ids_sealed": count,
        },
    )
