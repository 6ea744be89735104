"""`chat_http`: signed Slack slash commands over real HTTP into a running server.

Coverwatch: `coverwatch run` (Slack enabled, HTTP mode, its Web API pointed at the loopback fake
Slack of tests/fakes/slack.py), answering `/coverwatch coverage` for 200 employees; every
answer goes back through the fake's response_url, where it is counted and stamped. Each event is
written to the inbound table before its ack and answered by `[chat] workers` handler processes
(issue 18); the run is repeated for each worker count in `WORKERS`, side by side.
Baseline, the limit: a bare slack-bolt app on the same stack whose handler only acks.
The load generator is a separate process (bench/loadgen.py): first 50 requests/s for a fixed
time (ack latency, and answer latency from each request's scheduled send to its answer at the
fake), then flat out with 16 connections. A command counts when its answer reached the fake:
answered/s is the flat-out answers over the time from the first to the last of them; the drain
is how long answers kept coming after the load stopped (the backlog). Server CPU is the server's
and its children's (the worker processes) user + system time over the 50/s phase, per answer,
the serving process's own reported apart (the baseline's, per ack, is reported beside it: the
stack's own cost on this machine);
on PostgreSQL the CPU of the database's backends serving it is counted beside it (`db_cpu`: a
statement's cost there is real cost too). Past `[chat] max_backlog` the server answers "busy,
try again", in the slash command's ack (counted by the load generator, `busy_acks`) or, where
an ack cannot carry it, at the fake (`busy_answers`): either is counted apart, never as an
answered command, and no answer at the response_url is waited for after a busy ack.
Goal: answered/s >= 70 % of the baseline's acks/s, answer p99 < 250 ms at 50 requests/s, and
server CPU per answered command <= 1.5 ms at every worker count (issue 18 item 5).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import ROOT, BenchError, Context, Outcome, run_side
from bench.loadgen import busy_texts

USERS = 200
THROUGHPUT_GOAL = 0.70
P99_GOAL_MS = 250.0
CPU_GOAL_MS = 1.5
"""Server CPU per answered command at 50/s, at every worker count reported."""
RATE = 50.0
WORKERS = (0, 1, 2)
"""`[chat] workers` of the coverwatch sides (0: in the `run` process; this machine has 2 cores,
4 where it has them). On SQLite, which has one writer, `run` starts at most 1."""
TICKS = os.sysconf("SC_CLK_TCK")
QUIET_SECONDS, QUIET_CPU_SHARE = 1.0, 0.05
"""Idle: under 5 % of a core over a second."""
BOT_TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret"
COVERWATCH = str(Path(sys.executable).with_name("coverwatch"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError(f"server on port {port} never became healthy")


def peak_rss_mb(pid: int) -> float:
    """The process's high-water RSS (`VmHWM`), read before it exits."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def loadgen(
    mode: str, port: int, responses: str, first: int, **options: float | str
) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.loadgen", mode,
        "--url", f"http://127.0.0.1:{port}/slack/events",
        "--secret", SIGNING_SECRET, "--responses", responses,
        "--users", str(USERS), "--first", str(first),
    ]  # fmt: skip
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"load generator failed: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU of a process and its living descendants (`/proc`, fields 14 and 15)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / TICKS
        if not children:
            return total
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def wait_quiet(pid: int, timeout: float = 60.0) -> None:
    """Until the server and its processes idle (the handler workers and the slow lane import
    everything when they start, after /healthz already answers), at most `timeout` s: the CPU
    per answer is then the answers' own, not the start-up's."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(QUIET_SECONDS)
        now = cpu_seconds(pid)
        if now - before < QUIET_CPU_SHARE * QUIET_SECONDS:
            return
        before = now


def db_cpu(url: str) -> dict[int, float]:
    """CPU seconds (user + system) of each PostgreSQL backend connected to the database at
    `url`, by pid (read from `/proc`: the server runs on this machine); {} for SQLite."""
    if not url.startswith("postgresql"):
        return {}
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        pids = [
            int(pid)
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    return {pid: cpu_seconds(pid, children=False) for pid in pids}


def db_cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """The backends' CPU between two `db_cpu` readings (a backend that ended in between is not
    counted: the result says how many did, `db_backends_ended`)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def answers_owed(result: dict[str, Any]) -> int:
    """The commands of a load generator run that get an answer at the fake's response_url:
    those acked, except those whose ack said "busy"."""
    return int(result["ok"]) - int(result["busy_acks"])


