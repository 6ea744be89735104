"""`kpi_burst`: 40 managers ask `kpi` (a chart each) in the same second as 200 `help`s.

Three runs of `coverwatch run` as in `chat_http` (Slack HTTP mode, loopback fake Slack, 200
employees), each in its own process, each sent one burst of signed slash commands spread
evenly over one second after a warm-up:
- `help` only: 200 `help` (the reference);
- charts in their lane: the same 200 `help` and 40 `kpi` interleaved, `[chat] slow_workers = 1`
  (the default: charts drawn in a process of their own, bot/slow_lane.py);
- charts on the handlers: the same burst with `slow_workers = 0` (charts drawn on the handler
  threads, as before issue 18).
A command's answer time runs from its scheduled send to its answer reaching the fake's
response_url. Goal: `help`'s answer p99 with the charts in their lane within 20 % of the
`help`-only run (ratio = that p99 / the reference p99 <= 1.2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import chat_http
from bench.harness import BenchError, Context, Outcome, run_side
from bench.loadgen import percentile

HELPS = 200
CHARTS = 40
GOAL = 1.20
KPI_USERS = (0, 1, 2, 3, 4, 10, 35, 60, 85, 110, 135, 160, 185)
"""HR (0-4) and the managers (every 25th from 10) of `bench.data`: who may ask `kpi`."""
CHART_PERIOD = "2026-06"


def plan(charts: int) -> list[tuple[str, int]]:
    """200 `help` from the employees, with `charts` `kpi` spread evenly among them."""
    helpers = [user for user in range(chat_http.USERS) if user not in KPI_USERS]
    requests = [("help", helpers[n % len(helpers)]) for n in range(HELPS)]
    for n in range(charts):
        at = (n * len(requests)) // charts + n
        requests.insert(at, (f"kpi {CHART_PERIOD}", KPI_USERS[n % len(KPI_USERS)]))
    return requests


def side(url: str, workdir: str, charts: int, slow_workers: int) -> dict[str, Any]:
    """One server, a warm-up (help and two charts), then the measured burst."""
    from tests.fakes.slack import FakeSlack

    port = chat_http.free_port()
    config = f"[chat]\nslow_workers = {slow_workers}\n"
    with FakeSlack(bot_token=chat_http.BOT_TOKEN) as fake:
        server = chat_http.start(
            "coverwatch", port, fake.api_url, url, Path(workdir), config=config
        )
        try:
            chat_http.wait_healthy(port, server)
            responses = fake.response_url("")
            warm = [("help", 20), ("help", 21), (f"kpi {CHART_PERIOD}", 0), ("help", 22)]
            _burst(port, responses, 0, warm, 1.0)
            chat_http.wait_replies(fake, len(warm), 60)
            burst = plan(charts)
            sent = _burst(port, responses, 1000, burst, 1.0)
            chat_http.wait_replies(fake, len(warm) + len(burst), 180)
            rss = chat_http.peak_rss_mb(server.pid)
        finally:
            errors = chat_http.stop(server)
        answered_at = dict(fake.response_at)
    latency: dict[str, list[float]] = {"help": [], "kpi": []}
    for position, (text, _) in enumerate(burst):
        key = f"r{1000 + position}"
        if key in answered_at:
            latency[text.split()[0]].append((answered_at[key] - sent["scheduled"][key]) * 1000)
    missing = len(burst) - sum(len(values) for values in latency.values())
    return {
        "seconds": max(latency["help"] + latency["kpi"]) / 1000,
        "peak_rss_mb": rss,
        "help_p50_ms": percentile(latency["help"], 0.50),
        "help_p99_ms": percentile(latency["help"], 0.99),
        "kpi_p50_ms": percentile(latency["kpi"], 0.50),
        "kpi_p99_ms": percentile(latency["kpi"], 0.99),
        "acks_ok": sent["ok"],
        "answers_missing": missing,
        "errors_logged": sum(1 for line in errors.splitlines() if " ERROR " in line),
    }


def _burst(
    port: int, responses: str, first: int, requests: list[tuple[str, int]], seconds: float
) -> dict[str, Any]:
    return chat_http.loadgen(
        "burst", port, responses, first, plan=json.dumps(requests), seconds=seconds
    )


def run(ctx: Context) -> Outcome:
    template = ctx.db.template(f"chat_{chat_http.USERS}", chat_http.seed)
    sides = {}
    for name, charts, workers in (("help", 0, 1), ("lane", CHARTS, 1), ("inline", CHARTS, 0)):
        sides[name] = run_side(
            "bench.kpi_burst:side",
            url=ctx.db.copy(template, f"burst_{name}"),
            workdir=str(ctx.workdir),
            charts=charts,
            slow_workers=workers,
        )
    reference, lane, inline = (sides[name].extra for name in ("help", "lane", "inline"))
    for name, side_result in sides.items():
        if side_result.extra["answers_missing"] or side_result.extra["errors_logged"]:
            raise BenchError(f"{name}: answers missing or errors logged: {side_result.extra}")
    ratio = lane["help_p99_ms"] / reference["help_p99_ms"]
    return Outcome(
        name="kpi_burst",
        backend=ctx.db.backend,
        rows=HELPS + CHARTS,
        goal=f"help answer p99 with {CHARTS} charts <= {GOAL:g}x without",
        ratio_label="help p99 with charts vs without",
        ratio=ratio,
        met=ratio <= GOAL,
        coverwatch=sides["lane"],
        baseline=sides["help"],
        checks={
            "help_p99_ms_without_charts": round(reference["help_p99_ms"], 1),
            "help_p99_ms_charts_in_lane": round(lane["help_p99_ms"], 1),
            "help_p99_ms_charts_on_handlers": round(inline["help_p99_ms"], 1),
            "help_p50_ms_without_charts": round(reference["help_p50_ms"], 1),
            "help_p50_ms_charts_in_lane": round(lane["help_p50_ms"], 1),
            "help_p50_ms_charts_on_handlers": round(inline["help_p50_ms"], 1),
            "kpi_p99_ms_in_lane": round(lane["kpi_p99_ms"], 1),
            "kpi_p99_ms_on_handlers": round(inline["kpi_p99_ms"], 1),
        },
    )
