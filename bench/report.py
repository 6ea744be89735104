"""Results: one JSON file per benchmark in `bench/results/`, and the table in PERFORMANCE.md.

The table is rebuilt from every JSON file in `bench/results/`, so running one benchmark updates
its row and keeps the others (each row says when and where it was measured). Only the part of
docs/PERFORMANCE.md between the markers is generated; the analysis around it is written by hand.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Outcome

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "PERFORMANCE.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def machine(pg_url: str | None) -> dict[str, Any]:
    """Cores, RAM, CPU and the software versions a reader needs to compare numbers."""
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(memory_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _pg_version(pg_url) if pg_url else None,
        "os": platform.platform(),
    }


def _pg_version(url: str) -> str | None:
    try:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else None
    except Exception:  # no server: the PostgreSQL rows are skipped anyway
        return None


def save(outcome: Outcome, host: dict[str, Any], small: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        **outcome.to_json(),
        "small": small,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": host,
    }
    suffix = "" if outcome.backend == "sqlite" or outcome.name.endswith("_pg") else "_pg"
    path = RESULTS / f"{outcome.name}{suffix}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def _row(doc: dict[str, Any]) -> str:
    cw, base = doc["coverwatch"], doc["baseline"]
    status = "met" if doc["met"] else "**missed**"
    scale = f"{doc['rows']:,}" + (" (small)" if doc.get("small") else "")
    return (
        f"| {doc['name']} | {doc['backend']} | {scale} | {doc['ratio']:.2f} "
        f"({doc['ratio_label']}) | {doc['goal']} | {status} | {cw['seconds']:.2f} s / "
        f"{cw['peak_rss_mb']:.0f} MB | {base['seconds']:.2f} s / {base['peak_rss_mb']:.0f} MB "
        f"| {doc['measured_at'][:10]} |"
    )


def table() -> str:
    docs = [json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))]
    order = {"sqlite": 0, "postgres": 1}
    docs.sort(key=lambda d: (order.get(d["backend"], 2), d["name"]))
    lines = [
        "| benchmark | backend | rows | ratio | goal | status | coverwatch (wall / peak RSS) "
        "| baseline (wall / peak RSS) | date |",
        "|---|---|---|---|---|---|---|---|---|",
        *(_row(doc) for doc in docs),
    ]
    hosts = {json.dumps(d["machine"], sort_keys=True) for d in docs}
    for host in map(json.loads, sorted(hosts)):
        lines.append("")
        lines.append(
            f"Machine: {host['cores']} cores ({host['cpu']}), {host['ram_gb']} GB RAM, "
            f"Python {host['python']}, SQLite {host['sqlite']}, "
            f"PostgreSQL {host['postgresql'] or 'n/a'}, {host['os']}."
        )
    checks = [f"- {d['name']} ({d['backend']}): {_checks(d['checks'])}" for d in docs]
    if checks:
        lines += ["", "Checks recorded by the run:", *checks]
    return "\n".join(lines)


def _checks(checks: dict[str, Any]) -> str:
    return ", ".join(f"{key} = {value}" for key, value in checks.items())


def update_doc() -> str:
    """Rewrite the generated table inside docs/PERFORMANCE.md; returns the table."""
    generated = table()
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{generated}\n{END}{tail}")
    return generated