def wait_outbox(url: str, timeout: float = 180.0) -> float:
    """Until the alert deliveries the server queued when it started (its catch-up scan) are
    sent, at most `timeout` s; the seconds waited. The dispatcher sends them at the platform's
    rate for a minute or more: measured beside the commands, their CPU was counted as the
    answers' (docs/PERFORMANCE.md, session 6)."""
    from sqlalchemy import func, select

    from handlers.context import utc_now
    from storage.db import make_engine
    from storage.models import Delivery

    engine = make_engine(url)
    table = Delivery.__table__  # type: ignore[attr-defined]
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            unsent = select(func.count()).where(  # being sent, or due
                table.c.state.in_(("pending", "sending")),
                (table.c.state == "sending") | (table.c.next_attempt_at <= utc_now()),
            )
            with engine.connect() as connection:
                if not connection.execute(unsent).scalar_one():
                    break
            time.sleep(0.5)
    finally:
        engine.dispose()
    return time.monotonic() - started


def answer_p(fake: Any, scheduled: dict[str, float], share: float) -> float:
    """Percentile of answer times (ms) from each request's scheduled send to its answer."""
    times = sorted(
        (fake.response_at[key] - sent) * 1000
        for key, sent in scheduled.items()
        if key in fake.response_at
    )
    return times[min(len(times) - 1, int(share * len(times)))] if times else 0.0


def wait_replies(fake: Any, expected: int, timeout: float) -> float:
    """Seconds until the fake has received `expected` response_url posts (or the timeout)."""
    started = time.monotonic()
    while len(fake.responses) < expected and time.monotonic() - started < timeout:
        time.sleep(0.05)
    return time.monotonic() - started


def seed(engine: Any) -> None:
    from bench.data import DUES_PERIOD, NOW, seed_company
    from core.policy_loader import load_policies
    from storage.accounts import account_policies
    from storage.db import session_scope
    from storage.ledger import run_dues

    seed_company(engine, USERS)
    with session_scope(engine) as session:
        run_dues(session, DUES_PERIOD, account_policies(session, load_policies()), now=NOW)


def start(
    kind: str, port: int, api_url: str, url: str, workdir: Path, *, config: str = ""
) -> subprocess.Popen[bytes]:
    """One side's server; `config`: more TOML for coverwatch's config file."""
    env = {
        **os.environ,
        "COVERWATCH_SLACK__BOT_TOKEN": BOT_TOKEN,
        "COVERWATCH_SLACK__SIGNING_SECRET": SIGNING_SECRET,
    }
    if kind == "baseline":
        command = [sys.executable, "-m", "bench.bolt_baseline", str(port), api_url]
    else:
        path = workdir / f"chat_{port}.toml"
        path.write_text(
            f'[database]\nurl = "{url}"\n[http]\nhost = "127.0.0.1"\nport = {port}\n'
            '[alerts]\nquiet_hours = ""\n'
            f'[slack]\nenabled = true\nmode = "http"\napi_base_url = "{api_url}"\n{config}'
        )
        command = [COVERWATCH, "--config", str(path), "run"]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def stop(server: subprocess.Popen[bytes]) -> str:
    """SIGTERM (killed after 30 s); what the server wrote to stderr."""
    server.send_signal(signal.SIGTERM)
    try:
        _, errors = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        _, errors = server.communicate()
    return errors.decode()


