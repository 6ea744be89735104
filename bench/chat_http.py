"""`chat_http`: signed Slack slash commands over real HTTP into a running server.

Coverwatch: `coverwatch run` (Slack enabled, HTTP mode, its Web API pointed at the loopback fake
Slack of tests/fakes/slack.py), answering `/coverwatch coverage` for 200 employees; every
answer goes back through the fake's response_url and is counted.
Baseline, the limit: a bare slack-bolt app on the same stack whose handler only acks.
The load generator is a separate process (bench/loadgen.py): first 50 requests/s for a fixed
time (latency), then flat out with 16 connections (throughput). Peak RSS is the server's.
Goal: >= 70 % of the baseline's throughput, p99 < 100 ms at 50 requests/s.
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

USERS = 200
THROUGHPUT_GOAL = 0.70
P99_GOAL_MS = 100.0
RATE = 50.0
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
    kind: str, url: str, workdir: str, rate_seconds: float, max_seconds: float
) -> dict[str, Any]:
    """One server under load: warm up, a fixed-rate phase, then flat out."""
    from tests.fakes.slack import FakeSlack

    port = free_port()
    with FakeSlack(bot_token=BOT_TOKEN) as fake:
        server = start(kind, port, fake.api_url, url, Path(workdir))
        try:
            wait_healthy(port, server)
            responses = fake.response_url("")
            expect_replies = kind == "coverwatch"
            warm = loadgen("rate", port, responses, 0, rate=20, seconds=2)
            sent = warm["ok"]
            wait_replies(fake, sent if expect_replies else 0, 30)
            rate = loadgen("rate", port, responses, 100_000, rate=RATE, seconds=rate_seconds)
            sent += rate["ok"]
            wait_replies(fake, sent if expect_replies else 0, 60)
            flat = loadgen("max", port, responses, 200_000, seconds=max_seconds, concurrency=16)
            sent += flat["ok"]
            drain = wait_replies(fake, sent if expect_replies else 0, 120)
            rss = peak_rss_mb(server.pid)
        finally:
            errors = stop(server)
        replies = len(fake.responses)
    error_lines = [line for line in errors.splitlines() if " ERROR " in line]
    return {
        "seconds": flat["seconds"],
        "peak_rss_mb": rss,
        "throughput_rps": flat["rps"],
        "at_rate": rate,
        "flat_out": flat,
        "requests_ok": sent,
        "replies": replies,
        "reply_drain_seconds": drain,
        "errors_logged": len(error_lines),
    }


def run(ctx: Context) -> Outcome:
    rate_seconds, max_seconds = (6.0, 4.0) if ctx.small else (20.0, 10.0)
    template = ctx.db.template(f"chat_{USERS}", seed)
    common = {"workdir": str(ctx.workdir), "rate_seconds": rate_seconds, "max_seconds": max_seconds}
    coverwatch = run_side(
        "bench.chat_http:side", kind="coverwatch", url=ctx.db.copy(template, "chat_cw"), **common
    )
    baseline = run_side("bench.chat_http:side", kind="baseline", url="", **common)
    cw, base = coverwatch.extra, baseline.extra
    ratio = cw["throughput_rps"] / base["throughput_rps"]
    p99 = cw["at_rate"]["p99_ms"]
    lost = cw["requests_ok"] - cw["replies"]
    return Outcome(
        name="chat_http",
        backend=ctx.db.backend,
        rows=cw["requests_ok"],
        goal=f">= {THROUGHPUT_GOAL:.0%} of baseline throughput, p99 < {P99_GOAL_MS:g} ms at 50/s",
        ratio_label="throughput vs baseline",
        ratio=ratio,
        met=ratio >= THROUGHPUT_GOAL and p99 < P99_GOAL_MS and lost == 0,
        coverwatch=coverwatch,
        baseline=baseline,
        checks={
            "coverwatch_rps": round(cw["throughput_rps"], 1),
            "baseline_rps": round(base["throughput_rps"], 1),
            "p99_ms_at_50rps": round(p99, 1),
            "baseline_p99_ms_at_50rps": round(base["at_rate"]["p99_ms"], 1),
            "replies_missing": lost,
            "reply_drain_s": round(cw["reply_drain_seconds"], 1),
            "errors_logged": cw["errors_logged"],
        },
    )
