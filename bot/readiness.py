"""`GET /readyz` and the gauges `/metrics` adds: is this instance able to do its job now?

`/healthz` stays the cheap liveness probe (the database answers). Readiness is every check
at once — the database, each adapter's link to its platform (`adapters.health.LinkProbe`),
the scheduler, and whether the outbox keeps up — as JSON, 503 when one fails, so a proxy or
an orchestrator stops sending traffic to an instance that cannot answer or deliver.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from adapters.health import LinkProbe, LinkState
from storage.db import ping
from storage.outbox import Backlog, due_backlog

STALE_BACKLOG = timedelta(minutes=15)
"""A delivery due this long and still not sent means the dispatcher is not keeping up."""


@dataclass(frozen=True, kw_only=True)
class Readiness:
    ok: bool
    document: dict[str, Any]
    links: dict[str, LinkState]
    backlog: Backlog | None


def links_of(adapters: Mapping[str, object]) -> dict[str, LinkState]:
    """Every adapter's link; one without a persistent connection counts as up."""
    return {
        name: adapter.link_state()
        if isinstance(adapter, LinkProbe)
        else LinkState(up=True, detail="no persistent connection")
        for name, adapter in adapters.items()
    }


def readiness(
    engine: Engine, adapters: Mapping[str, object], *, scheduler_running: bool, now: datetime
) -> Readiness:
    """Blocking (database calls): run it in a thread from the event loop."""
    checks: dict[str, dict[str, Any]] = {}
    database_up = ping(engine)
    checks["database"] = {"ok": database_up, "detail": "reachable" if database_up else "down"}
    links = links_of(adapters)
    for name, link in links.items():
        checks[f"adapter:{name}"] = {"ok": link.up, "detail": link.detail}
    checks["scheduler"] = {
        "ok": scheduler_running,
        "detail": "running" if scheduler_running else "stopped",
    }
    backlog = None
    if database_up:
        try:
            with Session(engine) as session:
                backlog = due_backlog(session, now)
        except SQLAlchemyError as exc:  # gone between the ping and the query
            database_up = False
            checks["database"] = {"ok": False, "detail": type(exc).__name__}
    if backlog is not None:
        age = (now - backlog.oldest_due).total_seconds() if backlog.oldest_due else 0.0
        checks["outbox"] = {
            "ok": age < STALE_BACKLOG.total_seconds(),
            "backlog": backlog.count,
            "oldest_pending_seconds": round(age, 1),
        }
    else:
        checks["outbox"] = {"ok": False, "detail": "database down"}
    ok = all(check["ok"] for check in checks.values())
    return Readiness(
        ok=ok,
        document={"status": "ok" if ok else "fail", "checks": checks},
        links=links,
        backlog=backlog,
    )


def exposition(state: Readiness, job_outcomes: Counter[tuple[str, str]], now: datetime) -> str:
    """Prometheus lines for adapter up/down, job runs and failures, the outbox backlog."""
    lines = ["# TYPE coverwatch_adapter_up gauge"]
    lines += [
        f'coverwatch_adapter_up{{platform="{name}"}} {int(link.up)}'
        for name, link in sorted(state.links.items())
    ]
    lines.append("# TYPE coverwatch_job_runs_total counter")
    lines += [
        f'coverwatch_job_runs_total{{job="{job}",result="{result}"}} {count}'
        for (job, result), count in sorted(job_outcomes.items())
    ]
    if state.backlog is not None:
        oldest = state.backlog.oldest_due
        age = (now - oldest).total_seconds() if oldest else 0.0
        lines += [
            "# TYPE coverwatch_outbox_backlog gauge",
            f"coverwatch_outbox_backlog {state.backlog.count}",
            "# TYPE coverwatch_outbox_oldest_pending_seconds gauge",
            f"coverwatch_outbox_oldest_pending_seconds {age:.1f}",
        ]
    return "\n".join(lines) + "\n"