def side(
    kind: str, url: str, workdir: str, rate_seconds: float, max_seconds: float, workers: int = 0
) -> dict[str, Any]:
    """One server under load: warm up, a fixed-rate phase, then flat out."""
    from tests.fakes.slack import FakeSlack

    port = free_port()
    config = f"[chat]\nworkers = {workers}\n"
    with FakeSlack(bot_token=BOT_TOKEN) as fake:
        server = start(kind, port, fake.api_url, url, Path(workdir), config=config)
        try:
            wait_healthy(port, server)
            responses = fake.response_url("")
            expect_replies = kind == "coverwatch"
            warm = loadgen("rate", port, responses, 0, rate=20, seconds=2)
            sent = answers_owed(warm)
            wait_replies(fake, sent if expect_replies else 0, 30)
            outbox_wait = wait_outbox(url) if kind == "coverwatch" else 0.0
            wait_quiet(server.pid)
            count = int(RATE * rate_seconds)
            plan = json.dumps([["coverage", n % USERS] for n in range(count)])
            cpu_before, db_before = cpu_seconds(server.pid), db_cpu(url)
            serving_before = cpu_seconds(server.pid, children=False)
            rate = loadgen("burst", port, responses, 100_000, plan=plan, seconds=rate_seconds)
            sent += answers_owed(rate)
            wait_replies(fake, sent if expect_replies else 0, 60)
            cpu = cpu_seconds(server.pid) - cpu_before
            serving = cpu_seconds(server.pid, children=False) - serving_before
            db_after = db_cpu(url)
            flat = loadgen("max", port, responses, 200_000, seconds=max_seconds, concurrency=16)
            sent += answers_owed(flat)
            drain = wait_replies(fake, sent if expect_replies else 0, 120)
            rss = peak_rss_mb(server.pid)
        finally:
            errors = stop(server)
        replies = len(fake.responses)
        busy = busy_texts()
        said_busy = {key for key, body in fake.responses if body.get("text") in busy}
        flat_times = [
            at
            for key, at in fake.response_at.items()
            if int(key[1:]) >= 200_000 and key not in said_busy
        ]
        answered_rps = (
            len(flat_times) / (max(flat_times) - min(flat_times)) if len(flat_times) > 1 else 0.0
        )
        answer_p50 = answer_p(fake, rate["scheduled"], 0.50)
        answer_p99 = answer_p(fake, rate["scheduled"], 0.99)
        rate_answers = sum(
            1 for key in rate["scheduled"] if key in fake.response_at and key not in said_busy
        )
        busy_at_rate = sum(1 for key in rate["scheduled"] if key in said_busy)
    error_lines = [line for line in errors.splitlines() if " ERROR " in line]
    del rate["scheduled"]
    return {
        "seconds": flat["seconds"],
        "peak_rss_mb": rss,
        "workers": workers,
        "throughput_rps": flat["rps"],
        "answered_rps": answered_rps,
        "answer_p50_ms": answer_p50,
        "answer_p99_ms": answer_p99,
        "cpu_ms_per_answer": 1000 * cpu / max(rate_answers, 1),
        "serving_cpu_ms_per_answer": 1000 * serving / max(rate_answers, 1),
        "cpu_ms_per_ack": 1000 * cpu / max(rate["ok"], 1),
        "db_cpu_ms_per_answer": 1000 * db_cpu_used(db_before, db_after) / max(rate_answers, 1),
        "db_backends": len(db_after),
        "db_backends_ended": len(set(db_before) - set(db_after)),
        "busy_answers": len(said_busy),
        "busy_answers_at_rate": busy_at_rate,
        "busy_acks": flat["busy_acks"] + rate["busy_acks"],
        "busy_acks_at_rate": rate["busy_acks"],
        "outbox_wait_seconds": outbox_wait,
        "at_rate": rate,
        "flat_out": flat,
        "answers_owed": sent,
        "replies": replies,
        "reply_drain_seconds": drain,
        "errors_logged": len(error_lines),
    }


