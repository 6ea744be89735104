"""Run each side of a benchmark in its own process and collect what it measured.

A side runs as `python -m bench.child module:function JSON`, so the coverwatch path and the
baseline never share an interpreter: each peak RSS (`ru_maxrss`) is that side's alone, and
neither side profits from the other's warm caches or imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.databases import Databases

ROOT = Path(__file__).resolve().parent.parent
SIDE_TIMEOUT_SECONDS = 3600


@dataclass
class Context:
    """What every benchmark gets: the scale, the databases of its backend, a scratch folder."""

    small: bool
    db: Databases
    workdir: Path
    sizes: tuple[int, ...] = ()
    """The scale set's sizes (`--sizes`), smallest first; empty: its own."""

    def rows(self, full: int) -> int:
        """`--small` runs 10x fewer rows."""
        return full // 10 if self.small else full


class BenchError(RuntimeError):
    """A side failed or produced a wrong result: the run reports it instead of a ratio."""


class Stopwatch:
    """Wall and CPU seconds of a side's measured work, started when made.

    CPU is this process's own (user + system). On the shared 2-core machine wall time also
    counts the time spent waiting for a core (4x the CPU time at a load average of 10), so
    on SQLite, where the database works inside the process, CPU time is the figure to
    compare side by side; on PostgreSQL the server's share is not in it.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_queue_seconds(pid: int) -> float:
    """Seconds the process's threads have waited for a core (`/proc/<pid>/task/*/schedstat`,
    its second field): on the loaded machine, the part of a side's wall time that is neither
    its CPU nor its waiting on I/O or a server."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def server_process(session: Any) -> int | None:
    """The process id of the PostgreSQL backend serving `session` (on this machine), whose CPU
    a side on PostgreSQL records beside its own (`bench.chat_http.cpu_seconds`); None on SQLite."""
    from sqlalchemy import text

    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


@dataclass
class Side:
    """What one side measured: wall time of the measured work, its process's peak RSS, the
    CPU time when the side reports it, and the 1-minute load average when it started."""

    seconds: float
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float | None = None
    load: float | None = None


@dataclass
class Outcome:
    """One benchmark's result, as written to `bench/results/<name>.json`."""

    name: str
    backend: str
    rows: int
    goal: str
    ratio_label: str
    ratio: float
    met: bool
    coverwatch: Side
    baseline: Side
    checks: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def time_outcome(
    ctx: Context,
    name: str,
    *,
    rows: int,
    ratio_goal: float,
    coverwatch: Side,
    baseline: Side,
    checks: dict[str, Any],
    rss_goal_mb: float | None = None,
) -> Outcome:
    """The outcome of a "coverwatch time / baseline time <= N" benchmark (optionally with RSS)."""
    ratio = coverwatch.seconds / baseline.seconds
    checks = {**checks, **cpu_checks(coverwatch, baseline)}
    goal = f"<= {ratio_goal:g}x"
    met = ratio <= ratio_goal
    if rss_goal_mb is not None:
        goal += f", peak RSS <= {rss_goal_mb:g} MB"
        met = met and coverwatch.peak_rss_mb <= rss_goal_mb
    return Outcome(
        name=name,
        backend=ctx.db.backend,
        rows=rows,
        goal=goal,
        ratio_label="time vs baseline",
        ratio=ratio,
        met=met,
        coverwatch=coverwatch,
        baseline=baseline,
        checks=checks,
    )


def cpu_checks(coverwatch: Side, baseline: Side) -> dict[str, Any]:
    """CPU seconds of both sides and their ratio, and the load average each started at."""
    checks: dict[str, Any] = {"load_1m": [coverwatch.load, baseline.load]}
    if coverwatch.cpu_seconds is not None and baseline.cpu_seconds is not None:
        checks["cpu_s"] = [round(coverwatch.cpu_seconds, 2), round(baseline.cpu_seconds, 2)]
        checks["cpu_ratio"] = round(coverwatch.cpu_seconds / baseline.cpu_seconds, 2)
    return checks


def run_side(target: str, **kwargs: Any) -> Side:
    """Run `module:function(**kwargs)` in a fresh interpreter; it returns a dict with `seconds`."""
    command = [sys.executable, "-m", "bench.child", target, json.dumps(kwargs)]
    load = round(os.getloadavg()[0], 2)
    completed = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SIDE_TIMEOUT_SECONDS,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = "\n".join(completed.stderr.strip().splitlines()[-6:])
        raise BenchError(f"{target} failed (exit {completed.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    seconds = float(result.pop("seconds"))
    peak = float(result.pop("peak_rss_mb"))
    cpu = result.pop("cpu_seconds", None)
    return Side(seconds=seconds, peak_rss_mb=peak, extra=result, cpu_seconds=cpu, load=load)
