"""Run each side of a benchmark in its own process and collect what it measured.

A side runs as `python -m bench.child module:function JSON`, so the coverwatch path and the
baseline never share an interpreter: each peak RSS (`ru_maxrss`) is that side's alone, and
neither side profits from the other's warm caches or imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
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

    def rows(self, full: int) -> int:
        """`--small` runs 10x fewer rows."""
        return full // 10 if self.small else full


class BenchError(RuntimeError):
    """A side failed or produced a wrong result: the run reports it instead of a ratio."""


@dataclass
class Side:
    """What one side measured: wall time of the measured work, its process's peak RSS."""

    seconds: float
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)


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


def run_side(target: str, **kwargs: Any) -> Side:
    """Run `module:function(**kwargs)` in a fresh interpreter; it returns a dict with `seconds`."""
    command = [sys.executable, "-m", "bench.child", target, json.dumps(kwargs)]
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
    return Side(seconds=seconds, peak_rss_mb=peak, extra=result)