def run(ctx: Context) -> Outcome:
    rate_seconds, max_seconds = (6.0, 4.0) if ctx.small else (20.0, 10.0)
    template = ctx.db.template(f"chat_{USERS}", seed)
    common = {"workdir": str(ctx.workdir), "rate_seconds": rate_seconds, "max_seconds": max_seconds}
    sides = {
        workers: run_side(
            "bench.chat_http:side",
            kind="coverwatch",
            url=ctx.db.copy(template, f"chat_cw{workers}"),
            workers=workers,
            **common,
        )
        for workers in WORKERS
    }
    baseline = run_side("bench.chat_http:side", kind="baseline", url="", **common)
    base = baseline.extra
    best = max(sides.values(), key=lambda side: float(side.extra["answered_rps"]))
    cw = best.extra
    ratio = cw["answered_rps"] / base["throughput_rps"]
    lost = {w: side.extra["answers_owed"] - side.extra["replies"] for w, side in sides.items()}
    p99 = max(side.extra["answer_p99_ms"] for side in sides.values())
    cpu = max(side.extra["cpu_ms_per_answer"] for side in sides.values())
    checks: dict[str, Any] = {
        "baseline_acks_rps": round(base["throughput_rps"], 1),
        # What the stack alone costs here at the same rate: the CPU goal is absolute (issue
        # 18), and machines differ (docs/PERFORMANCE.md, session 10).
        "baseline_cpu_ms_per_ack_at_50rps": round(base["cpu_ms_per_ack"], 2),
    }
    for workers, side in sides.items():
        extra = side.extra
        checks[f"workers_{workers}"] = {
            "answered_rps": round(extra["answered_rps"], 1),
            "answered_vs_baseline_acks": round(extra["answered_rps"] / base["throughput_rps"], 2),
            "acks_rps_flat_out": round(extra["throughput_rps"], 1),
            "ack_p99_ms_at_50rps": round(extra["at_rate"]["p99_ms"], 1),
            "answer_p50_ms_at_50rps": round(extra["answer_p50_ms"], 1),
            "answer_p99_ms_at_50rps": round(extra["answer_p99_ms"], 1),
            "server_cpu_ms_per_answer": round(extra["cpu_ms_per_answer"], 2),
            # Of it, the serving process's own (the rest: its worker processes).
            "serving_cpu_ms_per_answer": round(extra["serving_cpu_ms_per_answer"], 2),
            **(
                {
                    "db_cpu_ms_per_answer": round(extra["db_cpu_ms_per_answer"], 2),
                    "db_backends": extra["db_backends"],
                    "db_backends_ended": extra["db_backends_ended"],
                }
                if ctx.db.backend == "postgres"
                else {}
            ),
            "busy_answers": extra["busy_answers"],
            "busy_acks": extra["busy_acks"],
            "backlog_drain_s": round(extra["reply_drain_seconds"], 1),
            "replies_missing": lost[workers],
            "errors_logged": extra["errors_logged"],
        }
    return Outcome(
        name="chat_http",
        backend=ctx.db.backend,
        rows=cw["answers_owed"],
        goal=(
            f"answered/s >= {THROUGHPUT_GOAL:.0%} of baseline acks/s, "
            f"answer p99 < {P99_GOAL_MS:g} ms at 50/s, "
            f"server CPU per answered command <= {CPU_GOAL_MS:g} ms at every worker count"
        ),
        ratio_label="answered/s vs baseline acks/s (best worker count)",
        ratio=ratio,
        met=(
            ratio >= THROUGHPUT_GOAL
            and p99 < P99_GOAL_MS
            and cpu <= CPU_GOAL_MS
            and not any(lost.values())
        ),
        coverwatch=best,
        baseline=baseline,
        checks=checks,
    )
